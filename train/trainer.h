// The training loop that train_vit (and train_gpt) share: resume, evaluate-only,
// benchmark, and training with metrics, progress, checkpoints and DAPA tables
// (calibration, refits, files). An executable supplies its model and data as a Task
// and its flags through add_run_flags and add_recipe_flags; everything else is here.
#pragma once

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "core/rng.h"
#include "nn/checkpoint.h"
#include "nn/dapa_sites.h"
#include "nn/module.h"
#include "train/recipe.h"

namespace dapa {

// The flags of a run that are not part of its recipe.
struct RunOptions {
  std::string program;     // "train_vit": error and progress lines start with it
  std::string data_maker;  // "prepare_data": the program that makes --data files
  std::string data, out = "runs/run", checkpoint, dapa_table, predictions;
  int threads = 0;
  int64_t log_every = 20, eval_batch = 0, eval_every = 0, checkpoint_every = 0;
  int64_t dapa_calib_batches = 4;
  int64_t benchmark_steps = 0, benchmark_warmup = 5, stop_after = 0;
  bool resume = false, eval_only = false, force = false, preload = false, fixed_threads = false;
  bool profile = false;  // with benchmark_steps: the per-op table (train/profile_report.h)
  // Data-parallel runs (mpirun -np K; train/comm.h, train/micro_batches.h).
  std::string allreduce = "exact";
  double mpi_timeout = 600;
  int64_t check_every = 100;
  double bucket_mb = 1;  // the exact mode's gradient messages (train/gradient_exchange.h)
};
void add_run_flags(CLI::App& app, RunOptions& o);
// The first flag that is out of range, contradicts another or would be silently
// ignored, as a message ("--stop-after does not apply to --eval-only"), or "".
std::string run_problem(const RunOptions& o, const Recipe& r, const CLI::App& app);

// One split's evaluation: its measures, named as in metrics.csv and summary.json, the
// loss first ("test_loss", "test_accuracy"; "val_loss", "val_perplexity", ...).
struct Evaluation {
  std::string split;  // "test", "val": the kind of its rows in metrics.csv
  std::vector<std::pair<std::string, double>> values;
  Labels predicted;  // the arg-max of each example (image, token), in file order
  double loss() const { return values.empty() ? NAN : values.front().second; }
};

// What the trainer needs from a model and its data.
class Task {
 public:
  virtual ~Task() = default;
  virtual Module& model() = 0;
  virtual std::string unit() const = 0;  // what the examples are: "images", "tokens"
  virtual int64_t train_examples() const = 0;
  virtual int64_t batches_per_epoch() const = 0;
  // Loads training batch `index` of `epoch` (each epoch shuffles anew); returns how many
  // examples it holds.
  virtual int64_t load_batch(int64_t epoch, int64_t index) = 0;
  // The mean loss over the loaded batch, recorded on the tape unless grad mode is off.
  Var loss() {
    int64_t examples;
    return part_loss(0, 1, &examples);
  }
  // The same over part `part` of `parts` of the loaded batch: its rows (images, or
  // windows of tokens) [part n / parts, (part + 1) n / parts) of n; `examples` receives
  // how many examples (images, tokens) that holds (0: none, and the loss is undefined).
  virtual Var part_loss(int64_t part, int64_t parts, int64_t* examples) = 0;
  // The names evaluate() gives its values, in order (metrics.csv's columns).
  virtual std::vector<std::string> evaluation_names() const = 0;
  // The split watched during training, without gradients.
  virtual Evaluation evaluate(int64_t batch) = 0;
  // Every held-out split, for --eval-only (the ViT: test; a language model: val, test).
  virtual std::vector<Evaluation> evaluate_all(int64_t batch) { return {evaluate(batch)}; }
  virtual nlohmann::json model_config() const = 0;  // written to config.json
  // For dapa_fit: the first `examples` training examples in file order (images, or
  // tokens in windows of the context), in batches of at most `batch`. Returns how many
  // batches that makes; calibration_forward(b) runs batch b's forward pass and returns
  // how many examples it held.
  virtual int64_t calibration_batches(int64_t examples, int64_t batch) = 0;
  virtual int64_t calibration_forward(int64_t index) = 0;
};

// Before the model is built: when resuming or evaluating, the checkpoint's recipe
// replaces `r` (restore_recipe) and its metadata is returned; a fresh run refuses to
// replace an existing --checkpoint. Throws std::invalid_argument naming the problem.
CheckpointMeta prepare_run(RunOptions& o, Recipe& r, const CLI::App& app);

// The rest of the run: loads the checkpoint into the model (and the optimiser when
// resuming), gets the DAPA tables (--dapa-table, the checkpoint's, or calibration),
// then evaluates (--eval-only), times steps (--benchmark-steps) or trains. `rng` made
// the model's initial weights; its state is checkpointed. Returns the exit code (3:
// the loss became NaN or infinite; the last good checkpoint stays).
// Gives a model's DAPA sites (table_sites) their tables: from the file `dapa_table`
// (when not empty), else from the checkpoint's /dapa group (when `checkpoint` is not
// empty and has one). Returns false when sites still have no table (they calibrate).
// Throws std::invalid_argument for a --dapa-table that neither the recipe's activation
// nor its softmax can use, and the table readers' errors.
bool load_site_tables(Sites& sites, const Recipe& r, const std::string& dapa_table,
                      const std::string& checkpoint);
// "gelu", or "dapa:16, softmax dapa:16:fixed": the recipe's nonlinearities, for progress
// lines and plot titles.
std::string nonlinearities(const Recipe& r);

int run_task(Task& task, RunOptions& o, const Recipe& r, const CheckpointMeta& meta, Rng& rng);

}  // namespace dapa
