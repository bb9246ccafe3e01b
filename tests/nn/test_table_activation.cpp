// DAPA and PWL in the activation slot: names, calibration, tables of any registered
// function, the table derivative in backward, training through a block.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "dapa/fit.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/table_activation.h"
#include "test_util.h"

namespace dapa {
namespace {

std::string error_of(const std::string& name) {
  return test::thrown_message<std::invalid_argument>([&] { make_activation(name); });
}

TEST(TableActivation, NamesParseAndBadOnesSayWhy) {
  EXPECT_EQ(make_activation("dapa:16")->name(), "dapa:16");
  EXPECT_EQ(make_activation("pwl:8")->name(), "pwl:8");
  EXPECT_EQ(make_activation("silu")->name(), "silu");
  EXPECT_NE(error_of("dapa:0").find("N from 1 to 256"), std::string::npos);
  EXPECT_NE(error_of("dapa:x").find("N from 1 to 256"), std::string::npos);
  EXPECT_NE(error_of("pwl:300").find("N from 1 to 256"), std::string::npos);
  EXPECT_NE(error_of("dapa:16:slope:fitted").find("contradicts"), std::string::npos);
  EXPECT_NE(error_of("dapa:16:fixed:fixed").find("repeats"), std::string::npos);
  EXPECT_NE(error_of("dapa:16:gelu:silu").find("contradicts"), std::string::npos);
  EXPECT_NE(error_of("dapa:16:swish").find("unknown option 'swish'"), std::string::npos);
  EXPECT_NE(error_of("pwl:8:fitted").find("pwl:N[:fixed]"), std::string::npos);
  EXPECT_NE(error_of("pwl:16:refined").find("pwl:N[:fixed]"), std::string::npos);
  EXPECT_NE(error_of("dapa:16:").find("expected"), std::string::npos);
  // Unknown names list every registered function and the table forms.
  EXPECT_NE(error_of("swish").find("gelu, gelu-tanh, relu, silu, exp, dapa:N"), std::string::npos);
  TableSpec s = parse_table_spec("dapa:32:fitted:fixed");
  EXPECT_TRUE(s.dapa && s.fixed);
  EXPECT_EQ(s.segments, 32);
  EXPECT_EQ(s.mode, DerivativeMode::Fitted);
  EXPECT_EQ(s.function->name, "gelu");  // the default
  s = parse_table_spec("pwl:4:fixed");
  EXPECT_TRUE(!s.dapa && s.fixed && s.mode == DerivativeMode::Slope);
  EXPECT_FALSE(parse_table_spec("dapa:8").fixed);
  s = parse_table_spec("dapa:16:silu:fixed:refined:fitted");  // options in any order
  EXPECT_TRUE(s.refined && s.fixed && s.mode == DerivativeMode::Fitted);
  EXPECT_EQ(s.function->name, "silu");
  EXPECT_EQ(parse_table_spec("pwl:8:gelu-tanh").function->name, "gelu-tanh");
  EXPECT_FALSE(parse_table_spec("dapa:16").refined);
  EXPECT_EQ(activation_function("dapa:16:relu").name, "relu");
  EXPECT_EQ(activation_function("gelu-tanh").name, "gelu-tanh");
  EXPECT_THROW(activation_function("dapa:16:swish"), std::invalid_argument);
}

TEST(TableActivation, CalibratesOnGeluThenRunsItsTable) {
  TableActivation act("dapa:8", parse_table_spec("dapa:8"));
  ASSERT_TRUE(act.calibrating());
  Rng rng(5);
  Tensor x = Tensor::empty({64, 128});
  rng.fill_normal(x, 0.0f, 1.0f);
  std::vector<float> exact = apply(find_function("gelu"), x).to_vector();
  EXPECT_EQ(act.value(x).to_vector(), exact);  // calibrating: exact GELU
  EXPECT_EQ(act.distribution().count(), x.numel());
  act.fit();
  ASSERT_FALSE(act.calibrating());
  EXPECT_EQ(act.table().segments(), 8);
  EXPECT_NEAR(act.table().breakpoints[3], act.distribution().quantile(0.5), 1e-12);
  // On its own calibration data the table's mean squared error is its DWMSE.
  std::vector<float> approx = act.value(x).to_vector();
  double mse = 0;
  for (size_t i = 0; i < approx.size(); ++i)
    mse += std::pow(approx[i] - exact[i], 2) / approx.size();
  EXPECT_NEAR(mse, dwmse(act.table(), act.distribution()), 0.05 * mse);
  EXPECT_GT(mse, 0.0);
  EXPECT_LT(mse, 1e-4);
}

TEST(TableActivation, SlopeModeBackwardIsTheSegmentSlope) {
  auto act = make_activation("pwl:8");
  Var x(Tensor::from({-5.0f, -0.5f, 0.25f, 3.5f, 9.0f}, {5}), true);
  Var y = apply(*act, x);
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
    act->value(x);
    t->fit();
    ASSERT_FALSE(t->calibrating());
    const FixedTable* f = t->fixed_table();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->mode, t->spec().mode);
    Var xv(x, true);
    Var y = apply(*act, xv);
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
  act.value(x);
  act.fit();
  double median = act.table().breakpoints[3];
  Tensor moved = add(scale(x, 2.0f), Tensor::ones({4096}));
  act.value(moved);  // not recording: the table stays
  EXPECT_EQ(act.table().breakpoints[3], median);
  act.start_recording();
  act.value(moved);
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
  // A residual must have the output's shape.
  EXPECT_THROW(activation_linear(h, *act, w, Var(), Var(Tensor::zeros({2, 3, 8}), true)),
               ShapeError);
  clear_tape();
}

// DAPA of SiLU: calibrates on exact SiLU, fits SiLU (not GELU), and refuses a GELU table.
TEST(TableActivation, ApproximatesAnyRegisteredFunction) {
  TableActivation act("dapa:16:silu", parse_table_spec("dapa:16:silu"));
  const ElementwiseFunction& silu = find_function("silu");
  Rng rng(4);
  Tensor x = Tensor::empty({8192});
  rng.fill_normal(x, 0.0f, 2.0f);
  EXPECT_EQ(act.value(x).to_vector(), apply(silu, x).to_vector());
  act.fit();
  EXPECT_EQ(act.table().target, &silu);
  EXPECT_EQ(act.table().segments(), 16);
  EXPECT_LT(dwmse(act.table(), act.distribution()), 1e-3);
  // Against GELU, which differs from SiLU by up to 0.2 near x = -1.5 and 1.5, it errs far more.
  PiecewiseLinear as_gelu = act.table();
  as_gelu.target = &find_function("gelu");
  EXPECT_GT(dwmse(as_gelu, act.distribution()), 100 * dwmse(act.table(), act.distribution()));
  TableActivation gelu_act("dapa:16", parse_table_spec("dapa:16"));
  gelu_act.value(x);
  gelu_act.fit();
  EXPECT_THROW(act.set_table(gelu_act.table(), nullptr), std::invalid_argument);
}

// A block with a PWL(16) MLP activation learns: 30 AdamW steps towards a fixed random
// target cut the mean squared error at least in half, and every parameter gets a gradient.
TEST(TableActivation, TrainsInAViTBlock) {
  Rng rng(6);
  Block block(BlockConfig{16, 2, 32}, make_activation("pwl:16"), nullptr, rng);
  Tensor x = Tensor::empty({2, 5, 16}), target = Tensor::empty({2, 5, 16});
  rng.fill_normal(x, 0, 1);
  rng.fill_normal(target, 0, 1);
  AdamW opt(param_groups(block), 0.0f);
  std::vector<float> losses;
  for (int step = 0; step < 30; ++step) {
    opt.zero_grad();
    Var d = sub(block.forward(Var(x)), Var(target));
    Var loss = mean(reshape(mul(d, d), {-1}), 0);
    backward(loss);
    for (auto& [name, p] : block.named_parameters())
      ASSERT_TRUE(p->grad().defined()) << name << " got no gradient";
    losses.push_back(loss.value().item());
    opt.step(1e-2f);
  }
  EXPECT_TRUE(std::isfinite(losses.back()));
  EXPECT_LT(losses.back(), 0.5f * losses.front());
}

}  // namespace
}  // namespace dapa
