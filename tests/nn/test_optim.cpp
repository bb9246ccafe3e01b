// Optimisers against hand-computed steps; module naming.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/ops.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "nn/layers.h"
#include "nn/optim.h"

namespace dapa {
namespace {

TEST(AdamW, FirstStepsMatchHandComputation) {
  Var w(Tensor::from({1.0f, -2.0f}, {2}), true), b(Tensor::from({0.5f}, {1}), true);
  AdamW opt({{"w", &w, true}, {"b", &b, false}}, 0.1f);
  const float lr = 0.01f;
  w.grad() = Tensor::from({0.3f, -0.4f}, {2});
  b.grad() = Tensor::from({2.0f}, {1});
  opt.step(lr);
  // Step 1: m_hat = g, v_hat = g^2, so the update is lr * sign(g) (eps negligible);
  // decay multiplies w by (1 - lr * wd) first, and not b.
  EXPECT_NEAR(w.value().at({0}), 1.0f * (1 - lr * 0.1f) - lr, 1e-6);
  EXPECT_NEAR(w.value().at({1}), -2.0f * (1 - lr * 0.1f) + lr, 1e-6);
  EXPECT_NEAR(b.value().at({0}), 0.5f - lr, 1e-6);
  // Step 2 with g2 = -g on b: m = 0.9*0.1*2 - 0.1*2 = -0.02, m_hat = -0.02/0.19,
  // v = 0.999*0.001*4 + 0.001*4 = 0.007996, v_hat = 0.007996/0.001999.
  b.grad() = Tensor::from({-2.0f}, {1});
  float before = b.value().at({0});
  opt.step(lr);
  double m_hat = -0.02 / 0.19, v_hat = 0.007996 / (1 - 0.999 * 0.999);
  EXPECT_NEAR(b.value().at({0}), before - lr * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-6);
}

// A parameter of several of the optimiser's threaded pieces (2^14 elements each) and a
// small one: every element follows the update formula, and 1 and 2 threads agree to the
// bit (the pieces are elementwise; each sum of squares stays whole on one thread).
TEST(AdamW, LargeParametersMatchTheFormulaAtAnyThreadCount) {
  const int64_t n = 40000;
  Rng rng(7);
  Tensor w0 = Tensor::empty({n}), g0 = Tensor::empty({n});
  rng.fill_normal(w0, 0.0f, 1.0f);
  rng.fill_normal(g0, 0.0f, 1.0f);
  auto run = [&](int threads) {
    set_num_threads(threads);
    Var w(w0.clone(), true), b(Tensor::from({0.5f, -1.0f}, {2}), true);
    AdamW opt({{"w", &w, true}, {"b", &b, false}}, 0.1f);
    for (int step = 0; step < 2; ++step) {
      w.grad() = g0.clone();
      b.grad() = Tensor::from({2.0f, 1.0f}, {2});
      opt.clip_grad_norm(1.0);
      opt.step(0.01f);
    }
    set_num_threads(max_threads());
    return w.value().to_vector();
  };
  std::vector<float> one = run(1), two = run(std::min(2, max_threads()));
  EXPECT_EQ(one, two);
  // The same gradient twice: m_hat = g, v_hat = g^2 of the clipped g, so each step moves
  // w by lr * sign(g) after the decay (eps negligible where |g| is not tiny).
  double sq = 5.0;  // b's gradient
  for (float g : g0.to_vector()) sq += static_cast<double>(g) * g;
  const double clip = 1.0 / std::sqrt(sq);
  for (int64_t i = 0; i < n; i += 997) {
    const double g = g0.data()[i] * clip;
    if (std::fabs(g) < 1e-5) continue;
    double w = w0.data()[i];
    for (int step = 0; step < 2; ++step) w = w * (1 - 0.01 * 0.1) - 0.01 * (g > 0 ? 1 : -1);
    EXPECT_NEAR(one[i], w, 1e-5) << "element " << i;
  }
}

TEST(AdamW, NamesAParameterWhoseGradientHasAnotherShape) {
  Var w(Tensor::zeros({4}), true);
  AdamW opt({{"blocks.0.w", &w, true}}, 0.1f);
  w.grad() = Tensor::zeros({2, 2});
  for (bool clip : {false, true}) {  // clipping checks before its threaded sums
    try {
      clip ? static_cast<void>(opt.clip_grad_norm(1.0)) : opt.step(0.01f);
      FAIL() << "expected a shape error";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("'blocks.0.w'"), std::string::npos) << e.what();
    }
  }
}

TEST(Sgd, MomentumAccumulates) {
  Var w(Tensor::from({1.0f}, {1}), true);
  Sgd opt({{"w", &w, false}}, 0.9f, 0.0f);
  w.grad() = Tensor::from({1.0f}, {1});
  opt.step(0.1f);
  EXPECT_NEAR(w.value().item(), 0.9f, 1e-7);
  opt.step(0.1f);  // v = 0.9 * 1 + 1 = 1.9
  EXPECT_NEAR(w.value().item(), 0.9f - 0.19f, 1e-6);
}

TEST(Optimizer, ClipGradNorm) {
  Var a(Tensor::zeros({2}), true), b(Tensor::zeros({1}), true);
  a.grad() = Tensor::from({3.0f, 0.0f}, {2});
  b.grad() = Tensor::from({4.0f}, {1});
  Sgd opt({{"a", &a, false}, {"b", &b, false}}, 0.0f, 0.0f);
  EXPECT_NEAR(opt.clip_grad_norm(1.0), 5.0, 1e-9);
  EXPECT_NEAR(a.grad().at({0}), 0.6f, 1e-6);
  EXPECT_NEAR(b.grad().at({0}), 0.8f, 1e-6);
}

TEST(Module, PyTorchStateDictNames) {
  Rng rng(0);
  Block block(BlockConfig{8, 2, 16}, make_activation("gelu"), nullptr, rng);
  std::vector<std::string> names;
  for (auto& [name, v] : block.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"norm1.weight", "norm1.bias", "attn.qkv.weight",
                                             "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                                             "norm2.weight", "norm2.bias", "mlp.fc1.weight",
                                             "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"}));
  EXPECT_EQ(block.parameter_count(),
            2 * 8 + 8 * 24 + 24 + 64 + 8 + 2 * 8 + 8 * 16 + 16 + 16 * 8 + 8);
  EXPECT_THROW(make_activation("swish"), std::invalid_argument);
  EXPECT_THROW(Attention(BlockConfig{10, 3, 40}, nullptr, rng), std::invalid_argument);
}

}  // namespace
}  // namespace dapa
