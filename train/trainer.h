// The training loop that train_vit (and train_gpt) share: resume, evaluate-only,
// benchmark, and training with metrics, progress, checkpoints and DAPA tables
// (calibration, refits, files). An executable supplies its model and data as a Task
// and its flags through add_run_flags and add_recipe_flags; everything else is here.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "core/rng.h"
#include "nn/checkpoint.h"
#include "nn/module.h"
#include "train/recipe.h"

namespace dapa {

// The flags of a run that are not part of its recipe.
struct RunOptions {
  std::string program;  // "train_vit": error and progress lines start with it
  std::string data, out = "runs/run", checkpoint, dapa_table, predictions;
  int threads = 0;
  int64_t log_every = 20, eval_batch = 0, checkpoint_every = 0, dapa_calib_batches = 4;
  int64_t benchmark_steps = 0, benchmark_warmup = 5, stop_after = 0;
  bool resume = false, eval_only = false, force = false, preload = false, fixed_threads = false;
};
void add_run_flags(CLI::App& app, RunOptions& o);
// The first flag that is out of range, contradicts another or would be silently
// ignored, as a message ("--stop-after does not apply to --eval-only"), or "".
std::string run_problem(const RunOptions& o, const Recipe& r, const CLI::App& app);

struct Evaluation {
  double loss = NAN, accuracy = NAN;
  std::vector<uint8_t> predicted;  // the arg-max class of each test example, in file order
};

// What the trainer needs from a model and its data.
class Task {
 public:
  virtual ~Task() = default;
  virtual Module& model() = 0;
  virtual std::string unit() const = 0;  // what the examples are: "images"
  virtual int64_t train_examples() const = 0;
  virtual int64_t batches_per_epoch() const = 0;
  // Loads training batch `index` of `epoch` (each epoch shuffles anew); returns how many
  // examples it holds.
  virtual int64_t load_batch(int64_t epoch, int64_t index) = 0;
  // The mean loss over the loaded batch, recorded on the tape unless grad mode is off.
  virtual Var loss() = 0;
  virtual Evaluation evaluate(int64_t batch) = 0;   // on the test split, without gradients
  virtual nlohmann::json model_config() const = 0;  // written to config.json
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
int run_task(Task& task, RunOptions& o, const Recipe& r, const CheckpointMeta& meta, Rng& rng);

}  // namespace dapa
