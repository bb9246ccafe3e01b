// The training recipe: flags, range checks, restore from a checkpoint; see recipe.h.
#include "train/recipe.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "nn/table_activation.h"
#include "train/cli.h"

namespace dapa {

using json = nlohmann::json;

void add_recipe_flags(CLI::App& app, Recipe& r, const std::string& models,
                      const std::string& activations) {
  app.add_option("--model", r.model, models)->capture_default_str();
  app.add_option("--act", r.act,
                 "MLP activation: " + activations +
                     " (with --eval-only: replaces the checkpoint's activation)")
      ->capture_default_str();
  app.add_option("--softmax", r.softmax,
                 std::string("attention softmax: ") + kSoftmaxNames +
                     " (a table of exp on the max-shifted scores; with --eval-only: replaces the "
                     "checkpoint's)")
      ->capture_default_str();
  app.add_option("--epochs", r.epochs, "epochs")->check(cli::positive())->capture_default_str();
  app.add_option("--steps", r.steps, "stop after this many steps (0: no cap)")
      ->check(cli::non_negative());
  app.add_option("--batch", r.batch, "batch size")->check(cli::positive())->capture_default_str();
  app.add_option("--micro-batches", r.micro_batches,
                 "split each batch into this many parts, one forward and backward each, "
                 "gradients summed (activation memory of one part)")
      ->check(cli::positive())
      ->capture_default_str();
  app.add_option("--lr", r.lr, "peak learning rate")->check(cli::positive())->capture_default_str();
  app.add_option("--min-lr", r.min_lr, "learning rate at the end of the cosine decay")
      ->check(cli::non_negative())
      ->capture_default_str();
  app.add_option("--wd", r.wd, "weight decay (weights only)")
      ->check(cli::non_negative())
      ->capture_default_str();
  app.add_option("--warmup", r.warmup, "linear warmup steps")
      ->check(cli::non_negative())
      ->capture_default_str();
  app.add_option("--optimizer", r.optimizer, "adamw | sgd")->capture_default_str();
  app.add_option("--momentum", r.momentum, "SGD momentum")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--clip", r.clip, "gradient-norm clipping (0: off)")
      ->check(cli::non_negative())
      ->capture_default_str();
  app.add_option("--seed", r.seed, "seed for initialisation and shuffling")->capture_default_str();
  app.add_option("--limit-train", r.limit_train, "use only the first N training examples (0: all)")
      ->check(cli::non_negative());
  app.add_option("--limit-test", r.limit_test, "use only the first N test examples (0: all)")
      ->check(cli::non_negative());
  app.add_option("--dapa-refit-every", r.dapa_refit_every,
                 "refit the DAPA tables from the live distribution every S steps (0: never)")
      ->check(cli::non_negative());
  app.add_flag("--dapa-shared", r.dapa_shared,
               "one DAPA table for all sites (pooled distribution)");
}

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
  const int64_t big = int64_t{1} << 40;
  for (const std::string& p : std::initializer_list<std::string>{
           whole("epochs", r.epochs, 1, 1000000), whole("steps", r.steps, 0, big),
           whole("batch", r.batch, 1, 1 << 20), whole("warmup", r.warmup, 0, big),
           whole("limit_train", r.limit_train, 0, big), whole("limit_test", r.limit_test, 0, big),
           whole("dapa_refit_every", r.dapa_refit_every, 0, big),
           whole("context", r.context, 0, 65536),
           whole("micro_batches", r.micro_batches, 1, std::max<int64_t>(1, r.batch)),
           real("lr", r.lr, false), real("min_lr", r.min_lr, true), real("wd", r.wd, true),
           real("clip", r.clip, true),
           std::string(r.momentum >= 0 && r.momentum <= 1 ? "" : "momentum: expected 0 to 1")})
    if (!p.empty()) return p;
  return "";
}

namespace {
// "--limit-train" for the field limit_train.
std::string flag_of(const std::string& key) {
  std::string flag = "--" + key;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

// The saved fields that replace the flags' values, each checked against the type of the
// field's default (a whole number stays whole).
json saved_fields(const Recipe& flags, const json& saved, const CLI::App& app, bool whole,
                  const std::string& path) {
  // Fields added after the first checkpoints were written: older ones lack them.
  static const std::set<std::string> kAddedLater = {"dapa_refit_every", "dapa_shared", "context",
                                                    "softmax", "micro_batches"};
  if (!saved.is_object()) throw std::invalid_argument(path + ": checkpoint config has no recipe");
  json merged = flags;
  const json defaults = Recipe{};
  for (auto& [key, preset] : defaults.items()) {
    bool replaceable =
        (key == "act" && !app.count("--act")) || (key == "softmax" && !app.count("--softmax"));
    if (!whole && key != "model" && !replaceable) continue;
    if (!saved.contains(key)) {
      if (!kAddedLater.count(key))
        throw std::invalid_argument(path + ": checkpoint config is incomplete (no " + key + ")");
      merged[key] = preset;
      continue;
    }
    const json& v = saved[key];
    if (preset.is_number_integer() && !v.is_number_integer())
      throw std::invalid_argument(path + ": the saved recipe's " + key + " is not a whole number");
    if (preset.is_number_unsigned() && !v.is_number_unsigned())
      throw std::invalid_argument(path + ": the saved recipe's " + key + " is negative");
    if (preset.is_number() != v.is_number() || preset.is_string() != v.is_string() ||
        preset.is_boolean() != v.is_boolean())
      throw std::invalid_argument(path + ": the saved recipe's " + key + " is " + v.type_name() +
                                  ", expected " + preset.type_name());
    merged[key] = v;
  }
  return merged;
}
}  // namespace

Recipe restore_recipe(const Recipe& flags, const json& saved, const CLI::App& app, bool whole,
                      const std::string& path) {
  Recipe r = saved_fields(flags, saved, app, whole, path).get<Recipe>();
  if (std::string problem = recipe_problem(r); !problem.empty())
    throw std::invalid_argument(path + ": the saved recipe is invalid (" + problem + ")");
  json mine = flags, theirs = r;
  for (auto& [key, value] : theirs.items())
    // A field without a flag in this executable (train_vit has no --context) stays.
    if (const CLI::Option* flag = app.get_option_no_throw(flag_of(key));
        flag && flag->count() && mine[key] != value)
      throw std::invalid_argument(flag_of(key) + " " + mine[key].dump() +
                                  " disagrees with the checkpoint's " + value.dump() +
                                  (whole ? " (a resumed run keeps its recipe)" : ""));
  return r;
}

}  // namespace dapa
