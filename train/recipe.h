// The training recipe: everything that must be the same to resume a run. Spelled once:
// the struct below, and one macro line that gives its JSON form (config.json and
// checkpoints); the flags, the range check and the restore from a checkpoint all go
// over the same fields.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

// CLI11's App, declared only: its header takes seconds to compile (the .cpp files that
// define flags include it).
namespace CLI {
class App;
}  // namespace CLI

namespace dapa {

struct Recipe {
  std::string model = "vit-nano", act = "gelu", optimizer = "adamw";
  std::string softmax = "exact";  // the attention softmax's exp: exact or a table
  int64_t epochs = 5, steps = 0, batch = 128, warmup = 200, limit_train = 0, limit_test = 0;
  int64_t dapa_refit_every = 0;
  // Each step's batch in this many contiguous parts, one forward and backward each, their
  // gradients weighted by their share of the batch and summed in order: the activations
  // of one part at a time (less memory), and the single-process twin of data-parallel
  // training over as many processes.
  int64_t micro_batches = 1;
  int64_t context = 0;       // language models: tokens per training window (0: the model's)
  bool dapa_shared = false;  // refits must pool as the run began
  double lr = 1e-3, min_lr = 1e-5, wd = 0.05, momentum = 0.9, clip = 1.0;
  uint64_t seed = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Recipe, model, act, optimizer, epochs, steps, batch,
                                                warmup, limit_train, limit_test, lr, min_lr, wd,
                                                momentum, clip, seed, dapa_refit_every, dapa_shared,
                                                context, softmax, micro_batches)

// The recipe's flags (--model, --act, --epochs, ..., --dapa-shared); `models` and
// `activations` list the names the executable takes, for the help text.
void add_recipe_flags(CLI::App& app, Recipe& r, const std::string& models,
                      const std::string& activations);

// The first field outside its range, as "name: expected ..., got ...", or "". One check
// for flags and for recipes read back from checkpoints.
std::string recipe_problem(const Recipe& r);

// The recipe a checkpoint recorded, for a resumed run (`whole`: every field) or an
// evaluation (the model, and the activation and softmax unless --act / --softmax is
// given). A flag given
// explicitly must agree with the field it would replace. Throws std::invalid_argument
// naming `path` and the problem (a missing or mistyped field, a value out of range, a
// disagreeing flag).
Recipe restore_recipe(const Recipe& flags, const nlohmann::json& saved, const CLI::App& app,
                      bool whole, const std::string& path);

}  // namespace dapa
