// train_vit: trains a Vision Transformer on an HDF5 image data set (prepare_data makes
// one), logs the loss curve, evaluates every epoch and checkpoints to HDF5. Also
// resumes an interrupted run bit for bit, evaluates a checkpoint (--eval-only), and
// times training steps (--benchmark-steps). Run with --help for every flag.
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>
#include "train/cli.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/allocator.h"
#include "core/h5.h"
#include "core/kernels.h"
#include "core/parallel.h"
#include "data/dataset.h"
#include "nn/checkpoint.h"
#include "nn/schedule.h"
#include "nn/table_activation.h"
#include "nn/vit.h"
#include "train/dapa_sites.h"
#include "train/run_log.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace dapa {
namespace {

// The training recipe: everything that must be the same to resume a run.
struct Recipe {
  std::string model = "vit-nano", act = "gelu", optimizer = "adamw";
  int64_t epochs = 5, steps = 0, batch = 128, warmup = 200, limit_train = 0, limit_test = 0;
  int64_t dapa_refit_every = 0;
  bool dapa_shared = false;  // refits must pool as the run began
  double lr = 1e-3, min_lr = 1e-5, wd = 0.05, momentum = 0.9, clip = 1.0;
  uint64_t seed = 0;
};

void to_json(json& j, const Recipe& r) {
  j = json{{"model", r.model},
           {"act", r.act},
           {"optimizer", r.optimizer},
           {"epochs", r.epochs},
           {"steps", r.steps},
           {"batch", r.batch},
           {"warmup", r.warmup},
           {"limit_train", r.limit_train},
           {"limit_test", r.limit_test},
           {"lr", r.lr},
           {"min_lr", r.min_lr},
           {"wd", r.wd},
           {"momentum", r.momentum},
           {"clip", r.clip},
           {"seed", r.seed},
           {"dapa_refit_every", r.dapa_refit_every},
           {"dapa_shared", r.dapa_shared}};
}

// The first recipe field outside its range, as "name: expected ..., got ...", or "".
// One check for flags and for recipes read back from checkpoints.
std::string recipe_problem(const Recipe& r) {
  auto whole = [](const char* name, int64_t v, int64_t lo, int64_t hi) -> std::string {
    if (v >= lo && v <= hi) return "";
    return std::string(name) + ": expected " + std::to_string(lo) + " to " + std::to_string(hi) +
           ", got " + std::to_string(v);
  };
  auto real = [](const char* name, double v, bool zero_ok) -> std::string {
    if (std::isfinite(v) && (zero_ok ? v >= 0 : v > 0)) return "";
    return std::string(name) + ": expected a finite number " + (zero_ok ? ">= 0" : "> 0") +
           ", got " + std::to_string(v);
  };
  for (const std::string& p : std::initializer_list<std::string>{
           whole("epochs", r.epochs, 1, 1000000), whole("steps", r.steps, 0, int64_t{1} << 40),
           whole("batch", r.batch, 1, 1 << 20), whole("warmup", r.warmup, 0, int64_t{1} << 40),
           whole("limit_train", r.limit_train, 0, int64_t{1} << 40),
           whole("limit_test", r.limit_test, 0, int64_t{1} << 40),
           whole("dapa_refit_every", r.dapa_refit_every, 0, int64_t{1} << 40),
           real("lr", r.lr, false), real("min_lr", r.min_lr, true), real("wd", r.wd, true),
           real("clip", r.clip, true),
           std::string(r.momentum >= 0 && r.momentum <= 1 ? "" : "momentum: expected 0 to 1")})
    if (!p.empty()) return p;
  return "";
}

struct Options {
  Recipe recipe;
  std::string data, out = "runs/vit", checkpoint;
  int threads = 0;
  int64_t log_every = 20, eval_batch = 0, checkpoint_every = 0;
  int64_t benchmark_steps = 0, benchmark_warmup = 5, stop_after = 0;
  bool resume = false, eval_only = false, force = false, preload = false;
  bool fixed_threads = false;
  std::string dapa_table, predictions;
  int64_t dapa_calib_batches = 4;
};

[[noreturn]] void usage_error(const std::string& msg) {
  throw std::invalid_argument(msg);
}

// Refuses a batch that cannot be trained on: larger than the training split, or needing
// more memory than this process can get (which would end in the OOM killer's SIGKILL,
// or in std::bad_alloc thrown inside a parallel region, where it cannot be caught).
void check_batch_fits(const VitConfig& cfg, int64_t batch, int64_t train_images, bool eval_only) {
  if (!eval_only && batch > train_images)
    usage_error("--batch " + std::to_string(batch) + " is larger than the " +
                std::to_string(train_images) + " training images");
  double need = static_cast<double>(cfg.step_bytes_per_image()) * static_cast<double>(batch);
  int64_t avail = available_memory_bytes();
  if (avail >= 0 && need > static_cast<double>(avail))
    usage_error("--batch " + std::to_string(batch) + ": a step of " + cfg.model + " on " +
                std::to_string(cfg.height) + "x" + std::to_string(cfg.width) +
                " images needs about " + std::to_string(static_cast<int64_t>(need / 1048576)) +
                " MB, and this process can get " + std::to_string(avail / 1048576) +
                " MB (use a smaller --batch)");
}

struct EvalResult {
  double loss = 0, accuracy = 0;
  std::vector<uint8_t> predicted;  // (test images,): arg-max class of each, in file order
};

EvalResult evaluate(Vit& model, const Dataset& data, int64_t batch) {
  NoGradGuard no_grad;
  DataLoader loader(data, data.test, batch, false, 0);
  EvalResult e;
  double loss_sum = 0;
  int64_t correct = 0;
  Tensor x;
  Labels y;
  for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
    loader.batch(0, b, x, y);
    Tensor logits = model.forward(x).value();  // (B, classes)
    loss_sum += cross_entropy(logits, y).loss * static_cast<double>(y.size());
    int64_t C = logits.shape()[1];
    for (size_t i = 0; i < y.size(); ++i) {
      const float* row = logits.data() + i * C;
      auto predicted = static_cast<uint8_t>(std::max_element(row, row + C) - row);
      e.predicted.push_back(predicted);
      correct += predicted == y[i];
    }
  }
  e.loss = loss_sum / data.test.n;
  e.accuracy = static_cast<double>(correct) / data.test.n;
  return e;
}

