// DAPA and PWL in the activation slot: names, calibration, the one-byte backward.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "nn/layers.h"
#include "nn/table_activation.h"

namespace dapa {
namespace {

std::string error_of(const std::string& name) {
  try {
    make_activation(name);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TableActivation, NamesParseAndBadOnesSayWhy) {
  EXPECT_EQ(make_activation("dapa:16")->name(), "dapa:16");
  EXPECT_EQ(make_activation("pwl:8")->name(), "pwl:8");
  EXPECT_NE(error_of("dapa:0").find("N from 1 to 256"), std::string::npos);
  EXPECT_NE(error_of("dapa:x").find("N from 1 to 256"), std::string::npos);
  EXPECT_NE(error_of("pwl:300").find("N from 1 to 256"), std::string::npos);
  EXPECT_NE(error_of("dapa:16:fixed").find("not available yet"), std::string::npos);
  EXPECT_NE(error_of("swish").find("dapa:N"), std::string::npos);
}

TEST(TableActivation, CalibratesOnGeluThenRunsItsTable) {
  TableActivation act("dapa:8", 8, DerivativeMode::Slope);
  ASSERT_TRUE(act.calibrating());
  Rng rng(5);
  Tensor x = Tensor::empty({64, 128});
  rng.fill_normal(x, 0.0f, 1.0f);
  std::vector<float> exact = gelu(x).to_vector();
  EXPECT_EQ(act.apply(x).to_vector(), exact);  // calibrating: exact GELU
  EXPECT_EQ(act.distribution().count(), x.numel());
  act.fit();
  ASSERT_FALSE(act.calibrating());
  EXPECT_EQ(act.table().segments(), 8);
  EXPECT_NEAR(act.table().breakpoints[3], act.distribution().quantile(0.5), 1e-12);
  // On its own calibration data the table's mean squared error is its DWMSE.
  std::vector<float> approx = act.apply(x).to_vector();
  double mse = 0;
  for (size_t i = 0; i < approx.size(); ++i)
    mse += std::pow(approx[i] - exact[i], 2) / approx.size();
  EXPECT_NEAR(mse, dwmse(act.table(), act.distribution()), 0.05 * mse);
  EXPECT_GT(mse, 0.0);
  EXPECT_LT(mse, 1e-4);
}

TEST(TableActivation, SlopeModeBackwardFromTheSavedIndex) {
  auto act = make_activation("pwl:8");
  Var x(Tensor::from({-5.0f, -0.5f, 0.25f, 3.5f, 9.0f}, {5}), true);
  Var y = act->forward(x);
  backward(sum(y, 0));
  auto* t = dynamic_cast<TableActivation*>(act.get());
  ASSERT_NE(t, nullptr);
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_FLOAT_EQ(x.grad().at({i}), t->table().derivative(x.value().at({i})));
  EXPECT_FLOAT_EQ(x.grad().at({0}), 0.0f);  // PWL's left tail is flat
  EXPECT_FLOAT_EQ(x.grad().at({4}), 1.0f);  // and its right tail the identity
}

TEST(ActivationLinear, ShapeErrorsLikeLinear) {
  auto act = make_activation("gelu");
  Var h(Tensor::zeros({2, 3, 8}), true), w(Tensor::zeros({4, 8}), true);
  EXPECT_THROW(activation_linear(h, *act, w, Var(Tensor::zeros({5}), true)), ShapeError);
  EXPECT_THROW(activation_linear(h, *act, Var(Tensor::zeros({4, 7}), true), Var()), ShapeError);
  EXPECT_EQ(activation_linear(h, *act, w, Var()).shape(), (Shape{2, 3, 4}));
  clear_tape();
}

TEST(TableActivation, TrainsInAViTBlock) {
  Rng rng(6);
  Block block(16, 2, 32, make_activation("pwl:16"), rng);
  Tensor xt = Tensor::empty({2, 5, 16});
  rng.fill_normal(xt, 0, 1);
  Var x(xt, true);
  Var loss = sum(reshape(block.forward(x), {-1}), 0);
  backward(loss);
  EXPECT_TRUE(block.mlp.fc1.weight.grad().defined());
  EXPECT_TRUE(std::isfinite(loss.value().item()));
}

}  // namespace
}  // namespace dapa
