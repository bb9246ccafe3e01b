// The shared training loop; see trainer.h.
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <tuple>

#include "autograd/ops.h"
#include "autograd/profile.h"
#include "core/allocator.h"
#include "core/atomic_file.h"
#include "core/h5.h"
#include "core/parallel.h"
#include "nn/dapa_sites.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "train/cli.h"
#include "train/comm.h"
#include "train/data_parallel.h"
#include "train/micro_batches.h"
#include "train/profile_report.h"
#include "train/run_log.h"

namespace dapa {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

void add_run_flags(CLI::App& app, RunOptions& o) {
  app.add_option("--data", o.data, "data file (" + o.data_maker + " makes one)");
  app.add_option("--threads", o.threads, "threads (0: DAPA_NUM_THREADS or all cores)")
      ->check(cli::non_negative());
  app.add_flag("--fixed-threads", o.fixed_threads,
               "always use --threads threads (default: drop to one thread while another "
               "process takes a core and that is faster; results are the same bits)");
  app.add_option("--out", o.out, "output directory")->capture_default_str();
  app.add_flag("--resume", o.resume, "continue the run in --out from its checkpoint");
  app.add_flag("--eval-only", o.eval_only,
               "evaluate --checkpoint on the held-out splits (as JSON) and exit");
  app.add_option("--checkpoint", o.checkpoint, "checkpoint file (default: OUT/checkpoint.h5)");
  app.add_option("--predictions", o.predictions,
                 "with --eval-only: write each held-out example's arg-max prediction, one per "
                 "line");
  app.add_flag("--preload", o.preload,
               "read the whole data set into memory (default: stream each batch from the file)");
  app.add_flag("--force", o.force, "start a fresh run even if --out holds one");
  app.add_option("--log-every", o.log_every, "log a metrics row every N steps")
      ->check(cli::positive())
      ->capture_default_str();
  app.add_option("--eval-batch", o.eval_batch, "batch size for evaluation (0: --batch)")
      ->check(cli::non_negative());
  app.add_option("--eval-every", o.eval_every,
                 "also evaluate every N steps (0: at epoch ends and at the end only)")
      ->check(cli::non_negative());
  app.add_option("--checkpoint-every", o.checkpoint_every,
                 "also checkpoint every N steps (0: at epoch ends only)")
      ->check(cli::non_negative());
  app.add_option("--benchmark-steps", o.benchmark_steps,
                 "time N training steps after warm-up, print examples/s as JSON, write nothing")
      ->check(cli::non_negative());
  app.add_flag("--profile", o.profile,
               "with --benchmark-steps: print where the timed steps' time goes, op by op, against "
               "the sgemm peak and the memory bandwidth");
  app.add_option("--dapa-table", o.dapa_table,
                 "DAPA tables for --act dapa:N (dapa_fit or a run's dapa_tables.h5); without it, "
                 "fresh runs calibrate on their first batches");
  app.add_option("--dapa-calib-batches", o.dapa_calib_batches,
                 "training batches to calibrate DAPA on at initialisation")
      ->check(cli::positive())
      ->capture_default_str();
  app.add_option("--stop-after", o.stop_after,
                 "checkpoint and stop once this step is reached, as if interrupted (0: never)")
      ->check(cli::non_negative());
  app.add_option("--allreduce", o.allreduce,
                 "data-parallel runs (mpirun -np K): exact sums every part's gradient in order, "
                 "the same bits as one process with --micro-batches K; native sums with "
                 "MPI_Allreduce, less memory and traffic, not the same bits")
      ->capture_default_str();
  app.add_option("--mpi-timeout", o.mpi_timeout,
                 "data-parallel runs: the longest wait for the other ranks, in seconds")
      ->check(cli::positive())
      ->capture_default_str();
  app.add_option("--bucket-mb", o.bucket_mb,
                 "data-parallel runs, exact mode: send the gradients during backward in "
                 "messages of about this many MB per rank")
      ->check(cli::positive())
      ->capture_default_str();
  app.add_option("--check-every", o.check_every,
                 "data-parallel runs: compare the ranks' parameter hashes every N steps (0: never)")
      ->check(cli::non_negative())
      ->capture_default_str();
}

std::string run_problem(const RunOptions& o, const Recipe& r, const CLI::App& app) {
  if (o.data.empty()) return "--data is required (a data file made by " + o.data_maker + ")";
  if (o.resume && o.eval_only) return "--resume and --eval-only exclude each other";
  if (!o.predictions.empty() && !o.eval_only) return "--predictions needs --eval-only";
  if (o.profile && o.benchmark_steps == 0) return "--profile needs --benchmark-steps";
  try {
    parse_allreduce(o.allreduce);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  if (comm::size() == 1) {
    for (const char* flag : {"--allreduce", "--mpi-timeout", "--check-every", "--bucket-mb"})
      if (app.count(flag))
        return std::string(flag) + " applies to data-parallel runs (mpirun -np K " + o.program +
               " ...)";
  } else if (o.eval_only) {
    return "--eval-only runs on one process, not under mpirun -np " + std::to_string(comm::size());
  }
  // Flags that would be silently ignored are refused instead.
  for (const char* flag : {"--stop-after", "--checkpoint-every", "--eval-every", "--resume"})
    if (app.count(flag) && (o.eval_only || o.benchmark_steps > 0))
      return std::string(flag) + " does not apply to " +
             (o.eval_only ? "--eval-only" : "--benchmark-steps");
  if (o.threads > max_threads())
    return "--threads: expected 0 to " + std::to_string(max_threads()) +
           " (the CPUs this process may use), got " + std::to_string(o.threads);
  if (std::string problem = recipe_problem(r); !problem.empty()) {
    std::replace(problem.begin(), problem.begin() + problem.find(':'), '_', '-');
    return "--" + problem;
  }
  return "";
}

CheckpointMeta prepare_run(RunOptions& o, Recipe& r, const CLI::App& app) {
  if (o.checkpoint.empty()) o.checkpoint = (fs::path(o.out) / "checkpoint.h5").string();
  CheckpointMeta meta;
  if (!o.resume && !o.eval_only) {
    if (app.count("--checkpoint") && !o.force && o.benchmark_steps == 0 && fs::exists(o.checkpoint))
      throw std::invalid_argument(
          "--checkpoint: " + o.checkpoint +
          " already exists and a fresh run would replace it (use --resume to continue it, "
          "--eval-only to evaluate it, or --force to start over)");
    return meta;
  }
  if (!fs::exists(o.checkpoint))
    throw std::invalid_argument("--checkpoint: " + o.checkpoint + " does not exist (nothing to " +
                                (o.resume ? "resume" : "evaluate") + ")");
  meta = read_checkpoint_meta(o.checkpoint);
  json saved = json::parse(meta.config, nullptr, false);
  if (saved.is_discarded())
    throw std::invalid_argument(o.checkpoint + ": config attribute is not valid JSON");
  r = restore_recipe(r, saved.contains("recipe") ? saved["recipe"] : saved, app, o.resume,
                     o.checkpoint);
  // Logging and evaluation continue as the interrupted run did, unless asked otherwise.
  // (A saved value below the flag's lowest is ignored.)
  for (auto [key, flag, value, lowest] :
       {std::tuple{"log_every", "--log-every", &o.log_every, int64_t{1}},
        std::tuple{"eval_every", "--eval-every", &o.eval_every, int64_t{0}}})
    if (o.resume && !app.count(flag) && saved.contains(key) && saved[key].is_number_integer() &&
        saved[key].get<int64_t>() >= lowest)
      *value = saved[key].get<int64_t>();
  return meta;
}

namespace {

std::unique_ptr<Optimizer> make_optimizer(const Recipe& r, Module& model) {
  if (r.optimizer == "adamw") return std::make_unique<AdamW>(param_groups(model), r.wd);
  if (r.optimizer == "sgd")
    return std::make_unique<Sgd>(param_groups(model), static_cast<float>(r.momentum), r.wd);
  throw std::invalid_argument("--optimizer: unknown '" + r.optimizer + "' (expected adamw or sgd)");
}

void write_json(const std::string& path, const json& j) {
  write_text_atomically(path, j.dump(2) + "\n");
}

// "test loss 0.4123, test accuracy 85.10%": the values by name, accuracies in percent.
std::string describe(const Evaluation& e) {
  std::string text;
  for (const auto& [name, value] : e.values) {
    std::string words = name;
    std::replace(words.begin(), words.end(), '_', ' ');
    bool percent = words.size() > 8 && words.compare(words.size() - 8, 8, "accuracy") == 0;
    char number[32];
    std::snprintf(number, sizeof number, percent ? "%.2f%%" : "%.4f",
                  percent ? 100 * value : value);
    text += (text.empty() ? "" : ", ") + words + " " + number;
  }
  return text;
}

// One run's state, from the checkpoint load to the summary.
class TrainingRun {
 public:
  TrainingRun(Task& task, RunOptions& o, const Recipe& r, const CheckpointMeta& meta, Rng& rng)
      : task_(task),
        o_(o),
        r_(r),
        meta_(meta),
        rng_(rng),
        model_(task.model()),
        opt_(make_optimizer(r, model_)),
        sites_(table_sites(model_)),
        threads_(num_threads()),
        governor_(threads_),
        allreduce_(parse_allreduce(o.allreduce)) {}

  int run();

 private:
  void load_checkpoint_and_tables();
  int evaluate_only();
  int benchmark();
  int train();
  float step(int64_t step, double lr, int64_t examples);
  void after_step(int64_t done, int64_t epoch, float loss, double lr);
  int diverged(float loss, int64_t step, int64_t epoch);
  void save(int64_t step);
  void write_outputs();
  int finish();
  void start_outputs();
  double elapsed() const {
    return (metrics_ ? metrics_->resumed_elapsed() : 0.0) +
           std::chrono::duration<double>(Clock::now() - t_start_).count();
  }

  Task& task_;
  RunOptions& o_;
  const Recipe& r_;
  CheckpointMeta meta_;
  Rng& rng_;
  Module& model_;
  std::unique_ptr<Optimizer> opt_;
  Sites sites_;
  const int threads_;  // as asked; the governor may run fewer (--fixed-threads: never)
  ThreadGovernor governor_;
  Allreduce allreduce_;
  const bool writer_ = comm::rank() == 0;  // rank 0 alone writes files and progress
  std::string calibration_;
  // Training only.
  int64_t bpe_ = 0, total_ = 0, start_ = 0, last_saved_ = 0, last_batch_ = 0;
  std::unique_ptr<WarmupCosine> schedule_;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<Progress> progress_;
  json config_;
  bool outputs_written_ = false;
  Clock::time_point t_start_;
  double train_seconds_ = 0, window_seconds_ = 0;  // time in training steps only
  int64_t window_examples_ = 0, examples_done_ = 0;
  Evaluation last_eval_;
};

int TrainingRun::run() {
  load_checkpoint_and_tables();
  if (o_.eval_batch == 0) o_.eval_batch = r_.batch;
  if (o_.eval_only) return evaluate_only();
  bpe_ = task_.batches_per_epoch();
  total_ = r_.steps > 0 ? std::min(r_.epochs * bpe_, r_.steps) : r_.epochs * bpe_;
  schedule_ = std::make_unique<WarmupCosine>(
      WarmupCosine{r_.lr, r_.min_lr, std::min(r_.warmup, total_), total_});
  if (o_.benchmark_steps > 0) return benchmark();
  return train();
}

// DAPA sites take their tables from --dapa-table, from the checkpoint being resumed or
// evaluated (it carries them under /dapa), or are calibrated now on the first batches.
void TrainingRun::load_checkpoint_and_tables() {
  bool needs_tables = false;
  comm::agree([&] {
    bool from_checkpoint = o_.resume || o_.eval_only;
    if (from_checkpoint) {
      meta_ = load_checkpoint(o_.checkpoint, model_, o_.resume ? opt_.get() : nullptr);
      rng_.set_state(meta_.rng);
    }
    needs_tables =
        !load_site_tables(sites_, r_, o_.dapa_table, from_checkpoint ? o_.checkpoint : "");
  });
  if (needs_tables) {
    // In the recipe's parts, as training steps record for refits: one process with
    // --micro-batches K and K processes pool the same recordings.
    int64_t batches = std::min(o_.dapa_calib_batches, task_.batches_per_epoch());
    std::vector<std::vector<Distribution>> records;
    auto run_batch = [&](int64_t b) {
      int64_t n = task_.load_batch(0, b);
      record_batch_parts(task_, sites_, r_.micro_batches, records);
      return n;
    };
    auto pool = [&] { pool_batch_parts(sites_, records, batches, r_.micro_batches); };
    calibration_ = calibrate_sites(sites_, run_batch, batches, r_.dapa_shared,
                                   "training " + task_.unit(), QuantizeOptions().bound, pool);
  }
  // Every rank starts from rank 0's parameters (they agree already when every rank read
  // the same seed or checkpoint: this makes sure).
  broadcast_parameters(opt_->groups());
}

int TrainingRun::evaluate_only() {
  json result = {{"checkpoint", o_.checkpoint}};
  std::string lines;
  for (const Evaluation& e : task_.evaluate_all(o_.eval_batch)) {
    for (const auto& [name, value] : e.values) result[name] = value;
    result[e.split + "_" + task_.unit()] = e.predicted.size();
    // One prediction per line: comparing two files counts the examples on which an
    // approximation changes the model's decision (experiments/dapa_experiments.py).
    for (int32_t c : e.predicted) lines += std::to_string(c) + "\n";
  }
  if (!o_.predictions.empty()) write_text_atomically(o_.predictions, lines);
  std::printf("%s\n", result.dump().c_str());
  return 0;
}

// One optimisation step on the loaded batch of `examples` examples (in the recipe's
// micro-batches; one is the whole batch), the thread governor around it; returns the
// loss (NaN/Inf is the caller's to handle).
float TrainingRun::step(int64_t step, double lr, int64_t examples) {
  // --dapa-refit-every: this step's forward also records, then the tables are refitted.
  bool refit = r_.dapa_refit_every > 0 && step > 0 && step % r_.dapa_refit_every == 0;
  if (refit)
    for (auto& [name, site] : sites_) site->start_recording();
  if (!o_.fixed_threads) governor_.begin_step();
  const float value =
      micro_batch_backward(task_, *opt_, sites_, r_.micro_batches, examples, allreduce_,
                           static_cast<int64_t>(o_.bucket_mb * (1 << 20) / sizeof(float)));
  if (std::isfinite(value)) {
    ProfileScope scope("optimizer");
    if (r_.clip > 0) opt_->clip_grad_norm(r_.clip);
    opt_->step(static_cast<float>(lr));
  }
  if (!o_.fixed_threads) governor_.end_step();
  if (refit) fit_sites(sites_, r_.dapa_shared);
  return value;
}

int TrainingRun::benchmark() {  // throughput only: nothing is written
  Clock::time_point t0;
  double examples = 0, exchange0 = 0;
  for (int64_t s = 0; s < o_.benchmark_warmup + o_.benchmark_steps; ++s) {
    if (s == o_.benchmark_warmup) {
      t0 = Clock::now();
      set_profiling(o_.profile);
      reset_op_profile();
      exchange0 = exchange_seconds();
    }
    int64_t n;
    {
      ProfileScope scope("load batch");
      n = task_.load_batch(0, s % bpe_);
    }
    step(s, schedule_->at(s), n);
    if (s >= o_.benchmark_warmup) examples += static_cast<double>(n);
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  // Per rank: the largest peak of any rank.
  ByteWriter rss;
  rss.put(peak_rss_bytes());
  double peak_rss = 0;
  for (const std::vector<char>& b : comm::allgather(rss.bytes, "the peak memory"))
    peak_rss = std::max(peak_rss,
                        static_cast<double>(ByteReader(b, "a rank's peak memory").get<int64_t>()));
  if (!writer_) return 0;
  const std::string result = json{
      {"impl", "dapa-cpp"},
      {"model", r_.model},
      {"act", r_.act},
      {"softmax", r_.softmax},
      {"batch", r_.batch},
      {"threads", num_threads()},
      {"ranks", comm::size()},
      {"allreduce", o_.allreduce},
      {"thread_switches", governor_.switches()},
      {"steps", o_.benchmark_steps},
      {task_.unit() + "_per_s", examples / secs},
      {"step_ms", 1e3 * secs / o_.benchmark_steps},
      {"exchange_ms", 1e3 * (exchange_seconds() - exchange0) / o_.benchmark_steps},
      {"peak_rss_mb", peak_rss / 1048576.0},
      {"peak_tensor_mb",
       allocator_stats().peak_live_bytes /
           1048576.0}}.dump();
  if (o_.profile) {  // after the peak memory is taken: the ceilings' buffers are large
    set_profiling(false);
    std::printf("%s\n",
                profile_table(op_profile(), o_.benchmark_steps, secs, measure_ceilings()).c_str());
  }
  std::printf("%s\n", result.c_str());  // last: the comparison scripts read the last line
  return 0;
}

// Rank 0's files: the run directory, config.json's content, metrics.csv and progress.
void TrainingRun::start_outputs() {
  // A fresh run must not overwrite another run's outputs by accident.
  fs::path out(o_.out);
  std::string metrics_path = (out / "metrics.csv").string();
  if (!o_.resume && !o_.force && (fs::exists(out / "checkpoint.h5") || fs::exists(metrics_path)))
    throw std::invalid_argument("--out: " + o_.out +
                                " already holds a run (use --resume to continue it, or --force "
                                "to start over)");
  fs::create_directories(out);
  config_ = {{"recipe", r_},
             {"data", o_.data},
             {"threads", num_threads()},
             {"model_config", task_.model_config()},
             {"parameters", model_.parameter_count()},
             {"log_every", o_.log_every},
             {"eval_every", o_.eval_every}};
  metrics_ = std::make_unique<MetricsLog>(metrics_path, o_.resume ? meta_.step : -1, task_.unit(),
                                          task_.evaluation_names());
  progress_ = std::make_unique<Progress>(total_, o_.log_every, task_.unit());
}

int TrainingRun::train() {
  comm::agree([&] {
    if (writer_) start_outputs();
  });
  start_ = last_saved_ = o_.resume ? meta_.step : 0;
  if (progress_) {
    progress_->message(
        o_.program + ": " + r_.model + " (" + std::to_string(model_.parameter_count()) +
        " parameters), act " + nonlinearities(r_) + ", " + std::to_string(task_.train_examples()) +
        " training " + task_.unit() + ", batch " + std::to_string(r_.batch) + ", " +
        std::to_string(total_) + " steps, " + std::to_string(num_threads()) + " threads" +
        (comm::size() > 1 ? " on each of " + std::to_string(comm::size()) + " processes" : "") +
        (o_.resume ? ", resuming at step " + std::to_string(start_) : ""));
    if (!calibration_.empty()) progress_->message(o_.program + ": " + calibration_);
  }
  t_start_ = Clock::now();
  for (int64_t s = start_; s < total_; ++s) {
    int64_t epoch = s / bpe_;
    int64_t n = task_.load_batch(epoch, s % bpe_);
    // A batch of another size (an epoch's last) needs blocks of other sizes: give the
    // cached ones back rather than hold both sets.
    if (n != last_batch_) release_cached_memory();
    last_batch_ = n;
    double lr = schedule_->at(s);
    Clock::time_point t0 = Clock::now();
    float loss = step(s, lr, n);
    double step_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    train_seconds_ += step_seconds, window_seconds_ += step_seconds;
    if (!std::isfinite(loss)) return diverged(loss, s + 1, epoch);
    write_outputs();
    window_examples_ += n, examples_done_ += n;
    int64_t done = s + 1;
    if (o_.check_every > 0 && done % o_.check_every == 0)
      check_replicas_agree(opt_->groups(), done);
    after_step(done, epoch, loss, lr);
    if (o_.stop_after > 0 && done == o_.stop_after && done < total_) {
      if (!writer_) return 0;
      progress_->finish();
      std::printf("%s: stopped at step %lld of %lld as asked; --resume continues from %s\n",
                  o_.program.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
                  o_.checkpoint.c_str());
      return 0;
    }
  }
  return finish();
}

// A NaN or infinite loss: training stops with the last good checkpoint in place.
int TrainingRun::diverged(float loss, int64_t step, int64_t epoch) {
  if (!writer_) return 3;  // every rank saw the same loss; rank 0 says so
  progress_->finish();
  std::fprintf(stderr,
               "%s: the loss became %s at step %lld (epoch %lld); stopping. The last good "
               "checkpoint, %s, is from step %lld.\n",
               o_.program.c_str(), std::isnan(loss) ? "NaN" : "infinite",
               static_cast<long long>(step), static_cast<long long>(epoch), o_.checkpoint.c_str(),
               static_cast<long long>(last_saved_));
  return 3;
}

// Logging, the epoch's evaluation and checkpoints after a successful step. In a
// data-parallel run every rank evaluates too (rank 0 alone logs): the others would wait
// idle meanwhile, and a long evaluation on a slow board would outlast --mpi-timeout.
void TrainingRun::after_step(int64_t done, int64_t epoch, float loss, double lr) {
  double ips = window_seconds_ > 0 ? window_examples_ / window_seconds_ : 0.0;
  const double seconds = elapsed();  // one reading for the progress line and both rows
  if (writer_) progress_->update(done, epoch, loss, lr, ips, seconds, done - start_);
  if (done % o_.log_every == 0 || done == total_ || done % bpe_ == 0) {
    if (writer_) metrics_->train(done, epoch, loss, lr, ips, seconds);
    window_seconds_ = 0;
    window_examples_ = 0;
  }
  bool epoch_end = done % bpe_ == 0 || done == total_;
  if (epoch_end || (o_.eval_every > 0 && done % o_.eval_every == 0)) {
    // Evaluating at the training batch size reuses the cached blocks of the training
    // step; the last, smaller batch's blocks are given back first.
    release_cached_memory();
    last_eval_ = task_.evaluate(o_.eval_batch);
    if (!writer_) return;
    metrics_->evaluation(done, epoch, last_eval_.split, last_eval_.values, seconds);
    progress_->message("step " + std::to_string(done) + " (epoch " + std::to_string(epoch) +
                       "): " + describe(last_eval_));
  }
  bool stop_now = o_.stop_after > 0 && done == o_.stop_after && done < total_;
  if (!writer_) return;
  if (epoch_end || stop_now || (o_.checkpoint_every > 0 && done % o_.checkpoint_every == 0)) {
    save(done);
    last_saved_ = done;
  }
}

void TrainingRun::save(int64_t step) {
  CheckpointMeta m{step, step / bpe_, rng_.state(), r_.model, config_.dump()};
  if (sites_.empty()) return save_checkpoint(o_.checkpoint, model_, opt_.get(), m);
  std::vector<SiteTable> tables = site_tables(sites_, r_.dapa_shared);
  save_checkpoint(o_.checkpoint, model_, opt_.get(), m,
                  [&](H5Store& h5) { write_tables(h5, "dapa", tables); });
  if (r_.dapa_refit_every > 0) save_tables((fs::path(o_.out) / "dapa_tables.h5").string(), tables);
}

// Nothing in --out changes until a step has succeeded: a run that fails before (bad
// data, a NaN at once) leaves the files there as they were.
void TrainingRun::write_outputs() {
  if (outputs_written_ || !writer_) return;
  write_json((fs::path(o_.out) / "config.json").string(), config_);
  if (!sites_.empty())
    save_tables((fs::path(o_.out) / "dapa_tables.h5").string(),
                site_tables(sites_, r_.dapa_shared));
  outputs_written_ = true;
}

int TrainingRun::finish() {
  if (!writer_) return 0;
  progress_->finish();
  write_outputs();
  if (start_ >= total_) {
    std::printf("%s: %s already finished all %lld steps\n", o_.program.c_str(),
                o_.checkpoint.c_str(), static_cast<long long>(total_));
    last_eval_ = task_.evaluate(o_.eval_batch);
  }
  double total_seconds = std::chrono::duration<double>(Clock::now() - t_start_).count();
  json summary = {{"model", r_.model},
                  {"act", r_.act},
                  {"softmax", r_.softmax},
                  {"steps", total_},
                  {"epochs", static_cast<double>(total_) / bpe_},
                  {"total_seconds", total_seconds},
                  {"train_" + task_.unit() + "_per_s",
                   train_seconds_ > 0 ? examples_done_ / train_seconds_ : 0.0},
                  {"parameters", model_.parameter_count()},
                  {"peak_rss_mb", peak_rss_bytes() / 1048576.0},
                  {"threads", threads_},
                  {"processes", comm::size()},
                  {"thread_switches", governor_.switches()}};
  for (const auto& [name, value] : last_eval_.values) summary[name] = value;
  fs::path out(o_.out);
  write_json((out / "summary.json").string(), summary);
  std::string png = (out / "loss.png").string(), metrics_path = (out / "metrics.csv").string();
  const std::vector<std::string> names = task_.evaluation_names();
  bool accuracy =
      std::find(names.begin(), names.end(), last_eval_.split + "_accuracy") != names.end();
  bool plotted = plot_metrics(metrics_path, png, r_.model + " / " + nonlinearities(r_),
                              last_eval_.split, accuracy);
  std::printf("%s after %lld steps in %.0f s\n", describe(last_eval_).c_str(),
              static_cast<long long>(total_), total_seconds);
  std::printf("checkpoint: %s\nmetrics: %s%s%s\n", o_.checkpoint.c_str(), metrics_path.c_str(),
              plotted ? "\nloss curve: " : "", plotted ? png.c_str() : "");
  return 0;
}

}  // namespace

std::string nonlinearities(const Recipe& r) {
  return r.act + (r.softmax == "exact" ? "" : ", softmax " + r.softmax);
}

bool load_site_tables(Sites& sites, const Recipe& r, const std::string& dapa_table,
                      const std::string& checkpoint) {
  if (!dapa_table.empty() && sites.empty())
    throw std::invalid_argument("--dapa-table: neither the activation '" + r.act +
                                "' nor the softmax '" + r.softmax + "' uses a table (give --act " +
                                kTableActivationNames + ", or --softmax dapa:N or pwl:N)");
  bool needs_tables = false;
  for (auto& [name, site] : sites) needs_tables = needs_tables || site->calibrating();
  if (!needs_tables) return true;
  if (!dapa_table.empty()) {
    apply_site_tables(load_tables(dapa_table), dapa_table, sites);
    return true;
  }
  if (checkpoint.empty()) return false;
  H5Store ckpt(checkpoint, H5Store::Mode::Read);
  if (!ckpt.exists("dapa")) return false;
  apply_site_tables(read_tables(ckpt, "dapa", checkpoint), checkpoint, sites);
  return true;
}

int run_task(Task& task, RunOptions& o, const Recipe& r, const CheckpointMeta& meta, Rng& rng) {
  return TrainingRun(task, o, r, meta, rng).run();
}

}  // namespace dapa