// On --resume the whole recipe comes from the checkpoint, on --eval-only the model and
// activation; a flag given explicitly must agree with what it replaces.
void restore_recipe(Recipe& r, const json& saved, const CLI::App& app, bool whole,
                    const std::string& ckpt_path) {
  Recipe from_ckpt = r;
  try {
    for (const char* key : {"epochs", "steps", "batch", "warmup", "limit_train", "limit_test",
                            "seed", "dapa_refit_every"})
      if (saved.contains(key) && !saved[key].is_number_integer())
        usage_error(ckpt_path + ": the saved recipe's " + key + " is not a whole number");
    from_ckpt.model = saved.at("model");
    // Evaluating may swap the activation (GELU weights with a DAPA table: inference
    // substitution); a resumed run keeps its own.
    if (whole || !app.count("--act")) from_ckpt.act = saved.at("act");
    if (whole) {
      from_ckpt.optimizer = saved.at("optimizer"), from_ckpt.epochs = saved.at("epochs");
      from_ckpt.steps = saved.at("steps"), from_ckpt.batch = saved.at("batch");
      from_ckpt.warmup = saved.at("warmup"), from_ckpt.limit_train = saved.at("limit_train");
      from_ckpt.limit_test = saved.at("limit_test");
      from_ckpt.lr = saved.at("lr"), from_ckpt.min_lr = saved.at("min_lr");
      from_ckpt.wd = saved.at("wd"), from_ckpt.momentum = saved.at("momentum");
      from_ckpt.clip = saved.at("clip"), from_ckpt.seed = saved.at("seed");
      from_ckpt.dapa_refit_every = saved.value("dapa_refit_every", int64_t{0});
      from_ckpt.dapa_shared = saved.value("dapa_shared", false);
    }
  } catch (const json::exception& e) {
    usage_error(ckpt_path + ": checkpoint config is incomplete (" + e.what() + ")");
  }
  if (std::string problem = recipe_problem(from_ckpt); !problem.empty())
    usage_error(ckpt_path + ": the saved recipe is invalid (" + problem + ")");
  json mine = r, theirs = from_ckpt;
  for (auto& [key, value] : theirs.items()) {
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (app.count(flag) && mine[key] != value)
      usage_error(flag + " " + mine[key].dump() + " disagrees with the checkpoint's " +
                  value.dump() + (whole ? " (a resumed run keeps its recipe)" : ""));
  }
  r = from_ckpt;
}

