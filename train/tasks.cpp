// The task registry and the training executables' main(); see tasks.h.
#include "train/tasks.h"

#include <algorithm>
#include <cstdio>

#include "core/allocator.h"
#include "core/parallel.h"
#include "core/strings.h"
#include "nn/activation.h"
#include "train/cli.h"

namespace dapa {

std::string TaskKind::model_names() const {
  return join_names(models());
}

bool TaskKind::has_model(const std::string& model) const {
  std::vector<std::string> m = models();
  return std::find(m.begin(), m.end(), model) != m.end();
}

const std::vector<const TaskKind*>& task_kinds() {
  static const std::vector<const TaskKind*> kinds = {&vit_task_kind(), &gpt_task_kind()};
  return kinds;
}

const TaskKind& task_kind_of(const std::string& model) {
  std::string all;
  for (const TaskKind* k : task_kinds()) {
    if (k->has_model(model)) return *k;
    all += (all.empty() ? "" : ", ") + k->model_names();
  }
  throw std::invalid_argument("unknown model '" + model + "' (expected " + all + ")");
}

void check_step_fits(const std::string& what, double bytes) {
  int64_t avail = available_memory_bytes();
  if (avail >= 0 && bytes > static_cast<double>(avail))
    throw std::invalid_argument(what + " needs about " +
                                std::to_string(static_cast<int64_t>(bytes / 1048576)) +
                                " MB, and this process can get " + std::to_string(avail / 1048576) +
                                " MB (use a smaller --batch)");
}

namespace {

int run(TaskKind& kind, RunOptions& o, Recipe& r, const CLI::App& app) {
  if (o.threads > 0) set_num_threads(o.threads);
  CheckpointMeta meta = prepare_run(o, r, app);
  // A checkpoint of another kind of model (a ViT's given to train_gpt) is named as such.
  if (!kind.has_model(r.model)) {
    for (const TaskKind* other : task_kinds())
      if (other->has_model(r.model))
        throw std::invalid_argument("--checkpoint: " + o.checkpoint + " holds a " + r.model +
                                    ", which " + other->program() + " trains, not " +
                                    kind.program() + " (" + kind.model_names() + ")");
    throw std::invalid_argument("--model: unknown model '" + r.model + "' (expected " +
                                kind.model_names() + ")");
  }
  Rng rng(r.seed);
  std::unique_ptr<Task> task = kind.make(o, r, meta, rng);
  return run_task(*task, o, r, meta, rng);
}

}  // namespace

int train_main(TaskKind& kind, int argc, char** argv) {
  const std::string program = kind.program();
  RunOptions o;
  o.program = program;
  o.data_maker = kind.data_maker();
  o.out = kind.default_out();
  Recipe r;
  r.model = kind.models().front();
  CLI::App app{kind.description()};
  add_run_flags(app, o);
  add_recipe_flags(app, r, kind.model_names(), activation_names());
  kind.add_flags(app, r);
  cli::one_line_errors(app, program);
  CLI11_PARSE(app, argc, argv);
  try {
    if (std::optional<int> code = kind.run_instead(o, r, app)) return *code;
    if (std::string problem = run_problem(o, r, app); !problem.empty()) {
      std::fprintf(stderr, "%s: %s\n", program.c_str(), problem.c_str());
      return 2;
    }
    return run(kind, o, r, app);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: out of memory (try a smaller --batch)\n", program.c_str());
    cli::exit_after_error(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());
    cli::exit_after_error(1);
  }
}

}  // namespace dapa
