// The task registry and the training executables' main(); see tasks.h.
#include "train/tasks.h"

#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/allocator.h"
#include "core/atomic_file.h"
#include "core/parallel.h"
#include "core/strings.h"
#include "nn/activation.h"
#include "train/cli.h"
#include "train/comm.h"

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

namespace fs = std::filesystem;

// A checkpoint of another kind of model (a ViT's given to train_gpt) is named as such.
void check_model_kind(const TaskKind& kind, const Recipe& r, const RunOptions& o) {
  if (kind.has_model(r.model)) return;
  for (const TaskKind* other : task_kinds())
    if (other->has_model(r.model))
      throw std::invalid_argument("--checkpoint: " + o.checkpoint + " holds a " + r.model +
                                  ", which " + other->program() + " trains, not " + kind.program() +
                                  " (" + kind.model_names() + ")");
  throw std::invalid_argument("--model: unknown model '" + r.model + "' (expected " +
                              kind.model_names() + ")");
}

// A data-parallel run's recipe: the batch in as many parts as processes unless
// --micro-batches says otherwise (or the resumed run's recipe does), a multiple of them.
void split_among_processes(Recipe& r, const RunOptions& o, const CLI::App& app) {
  const int ranks = comm::size();
  if (ranks == 1) return;
  if (!app.count("--micro-batches") && !o.resume) r.micro_batches = ranks;
  if (r.micro_batches % ranks != 0)
    throw std::invalid_argument("--micro-batches: " + std::to_string(r.micro_batches) +
                                (o.resume ? " (the checkpoint's)" : "") +
                                " is not a multiple of the " + std::to_string(ranks) +
                                " processes (each computes an equal share of every batch's parts)");
  if (r.micro_batches > r.batch)
    throw std::invalid_argument(
        "--batch: " + std::to_string(r.batch) + " examples cannot be split among " +
        std::to_string(r.micro_batches) + " parts (one per process at least)");
}

// Resuming on several machines: only rank 0's machine need hold the checkpoint. Rank 0
// sends the file's bytes; every other rank reads them from a private copy in the temp
// directory (removed when the run ends), so all start from the same state.
class SharedCheckpoint {
 public:
  explicit SharedCheckpoint(RunOptions& o) {
    if (comm::size() == 1 || !o.resume) return;
    if (o.checkpoint.empty()) o.checkpoint = (fs::path(o.out) / "checkpoint.h5").string();
    std::vector<char> bytes;
    if (comm::rank() == 0) {
      std::ifstream in(o.checkpoint, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    comm::broadcast(bytes, "the checkpoint to resume");
    if (comm::rank() == 0 || bytes.empty()) return;  // rank 0 reports a missing file
    copy_ = fs::temp_directory_path() / ("dapa-resume-" + std::to_string(::getpid()) + "-rank" +
                                         std::to_string(comm::rank()) + ".h5");
    write_text_atomically(copy_.string(), std::string(bytes.begin(), bytes.end()));
    o.checkpoint = copy_.string();
  }
  ~SharedCheckpoint() {
    std::error_code ignored;
    if (!copy_.empty()) fs::remove(copy_, ignored);
  }
  SharedCheckpoint(const SharedCheckpoint&) = delete;
  SharedCheckpoint& operator=(const SharedCheckpoint&) = delete;

 private:
  fs::path copy_;
};

int run(TaskKind& kind, RunOptions& o, Recipe& r, const CLI::App& app) {
  if (o.threads > 0) set_num_threads(o.threads);
  // Processes sharing a machine share its cores.
  if (o.threads == 0 && comm::local_size() > 1)
    set_num_threads(std::max(1, max_threads() / comm::local_size()));
  comm::set_timeout(o.mpi_timeout);
  CheckpointMeta meta;
  std::unique_ptr<Task> task;
  Rng rng(r.seed);
  std::unique_ptr<SharedCheckpoint> shared;
  comm::agree([&] { shared = std::make_unique<SharedCheckpoint>(o); });
  comm::agree([&] {
    meta = prepare_run(o, r, app);
    split_among_processes(r, o, app);
    check_model_kind(kind, r, o);
    rng = Rng(r.seed);
    task = kind.make(o, r, meta, rng);
  });
  return run_task(*task, o, r, meta, rng);
}

// A failure on this rank alone (a write that failed, a diverged replica): said with the
// rank when there are several, and the job ends on every rank.
[[noreturn]] void fail(const std::string& program, const std::string& message) {
  std::string rank = comm::size() > 1 ? "rank " + std::to_string(comm::rank()) + ": " : "";
  std::fprintf(stderr, "%s: %s%s\n", program.c_str(), rank.c_str(), message.c_str());
  if (comm::size() > 1) comm::abort(1);
  cli::exit_after_error(1);
}

// A mode that replaces training (train_gpt --sample) runs on rank 0 alone.
std::optional<int> run_instead(TaskKind& kind, RunOptions& o, Recipe& r, const CLI::App& app) {
  std::optional<int> code;
  comm::agree([&] {
    if (comm::rank() == 0) code = kind.run_instead(o, r, app);
  });
  std::vector<char> ran{static_cast<char>(code.has_value())};
  comm::broadcast(ran, "whether rank 0 ran instead of training");
  if (ran[0]) return code.value_or(0);
  return std::nullopt;
}

}  // namespace

int train_main(TaskKind& kind, int argc, char** argv) {
  comm::init(&argc, &argv);
  const std::string program = kind.program();
  // Every rank runs the same command: rank 0 alone prints what all of them would.
  const bool speaker = comm::rank() == 0;
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
  int code = 0;
  try {
    app.parse(argc, argv);
    if (std::optional<int> instead = run_instead(kind, o, r, app)) {
      code = *instead;
    } else if (std::string problem = run_problem(o, r, app); !problem.empty()) {
      if (speaker) std::fprintf(stderr, "%s: %s\n", program.c_str(), problem.c_str());
      code = 2;
    } else {
      code = run(kind, o, r, app);
    }
  } catch (const CLI::ParseError& e) {
    code = speaker ? app.exit(e) : e.get_exit_code();
  } catch (const comm::AgreedError& e) {  // every rank failed alike: the job ends normally
    if (speaker) std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());
    comm::finalize();
    cli::exit_after_error(1);
  } catch (const std::bad_alloc&) {
    fail(program, "out of memory (try a smaller --batch)");
  } catch (const std::exception& e) {
    fail(program, e.what());
  }
  comm::finalize();
  return code;
}

}  // namespace dapa