std::unique_ptr<Optimizer> make_optimizer(const Recipe& r, Vit& model) {
  if (r.optimizer == "adamw") return std::make_unique<AdamW>(param_groups(model), r.wd);
  if (r.optimizer == "sgd")
    return std::make_unique<Sgd>(param_groups(model), static_cast<float>(r.momentum), r.wd);
  usage_error("--optimizer: unknown '" + r.optimizer + "' (expected adamw or sgd)");
}

// One optimisation step; returns the loss (NaN/Inf is the caller's to handle).
float train_step(Vit& model, Optimizer& opt, const Tensor& x, const Labels& y, double lr,
                 double clip) {
  Var loss = cross_entropy(model.forward(x), y);
  float value = loss.value().item();
  if (!std::isfinite(value)) {
    clear_tape();
    return value;
  }
  opt.zero_grad();
  backward(loss);
  if (clip > 0) opt.clip_grad_norm(clip);
  opt.step(static_cast<float>(lr));
  return value;
}

void write_json(const std::string& path, const json& j) {
  write_text_atomically(path, j.dump(2) + "\n");
}

int run(Options& o, const CLI::App& app) {
  if (o.threads > 0) set_num_threads(o.threads);
  Recipe& r = o.recipe;
  std::string ckpt_path =
      o.checkpoint.empty() ? (fs::path(o.out) / "checkpoint.h5").string() : o.checkpoint;
  CheckpointMeta meta;
  bool from_checkpoint = o.resume || o.eval_only;
  if (from_checkpoint) {
    if (!fs::exists(ckpt_path))
      usage_error("--checkpoint: " + ckpt_path + " does not exist (nothing to " +
                  (o.resume ? "resume" : "evaluate") + ")");
    meta = read_checkpoint_meta(ckpt_path);
    json saved;
    try {
      saved = json::parse(meta.config);
    } catch (const json::exception&) {
      usage_error(ckpt_path + ": config attribute is not valid JSON");
    }
    restore_recipe(r, saved.contains("recipe") ? saved["recipe"] : saved, app, o.resume, ckpt_path);
    // Logging continues as the interrupted run logged, unless asked otherwise.
    if (o.resume && !app.count("--log-every") && saved.contains("log_every") &&
        saved["log_every"].is_number_integer() && saved["log_every"].get<int64_t>() > 0)
      o.log_every = saved["log_every"].get<int64_t>();
  } else if (!o.checkpoint.empty() && !o.force && o.benchmark_steps == 0 &&
             fs::exists(o.checkpoint)) {
    usage_error("--checkpoint: " + o.checkpoint +
                " already exists and a fresh run would replace it (use --resume to continue "
                "it, --eval-only to evaluate it, or --force to start over)");
  }

  Dataset data = load_dataset(o.data, o.preload);
  limit_split(data.train, r.limit_train, data.image_size());
  limit_split(data.test, r.limit_test, data.image_size());
  VitConfig cfg = vit_config(r.model, data.channels, data.height, data.width, data.classes, r.act);
  check_batch_fits(cfg, o.eval_only ? std::max(o.eval_batch, r.batch) : r.batch, data.train.n,
                   o.eval_only);
  Rng rng(r.seed);
  Vit model(cfg, rng);
  std::unique_ptr<Optimizer> opt = make_optimizer(r, model);
  if (from_checkpoint) {
    meta = load_checkpoint(ckpt_path, model, o.resume ? opt.get() : nullptr);
    rng.set_state(meta.rng);
  }

  // DAPA sites: tables from --dapa-table, from the checkpoint being resumed or evaluated
  // (it carries them under /dapa), or calibrated now on the first training batches.
  Sites sites = table_sites(model);
  if (!o.dapa_table.empty() && sites.empty())
    usage_error("--dapa-table: the activation '" + r.act + "' uses no table (give --act " +
                kTableActivationNames + ")");
  bool needs_tables = false;
  for (auto& [name, site] : sites) needs_tables = needs_tables || site->calibrating();
  std::string calibration;
  if (needs_tables && !o.dapa_table.empty()) {
    apply_site_tables(load_tables(o.dapa_table), o.dapa_table, sites);
    needs_tables = false;
  }
  if (needs_tables && from_checkpoint) {
    H5Store ckpt(ckpt_path, H5Store::Mode::Read);
    if (ckpt.exists("dapa")) {
      apply_site_tables(read_tables(ckpt, "dapa", ckpt_path), ckpt_path, sites);
      needs_tables = false;
    }
  }
  if (needs_tables) {
    DataLoader calib(data, data.train, r.batch, true, r.seed);
    calibration = calibrate_sites(sites, model, calib, o.dapa_calib_batches, r.dapa_shared);
  }

  if (o.eval_batch == 0) o.eval_batch = r.batch;
  if (o.eval_only) {
    EvalResult e = evaluate(model, data, o.eval_batch);
    if (!o.predictions.empty()) {
      // One class per line: comparing two files counts the test images on which an
      // approximation changes the model's decision (experiments/dapa_experiments.py).
      std::string lines;
      for (uint8_t c : e.predicted) lines += std::to_string(c) + "\n";
      write_text_atomically(o.predictions, lines);
    }
    std::printf("%s\n", json{{"checkpoint", ckpt_path},
                             {"test_accuracy", e.accuracy},
                             {"test_loss", e.loss},
                             {"test_images", data.test.n}}
                            .dump()
                            .c_str());
    return 0;
  }

  DataLoader loader(data, data.train, r.batch, true, r.seed);
  int64_t bpe = loader.batches_per_epoch();
  int64_t total = r.epochs * bpe;
  if (r.steps > 0) total = std::min(total, r.steps);
  WarmupCosine schedule{r.lr, r.min_lr, std::min(r.warmup, total), total};
  Tensor x;
  Labels y;

  const int threads = num_threads();  // as asked; the governor may run fewer (--fixed-threads)
  ThreadGovernor governor(threads);
  auto governed_step = [&](double lr) {
    if (!o.fixed_threads) governor.begin_step();
    float loss = train_step(model, *opt, x, y, lr, r.clip);
    if (!o.fixed_threads) governor.end_step();
    return loss;
  };
  if (o.benchmark_steps > 0) {  // throughput only: nothing is written
    Clock::time_point t0;
    for (int64_t s = 0; s < o.benchmark_warmup + o.benchmark_steps; ++s) {
      if (s == o.benchmark_warmup) t0 = Clock::now();
      loader.batch(0, s % bpe, x, y);
      governed_step(schedule.at(s));
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("%s\n", json{{"impl", "dapa-cpp"},
                             {"model", r.model},
                             {"act", r.act},
                             {"batch", r.batch},
                             {"threads", num_threads()},
                             {"thread_switches", governor.switches()},
                             {"steps", o.benchmark_steps},
                             {"images_per_s", o.benchmark_steps * r.batch / secs},
                             {"step_ms", 1e3 * secs / o.benchmark_steps},
                             {"peak_rss_mb", peak_rss_bytes() / 1048576.0},
                             {"peak_tensor_mb", allocator_stats().peak_live_bytes / 1048576.0}}
                            .dump()
                            .c_str());
    return 0;
  }

  // A fresh run must not overwrite another run's outputs by accident.
  fs::path out(o.out);
  std::string metrics_path = (out / "metrics.csv").string();
  if (!o.resume && !o.force && (fs::exists(out / "checkpoint.h5") || fs::exists(metrics_path)))
    usage_error("--out: " + o.out +
                " already holds a run (use --resume to continue it, or --force "
                "to start over)");
  fs::create_directories(out);
  json config = {{"recipe", r},
                 {"data", o.data},
                 {"threads", num_threads()},
                 {"model_config",
                  {{"dim", cfg.dim},
                   {"depth", cfg.depth},
                   {"heads", cfg.heads},
                   {"mlp_hidden", cfg.mlp_hidden},
                   {"patch", cfg.patch},
                   {"channels", cfg.channels},
                   {"height", cfg.height},
                   {"width", cfg.width},
                   {"classes", cfg.classes}}},
                 {"parameters", model.parameter_count()},
                 {"log_every", o.log_every}};
  std::string tables_out = (out / "dapa_tables.h5").string();
  // Nothing in --out changes until a step has succeeded: a run that fails before (bad
  // data, a NaN at once) leaves the files there as they were.
  bool outputs_written = false;
  auto write_outputs = [&] {
    if (outputs_written) return;
    write_json((out / "config.json").string(), config);
    if (!sites.empty()) save_tables(tables_out, site_tables(sites, r.dapa_shared));
    outputs_written = true;
  };
  MetricsLog metrics(metrics_path, o.resume ? meta.step : -1);  // writes at its first row
  Progress progress(total, o.log_every);
  int64_t start = o.resume ? meta.step : 0;
  progress.message("train_vit: " + r.model + " (" + std::to_string(model.parameter_count()) +
                   " parameters), act " + r.act + ", " + std::to_string(data.train.n) +
                   " training images, batch " + std::to_string(r.batch) + ", " +
                   std::to_string(total) + " steps, " + std::to_string(num_threads()) + " threads" +
                   (o.resume ? ", resuming at step " + std::to_string(start) : ""));
  if (!calibration.empty()) progress.message("train_vit: " + calibration);

  auto save = [&](int64_t step) {
    CheckpointMeta m{step, step / bpe, rng.state(), r.model, config.dump()};
    if (sites.empty()) return save_checkpoint(ckpt_path, model, opt.get(), m);
    std::vector<SiteTable> tables = site_tables(sites, r.dapa_shared);
    save_checkpoint(ckpt_path, model, opt.get(), m,
                    [&](H5Store& h5) { write_tables(h5, "dapa", tables); });
    if (r.dapa_refit_every > 0) save_tables(tables_out, tables);
  };
  Clock::time_point t_start = Clock::now();
  double train_seconds = 0, window_seconds = 0;  // time in training steps only
  int64_t window_images = 0, images_done = 0, last_saved = start, last_batch = 0;
  EvalResult last_eval{NAN, NAN, {}};
  for (int64_t step = start; step < total; ++step) {
    int64_t epoch = step / bpe;
    loader.batch(epoch, step % bpe, x, y);
    // A batch of another size (an epoch's last) needs blocks of other sizes: give the
    // cached ones back rather than hold both sets.
    if (x.shape()[0] != last_batch) release_cached_memory();
    last_batch = x.shape()[0];
    double lr = schedule.at(step);
    // --dapa-refit-every: this step's forward also records, then the tables are refitted.
    bool refit = r.dapa_refit_every > 0 && step > 0 && step % r.dapa_refit_every == 0;
    if (refit)
      for (auto& [name, site] : sites) site->start_recording();
    Clock::time_point t0 = Clock::now();
    float loss = governed_step(lr);
    if (refit) fit_sites(sites, r.dapa_shared);
    double step_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    train_seconds += step_seconds;
    window_seconds += step_seconds;
    if (!std::isfinite(loss)) {
      progress.finish();
      std::fprintf(stderr,
                   "train_vit: the loss became %s at step %lld (epoch %lld); stopping. The last "
                   "good checkpoint, %s, is from step %lld.\n",
                   std::isnan(loss) ? "NaN" : "infinite", static_cast<long long>(step + 1),
                   static_cast<long long>(epoch), ckpt_path.c_str(),
                   static_cast<long long>(last_saved));
      return 3;
    }
    write_outputs();
    window_images += static_cast<int64_t>(y.size());
    images_done += static_cast<int64_t>(y.size());
    int64_t done = step + 1;
    double elapsed =
        metrics.resumed_elapsed() + std::chrono::duration<double>(Clock::now() - t_start).count();
    double ips = window_seconds > 0 ? window_images / window_seconds : 0.0;
    progress.update(done, epoch, loss, lr, ips, elapsed, done - start);
    if (done % o.log_every == 0 || done == total || done % bpe == 0) {
      metrics.train(done, epoch, loss, lr, ips, elapsed);
      window_seconds = 0;
      window_images = 0;
    }
    bool epoch_end = done % bpe == 0 || done == total;
    if (epoch_end) {
      // Evaluating at the training batch size reuses the cached blocks of the training
      // step; the last, smaller batch's blocks are given back first.
      release_cached_memory();
      last_eval = evaluate(model, data, o.eval_batch);
      metrics.test(done, epoch, last_eval.loss, last_eval.accuracy, elapsed);
      char line[160];
      std::snprintf(line, sizeof line, "epoch %lld: test loss %.4f, test accuracy %.2f%%",
                    static_cast<long long>(epoch), last_eval.loss, 100 * last_eval.accuracy);
      progress.message(line);
    }
    bool stop_now = o.stop_after > 0 && done == o.stop_after && done < total;
    if (epoch_end || stop_now || (o.checkpoint_every > 0 && done % o.checkpoint_every == 0)) {
      save(done);
      last_saved = done;
    }
    if (stop_now) {
      progress.finish();
      std::printf("train_vit: stopped at step %lld of %lld as asked; --resume continues from %s\n",
                  static_cast<long long>(done), static_cast<long long>(total), ckpt_path.c_str());
      return 0;
    }
  }
  progress.finish();
  write_outputs();
  if (start >= total) {
    std::printf("train_vit: %s already finished all %lld steps\n", ckpt_path.c_str(),
                static_cast<long long>(total));
    last_eval = evaluate(model, data, o.eval_batch);
  }
  double total_seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  json summary = {{"model", r.model},
                  {"act", r.act},
                  {"steps", total},
                  {"epochs", static_cast<double>(total) / bpe},
                  {"test_accuracy", last_eval.accuracy},
                  {"test_loss", last_eval.loss},
                  {"total_seconds", total_seconds},
                  {"train_images_per_s", train_seconds > 0 ? images_done / train_seconds : 0.0},
                  {"parameters", model.parameter_count()},
                  {"peak_rss_mb", peak_rss_bytes() / 1048576.0},
                  {"threads", threads},
                  {"thread_switches", governor.switches()}};
  write_json((out / "summary.json").string(), summary);
  std::string png = (out / "loss.png").string();
  bool plotted = plot_metrics(metrics_path, png, r.model + " / " + r.act);
  std::printf("test accuracy %.2f%% (loss %.4f) after %lld steps in %.0f s\n",
              100 * last_eval.accuracy, last_eval.loss, static_cast<long long>(total),
              total_seconds);
  std::printf("checkpoint: %s\nmetrics: %s%s%s\n", ckpt_path.c_str(), metrics_path.c_str(),
              plotted ? "\nloss curve: " : "", plotted ? png.c_str() : "");
  return 0;
}

}  // namespace
}  // namespace dapa

