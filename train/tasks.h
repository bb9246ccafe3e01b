// The kinds of model the project trains, one entry each: the ViT on images (train_vit)
// and the GPT on text (train_gpt). An entry names its program, models and data, and
// builds its Task (train/trainer.h) from the data file; train_main is the whole main()
// of both executables, and dapa_fit finds the entry for a checkpoint's model, so every
// command that takes a model goes through one path.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace dapa {

class TaskKind {
 public:
  virtual ~TaskKind() = default;
  virtual std::string program() const = 0;      // "train_vit"
  virtual std::string description() const = 0;  // the first line of --help
  virtual std::string data_maker() const = 0;   // "prepare_data"
  virtual std::string examples() const = 0;     // "images"
  virtual std::vector<std::string> models() const = 0;
  virtual std::string default_out() const = 0;  // "runs/vit"
  // The executable's own flags, beyond the run and recipe flags.
  virtual void add_flags(CLI::App& /*app*/, Recipe& /*r*/) {}
  // A mode that replaces training (train_gpt --sample): its exit code, or nothing.
  virtual std::optional<int> run_instead(RunOptions& /*o*/, Recipe& /*r*/,
                                         const CLI::App& /*app*/) {
    return std::nullopt;
  }
  // Loads o.data and builds the model for recipe r (weights drawn from rng). `meta` is
  // the checkpoint's when resuming or evaluating (empty config otherwise): the data must
  // agree with it. Throws std::invalid_argument or DataError naming the problem.
  virtual std::unique_ptr<Task> make(const RunOptions& o, const Recipe& r,
                                     const CheckpointMeta& meta, Rng& rng) const = 0;
  std::string model_names() const;  // "vit-nano, vit-micro, vit-mini"
  bool has_model(const std::string& model) const;
};

TaskKind& vit_task_kind();  // train/vit_task.cpp
TaskKind& gpt_task_kind();  // train/gpt_task.cpp
const std::vector<const TaskKind*>& task_kinds();
// The kind that trains `model`; throws std::invalid_argument naming every model for
// anything else.
const TaskKind& task_kind_of(const std::string& model);

// main() of a training executable: flags, their checks, the run, and errors as one line
// "program: message" with a non-zero exit.
int train_main(TaskKind& kind, int argc, char** argv);

// Refuses a step that needs more memory than this process can get (it would end in the
// OOM killer's SIGKILL, or in std::bad_alloc inside a parallel region, where it cannot
// be caught): throws std::invalid_argument with `what` ("--batch 512: a step of
// vit-nano on 28x28 images") and the sizes.
void check_step_fits(const std::string& what, double bytes);

}  // namespace dapa
