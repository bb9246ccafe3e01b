// demo_mlp: shows the autograd training end to end on a synthetic problem: an MLP
// (Linear -> activation -> Linear -> activation -> Linear) learns to classify points of
// a three-armed spiral, with AdamW and cross-entropy. Prints the loss as it falls and
// the final accuracy; exits non-zero if training did not learn.
#include <CLI/CLI.hpp>

#include "train/cli.h"

#include <cmath>
#include <cstdio>

#include "autograd/ops.h"
#include "core/parallel.h"
#include "nn/layers.h"
#include "nn/optim.h"

namespace {
using namespace dapa;

// points: (N, 2), labels: N, from `classes` spiral arms with a little noise.
void make_spiral(int64_t n_per_class, int classes, Rng& rng, Tensor& points, Labels& labels) {
  points = Tensor::empty({n_per_class * classes, 2});
  labels.clear();
  for (int c = 0; c < classes; ++c)
    for (int64_t i = 0; i < n_per_class; ++i) {
      float r = static_cast<float>(i) / n_per_class;
      float t = c * 4.0f + 4.0f * r + rng.normal(0.0f, 0.2f);
      int64_t row = c * n_per_class + i;
      points.at({row, 0}) = r * std::sin(t);
      points.at({row, 1}) = r * std::cos(t);
      labels.push_back(c);
    }
}

class SpiralNet : public Module {
 public:
  SpiralNet(int64_t hidden, const std::string& act, Rng& rng)
      : fc1(2, hidden, rng),
        fc2(hidden, hidden, rng),
        head(hidden, 3, rng),
        act1(make_activation(act)),
        act2(make_activation(act)) {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
    register_module("head", head);
  }
  Var forward(const Var& x) {  // x: (N, 2) -> logits (N, 3)
    return head.forward(apply(*act2, fc2.forward(apply(*act1, fc1.forward(x)))));
  }
  Linear fc1, fc2, head;
  std::unique_ptr<Activation> act1, act2;
};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a small MLP on a synthetic spiral with the hand-written autograd."};
  int steps = 600, hidden = 64, threads = 0;
  uint64_t seed = 0;
  float lr = 1e-2f;
  std::string act = "gelu";
  app.add_option("--steps", steps, "training steps (full batch)")->check(dapa::cli::positive());
  app.add_option("--hidden", hidden, "hidden width")->check(dapa::cli::positive());
  app.add_option("--lr", lr, "AdamW learning rate")->check(dapa::cli::positive());
  app.add_option("--act", act, "activation: " + dapa::function_names());
  app.add_option("--seed", seed, "random seed");
  app.add_option("--threads", threads, "threads (default: DAPA_NUM_THREADS or all cores)")
      ->check(dapa::cli::non_negative());
  dapa::cli::one_line_errors(app, "demo_mlp");
  CLI11_PARSE(app, argc, argv);

  try {
    if (threads > 0) set_num_threads(threads);
    Rng rng(seed);
    Tensor points;
    Labels labels;
    make_spiral(200, 3, rng, points, labels);
    SpiralNet net(hidden, act, rng);
    AdamW opt(param_groups(net), 1e-4f);
    Var x(points);
    std::printf("demo_mlp: %lld points, 3 classes, MLP 2-%d-%d-3 (%s), %lld parameters\n",
                static_cast<long long>(points.shape()[0]), hidden, hidden, act.c_str(),
                static_cast<long long>(net.parameter_count()));
    float first = 0.0f, last = 0.0f;
    for (int step = 1; step <= steps; ++step) {
      Var loss = cross_entropy(net.forward(x), labels);
      last = loss.value().item();
      if (step == 1) first = last;
      opt.zero_grad();
      backward(loss);
      opt.step(lr);
      if (step == 1 || step % 100 == 0) std::printf("step %4d  loss %.4f\n", step, last);
    }
    NoGradGuard no_grad;
    Tensor logits = net.forward(x).value();
    int64_t correct = 0;
    for (int64_t i = 0; i < logits.shape()[0]; ++i) {
      int best = 0;
      for (int c = 1; c < 3; ++c)
        if (logits.at({i, c}) > logits.at({i, best})) best = c;
      correct += best == labels[i];
    }
    double acc = 100.0 * correct / logits.shape()[0];
    std::printf("final loss %.4f (from %.4f), training accuracy %.1f%%\n", last, first, acc);
    return last < 0.5f * first ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo_mlp: %s\n", e.what());
    return 1;
  }
}
