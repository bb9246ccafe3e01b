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
  EXPECT_NE(error_of("dapa:16:fixed:slope").find("dapa:N[:slope|:fitted][:refined][:fixed]"),
            std::string::npos);
  EXPECT_NE(error_of("pwl:8:fitted").find("pwl:N[:fixed]"), std::string::npos);
  EXPECT_NE(error_of("dapa:16:").find("expected"), std::string::npos);
  EXPECT_NE(error_of("swish").find("dapa:N"), std::string::npos);
  TableSpec s = parse_table_spec("dapa:32:fitted:fixed");
  EXPECT_TRUE(s.dapa && s.fixed);
  EXPECT_EQ(s.segments, 32);
  EXPECT_EQ(s.mode, DerivativeMode::Fitted);
  s = parse_table_spec("pwl:4:fixed");
  EXPECT_TRUE(!s.dapa && s.fixed && s.mode == DerivativeMode::Slope);
  EXPECT_FALSE(parse_table_spec("dapa:8").fixed);
  s = parse_table_spec("dapa:16:fitted:refined:fixed");
  EXPECT_TRUE(s.refined && s.fixed && s.mode == DerivativeMode::Fitted);
  EXPECT_TRUE(parse_table_spec("dapa:16:refined").refined);
  EXPECT_FALSE(parse_table_spec("dapa:16").refined);
  EXPECT_NE(error_of("pwl:16:refined").find("pwl:N[:fixed]"), std::string::npos);
  EXPECT_NE(error_of("dapa:16:fixed:refined").find("expected"), std::string::npos);
}

TEST(TableActivation, CalibratesOnGeluThenRunsItsTable) {
  TableActivation act("dapa:8", parse_table_spec("dapa:8"));
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

TEST(TableActivation, FixedPointRunsTheIntegerUnit) {
  for (std::string name : {"dapa:16:fixed", "dapa:16:fitted:fixed", "pwl:16:fixed"}) {
    auto act = make_activation(name);
    auto* t = dynamic_cast<TableActivation*>(act.get());
    ASSERT_TRUE(t->calibrating()) << name;  // even PWL: its formats come from the data
    Rng rng(9);
    Tensor x = Tensor::empty({32, 200});
    rng.fill_normal(x, 0.0f, 1.5f);
    act->apply(x);
    t->fit();
    ASSERT_FALSE(t->calibrating());
    const FixedTable* f = t->fixed_table();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->mode, t->spec().mode);
    Var xv(x, true);
    Var y = act->forward(xv);
    backward(sum(sum(y, 1), 0));
    for (int64_t i = 0; i < x.numel(); i += 7) {
      int16_t xq = to_fixed(x.data()[i], f->frac_x);
      int k = f->segment_index(xq);
      ASSERT_EQ(y.value().data()[i], static_cast<float>(from_fixed(f->forward(xq), f->frac_y)))
          << name;
      ASSERT_EQ(xv.grad().data()[i],
                static_cast<float>(from_fixed(f->derivative(xq, k), f->derivative_frac())))
          << name;
    }
  }
}

TEST(TableActivation, RefitsFromWhatItRecords) {
  TableActivation act("dapa:8", parse_table_spec("dapa:8"));
  Rng rng(3);
  Tensor x = Tensor::empty({4096});
  rng.fill_normal(x, 0.0f, 1.0f);
  act.apply(x);
  act.fit();
  double median = act.table().breakpoints[3];
  Tensor moved = add(scale(x, 2.0f), Tensor::ones({4096}));
  act.apply(moved);  // not recording: the table stays
  EXPECT_EQ(act.table().breakpoints[3], median);
  act.start_recording();
  act.apply(moved);
  EXPECT_EQ(act.distribution().count(), x.numel());
  act.fit();
  EXPECT_NEAR(act.table().breakpoints[3], 2 * median + 1, 1e-3);
  // A fixed table needs data for its formats.
  TableActivation fixed("dapa:8:fixed", parse_table_spec("dapa:8:fixed"));
  EXPECT_THROW(fixed.set_table(act.table(), nullptr), std::invalid_argument);
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