int main(int argc, char** argv) {
  using dapa::Options;
  Options o;
  dapa::Recipe& r = o.recipe;
  CLI::App app{"Train a Vision Transformer on an HDF5 image data set (see prepare_data)."};
  app.add_option("--data", o.data, "data set file made by prepare_data")->required();
  app.add_option("--model", r.model, dapa::vit_model_names())->capture_default_str();
  app.add_option("--act", r.act,
                 "MLP activation: " + dapa::activation_names() +
                     " (with --eval-only: replaces the checkpoint's activation)")
      ->capture_default_str();
  app.add_option("--epochs", r.epochs, "epochs")
      ->check(dapa::cli::positive())
      ->capture_default_str();
  app.add_option("--steps", r.steps, "stop after this many steps (0: no cap)")
      ->check(dapa::cli::non_negative());
  app.add_option("--batch", r.batch, "batch size")
      ->check(dapa::cli::positive())
      ->capture_default_str();
  app.add_option("--lr", r.lr, "peak learning rate")
      ->check(dapa::cli::positive())
      ->capture_default_str();
  app.add_option("--min-lr", r.min_lr, "learning rate at the end of the cosine decay")
      ->check(dapa::cli::non_negative())
      ->capture_default_str();
  app.add_option("--wd", r.wd, "weight decay (weights only)")
      ->check(dapa::cli::non_negative())
      ->capture_default_str();
  app.add_option("--warmup", r.warmup, "linear warmup steps")
      ->check(dapa::cli::non_negative())
      ->capture_default_str();
  app.add_option("--optimizer", r.optimizer, "adamw | sgd")->capture_default_str();
  app.add_option("--momentum", r.momentum, "SGD momentum")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--clip", r.clip, "gradient-norm clipping (0: off)")
      ->check(dapa::cli::non_negative())
      ->capture_default_str();
  app.add_option("--seed", r.seed, "seed for initialisation and shuffling")->capture_default_str();
  app.add_option("--limit-train", r.limit_train, "use only the first N training images (0: all)")
      ->check(dapa::cli::non_negative());
  app.add_option("--limit-test", r.limit_test, "use only the first N test images (0: all)")
      ->check(dapa::cli::non_negative());
  app.add_option("--threads", o.threads, "threads (0: DAPA_NUM_THREADS or all cores)")
      ->check(dapa::cli::non_negative());
  app.add_flag("--fixed-threads", o.fixed_threads,
               "always use --threads threads (default: drop to one thread while another "
               "process takes a core and that is faster; results are the same bits)");
  app.add_option("--out", o.out, "output directory")->capture_default_str();
  app.add_flag("--resume", o.resume, "continue the run in --out from its checkpoint");
  app.add_flag("--eval-only", o.eval_only, "evaluate --checkpoint on the test split and exit");
  app.add_option("--checkpoint", o.checkpoint, "checkpoint file (default: OUT/checkpoint.h5)");
  app.add_option("--predictions", o.predictions,
                 "with --eval-only: write each test image's predicted class, one per line");
  app.add_flag("--preload", o.preload,
               "read all images into memory (default: stream each batch from the file)");
  app.add_flag("--force", o.force, "start a fresh run even if --out holds one");
  app.add_option("--log-every", o.log_every, "log a metrics row every N steps")
      ->check(dapa::cli::positive())
      ->capture_default_str();
  app.add_option("--eval-batch", o.eval_batch, "batch size for evaluation (0: --batch)")
      ->check(dapa::cli::non_negative());
  app.add_option("--checkpoint-every", o.checkpoint_every,
                 "also checkpoint every N steps (0: at epoch ends only)")
      ->check(dapa::cli::non_negative());
  app.add_option("--benchmark-steps", o.benchmark_steps,
                 "time N training steps after warm-up, print images/s as JSON, write nothing")
      ->check(dapa::cli::non_negative());
  app.add_option("--dapa-table", o.dapa_table,
                 "DAPA tables for --act dapa:N (dapa_fit or a run's dapa_tables.h5); without it, "
                 "fresh runs calibrate on their first batches");
  app.add_option("--dapa-calib-batches", o.dapa_calib_batches,
                 "training batches to calibrate DAPA on at initialisation")
      ->check(dapa::cli::positive())
      ->capture_default_str();
  app.add_option("--dapa-refit-every", r.dapa_refit_every,
                 "refit the DAPA tables from the live distribution every S steps (0: never)")
      ->check(dapa::cli::non_negative());
  app.add_flag("--dapa-shared", r.dapa_shared,
               "one DAPA table for all sites (pooled distribution)");
  app.add_option("--stop-after", o.stop_after,
                 "checkpoint and stop once this step is reached, as if interrupted (0: never)")
      ->check(dapa::cli::non_negative());
  dapa::cli::one_line_errors(app, "train_vit");
  CLI11_PARSE(app, argc, argv);
  if (o.resume && o.eval_only) {
    std::fprintf(stderr, "train_vit: --resume and --eval-only exclude each other\n");
    return 2;
  }
  if (!o.predictions.empty() && !o.eval_only) {
    std::fprintf(stderr, "train_vit: --predictions needs --eval-only\n");
    return 2;
  }
  // Flags that would be silently ignored are refused instead.
  for (const char* flag : {"--stop-after", "--checkpoint-every", "--resume"})
    if (app.count(flag) && (o.eval_only || o.benchmark_steps > 0)) {
      std::fprintf(stderr, "train_vit: %s does not apply to %s\n", flag,
                   o.eval_only ? "--eval-only" : "--benchmark-steps");
      return 2;
    }
  if (o.threads > dapa::max_threads()) {
    std::fprintf(stderr,
                 "train_vit: --threads: expected 0 to %d (the CPUs this process may use), got "
                 "%d\n",
                 dapa::max_threads(), o.threads);
    return 2;
  }
  if (std::string problem = dapa::recipe_problem(r); !problem.empty()) {
    std::replace(problem.begin(), problem.begin() + problem.find(':'), '_', '-');
    std::fprintf(stderr, "train_vit: --%s\n", problem.c_str());
    return 2;
  }
  try {
    return dapa::run(o, app);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "train_vit: out of memory (try a smaller --batch)\n");
    dapa::cli::exit_after_error(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_vit: %s\n", e.what());
    dapa::cli::exit_after_error(1);
  }
}
