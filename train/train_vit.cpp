// train_vit: trains a Vision Transformer on an HDF5 image data set (prepare_data makes
// one), logs the loss curve, evaluates every epoch and checkpoints to HDF5. Also
// resumes an interrupted run bit for bit, evaluates a checkpoint (--eval-only), and
// times training steps (--benchmark-steps). Run with --help for every flag. The loop
// itself is the shared trainer (train/trainer.h); this file supplies the ViT and images.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

#include "autograd/ops.h"
#include "core/allocator.h"
#include "core/kernels.h"
#include "core/parallel.h"
#include "data/dataset.h"
#include "nn/vit.h"
#include "train/cli.h"
#include "train/trainer.h"

namespace dapa {
namespace {

// Refuses a batch that cannot be trained on: larger than the training split, or needing
// more memory than this process can get (which would end in the OOM killer's SIGKILL,
// or in std::bad_alloc thrown inside a parallel region, where it cannot be caught).
void check_batch_fits(const VitConfig& cfg, int64_t batch, int64_t train_images, bool eval_only) {
  if (!eval_only && batch > train_images)
    throw std::invalid_argument("--batch " + std::to_string(batch) + " is larger than the " +
                                std::to_string(train_images) + " training images");
  double need = static_cast<double>(cfg.step_bytes_per_image()) * static_cast<double>(batch);
  int64_t avail = available_memory_bytes();
  if (avail >= 0 && need > static_cast<double>(avail))
    throw std::invalid_argument(
        "--batch " + std::to_string(batch) + ": a step of " + cfg.model + " on " +
        std::to_string(cfg.height) + "x" + std::to_string(cfg.width) + " images needs about " +
        std::to_string(static_cast<int64_t>(need / 1048576)) + " MB, and this process can get " +
        std::to_string(avail / 1048576) + " MB (use a smaller --batch)");
}

// A ViT classifying the images of a data set.
class VitTask : public Task {
 public:
  VitTask(const Dataset& data, const VitConfig& cfg, Rng& rng, const Recipe& r)
      : data_(data), model_(cfg, rng), loader_(data_, data_.train, r.batch, true, r.seed) {}

  Module& model() override { return model_; }
  std::string unit() const override { return "images"; }
  int64_t train_examples() const override { return data_.train.n; }
  int64_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  int64_t load_batch(int64_t epoch, int64_t index) override {
    loader_.batch(epoch, index, x_, y_);  // x_: (B, C, H, W), y_: (B)
    return static_cast<int64_t>(y_.size());
  }
  Var loss() override { return cross_entropy(model_.forward(x_), y_); }

  Evaluation evaluate(int64_t batch) override {
    NoGradGuard no_grad;
    DataLoader loader(data_, data_.test, batch, false, 0);
    Evaluation e;
    double loss_sum = 0;
    int64_t correct = 0;
    Tensor x;
    Labels y;
    for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
      loader.batch(0, b, x, y);
      Tensor logits = model_.forward(x).value();  // (B, classes)
      loss_sum += cross_entropy(logits, y).loss * static_cast<double>(y.size());
      int64_t C = logits.shape()[1];
      for (size_t i = 0; i < y.size(); ++i) {
        const float* row = logits.data() + i * C;
        auto predicted = static_cast<uint8_t>(std::max_element(row, row + C) - row);
        e.predicted.push_back(predicted);
        correct += predicted == y[i];
      }
    }
    e.loss = loss_sum / data_.test.n;
    e.accuracy = static_cast<double>(correct) / data_.test.n;
    return e;
  }

  nlohmann::json model_config() const override {
    const VitConfig& c = model_.config;
    return {{"dim", c.dim},        {"depth", c.depth},
            {"heads", c.heads},    {"mlp_hidden", c.mlp_hidden},
            {"patch", c.patch},    {"channels", c.channels},
            {"height", c.height},  {"width", c.width},
            {"classes", c.classes}};
  }

 private:
  const Dataset& data_;
  Vit model_;
  DataLoader loader_;
  Tensor x_;
  Labels y_;
};

int run(RunOptions& o, Recipe& r, const CLI::App& app) {
  if (o.threads > 0) set_num_threads(o.threads);
  CheckpointMeta meta = prepare_run(o, r, app);
  Dataset data = load_dataset(o.data, o.preload);
  limit_split(data.train, r.limit_train, data.image_size());
  limit_split(data.test, r.limit_test, data.image_size());
  VitConfig cfg = vit_config(r.model, data.channels, data.height, data.width, data.classes, r.act);
  check_batch_fits(cfg, o.eval_only ? std::max(o.eval_batch, r.batch) : r.batch, data.train.n,
                   o.eval_only);
  Rng rng(r.seed);
  VitTask task(data, cfg, rng, r);
  return run_task(task, o, r, meta, rng);
}

}  // namespace
}  // namespace dapa

int main(int argc, char** argv) {
  dapa::RunOptions o;
  o.program = "train_vit";
  o.out = "runs/vit";
  dapa::Recipe r;
  CLI::App app{"Train a Vision Transformer on an HDF5 image data set (see prepare_data)."};
  dapa::add_run_flags(app, o);
  dapa::add_recipe_flags(app, r, dapa::vit_model_names(), dapa::activation_names());
  dapa::cli::one_line_errors(app, "train_vit");
  CLI11_PARSE(app, argc, argv);
  if (std::string problem = dapa::run_problem(o, r, app); !problem.empty()) {
    std::fprintf(stderr, "train_vit: %s\n", problem.c_str());
    return 2;
  }
  try {
    return dapa::run(o, r, app);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "train_vit: out of memory (try a smaller --batch)\n");
    dapa::cli::exit_after_error(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_vit: %s\n", e.what());
    dapa::cli::exit_after_error(1);
  }
}
