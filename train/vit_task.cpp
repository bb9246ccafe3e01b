// The ViT task: a Vision Transformer classifying the images of an HDF5 data set
// (prepare_data makes one). train_vit is this task in the shared trainer.
#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "core/kernels.h"
#include "data/dataset.h"
#include "nn/vit.h"
#include "train/tasks.h"

namespace dapa {
namespace {

class VitTask : public Task {
 public:
  VitTask(Dataset data, const VitConfig& cfg, Rng& rng, const Recipe& r)
      : data_(std::move(data)),
        model_(cfg, rng),
        loader_(data_, data_.train, r.batch, true, r.seed) {}

  Module& model() override { return model_; }
  std::string unit() const override { return "images"; }
  int64_t train_examples() const override { return data_.train.n; }
  int64_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  int64_t load_batch(int64_t epoch, int64_t index) override {
    loader_.batch(epoch, index, x_, y_);  // x_: (B, C, H, W), y_: (B)
    return static_cast<int64_t>(y_.size());
  }
  Var part_loss(int64_t part, int64_t parts, int64_t* examples) override {
    const auto n = static_cast<int64_t>(y_.size());
    const int64_t begin = part * n / parts, end = (part + 1) * n / parts;
    *examples = end - begin;
    if (begin == 0 && end == n) return cross_entropy(model_.forward(x_), y_);
    if (begin == end) return Var();
    Labels y(y_.begin() + begin, y_.begin() + end);
    return cross_entropy(model_.forward(x_.slice(0, begin, end)), y);  // (part, C, H, W)
  }

  std::vector<std::string> evaluation_names() const override {
    return {"test_loss", "test_accuracy"};
  }
  Evaluation evaluate(int64_t batch) override {
    NoGradGuard no_grad;
    DataLoader loader(data_, data_.test, batch, false, 0);
    Evaluation e{"test", {}, {}};
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
      loader.batch(0, b, x_, y_);
      RowScores s = score_rows(model_.forward(x_).value(), y_);  // logits: (B, classes)
      for (size_t i = 0; i < y_.size(); ++i) {
        loss_sum += s.loss[i];
        correct += s.argmax[i] == y_[i];
      }
      e.predicted.insert(e.predicted.end(), s.argmax.begin(), s.argmax.end());
    }
    double n = static_cast<double>(data_.test.n);
    e.values = {{"test_loss", loss_sum / n}, {"test_accuracy", static_cast<double>(correct) / n}};
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

  int64_t calibration_batches(int64_t examples, int64_t batch) override {
    if (examples > data_.train.n)
      throw std::invalid_argument("--images: " + data_.path + " holds only " +
                                  std::to_string(data_.train.n) + " training images, asked for " +
                                  std::to_string(examples));
    limit_split(data_.train, examples, data_.image_size());
    calibration_ =
        std::make_unique<DataLoader>(data_, data_.train, std::min(batch, examples), false, 0);
    return calibration_->batches_per_epoch();
  }
  int64_t calibration_forward(int64_t index) override {
    calibration_->batch(0, index, x_, y_);
    model_.forward(x_);
    return static_cast<int64_t>(y_.size());
  }

 private:
  Dataset data_;
  Vit model_;
  DataLoader loader_;
  std::unique_ptr<DataLoader> calibration_;
  Tensor x_;
  Labels y_;
};

class VitKind : public TaskKind {
 public:
  std::string program() const override { return "train_vit"; }
  std::string description() const override {
    return "Train a Vision Transformer on an HDF5 image data set (see prepare_data).";
  }
  std::string data_maker() const override { return "prepare_data"; }
  std::string examples() const override { return "images"; }
  std::vector<std::string> models() const override { return vit_model_names(); }
  std::string default_out() const override { return "runs/vit"; }

  std::unique_ptr<Task> make(const RunOptions& o, const Recipe& r, const CheckpointMeta& /*meta*/,
                             Rng& rng) const override {
    Dataset data = load_dataset(o.data, o.preload);
    limit_split(data.train, r.limit_train, data.image_size());
    limit_split(data.test, r.limit_test, data.image_size());
    VitConfig cfg =
        vit_config(r.model, data.channels, data.height, data.width, data.classes, r.act, r.softmax);
    int64_t batch = o.eval_only ? std::max(o.eval_batch, r.batch) : r.batch;
    if (!o.eval_only && r.batch > data.train.n)
      throw std::invalid_argument("--batch " + std::to_string(r.batch) + " is larger than the " +
                                  std::to_string(data.train.n) + " training images");
    check_step_fits("--batch " + std::to_string(batch) + ": a step of " + cfg.model + " on " +
                        std::to_string(cfg.height) + "x" + std::to_string(cfg.width) + " images",
                    static_cast<double>(cfg.step_bytes_per_image()) * static_cast<double>(batch));
    return std::make_unique<VitTask>(std::move(data), cfg, rng, r);
  }
};

}  // namespace

TaskKind& vit_task_kind() {
  static VitKind kind;
  return kind;
}

}  // namespace dapa
