// The tape: accumulation, shared gradients, no-grad scope, release, errors.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "autograd/profile.h"
#include "core/functions.h"
#include "core/rng.h"

namespace dapa {
namespace {

TEST(Tape, GradientsAccumulateAcrossUsesAndPasses) {
  Var x(Tensor::from({2.0f, -3.0f}, {2}), true);
  Var y = sum(add(mul(x, x), x), 0);  // d/dx = 2x + 1
  backward(y);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{5.0f, -5.0f}));
  backward(sum(scale(x, 3.0f), 0));  // second pass adds 3
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{8.0f, -2.0f}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Tape, SharedUpstreamGradientIsNotAliased) {
  // add() hands the same gradient tensor to both inputs; later accumulation into one
  // must not change the other.
  Var a(Tensor::from({1.0f}, {1}), true), b(Tensor::from({1.0f}, {1}), true);
  Var y = sum(add(add(a, b), scale(a, 10.0f)), 0);
  backward(y);
  EXPECT_FLOAT_EQ(a.grad().item(), 11.0f);
  EXPECT_FLOAT_EQ(b.grad().item(), 1.0f);
}

// A watched leaf is reported once no later node adds to it: here w2 (used last in the
// forward) before w1, and w1 only after its second use (the first on the tape) is through;
// each reported gradient is already the final one. A leaf on no node is not reported.
TEST(Tape, WatchedLeavesAreReportedWhenTheirGradientIsFinal) {
  Var x(Tensor::from({1.0f, 2.0f}, {2}), true);
  Var w1(Tensor::from({3.0f, -1.0f}, {2}), true), w2(Tensor::from({0.5f, 4.0f}, {2}), true);
  Var unused(Tensor::from({1.0f}, {1}), true);
  Var h = mul(w1, x);                   // h = w1 x
  Var y = sum(mul(add(h, w1), w2), 0);  // y = sum((w1 x + w1) w2)
  const std::vector<const Var*> watched{&w1, &w2, &unused, &x};
  std::vector<std::pair<size_t, std::vector<float>>> reports;  // (leaf, its grad then)
  backward(y, watched, [&](size_t i) { reports.emplace_back(i, watched[i]->grad().to_vector()); });
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0].first, 1u);  // w2: dy/dw2 = w1 x + w1
  EXPECT_EQ(reports[0].second, (std::vector<float>{6.0f, -3.0f}));
  EXPECT_EQ(reports[1].first, 0u);  // w1 and x share the first node: w1 listed first
  EXPECT_EQ(reports[1].second, (std::vector<float>{1.0f, 12.0f}));  // (x + 1) w2
  EXPECT_EQ(reports[2].first, 3u);
  EXPECT_EQ(reports[2].second, (std::vector<float>{1.5f, -4.0f}));  // w1 w2
  EXPECT_EQ(w1.grad().to_vector(), reports[1].second);
  EXPECT_FALSE(unused.grad().defined());
  EXPECT_EQ(tape_size(), 0u);
}

// The profile counts each op's calls, its products' FLOPs and its traffic from the
// shapes, times forward and backward, and changes no value or gradient.
TEST(Tape, ProfileCountsOpsAndChangesNothing) {
  auto normal = [](const Shape& shape) {
    Rng rng(3);
    Tensor t = Tensor::empty(shape);
    rng.fill_normal(t, 0.0f, 1.0f);
    return t;
  };
  auto run = [&](bool profile) {
    Var x(normal({6, 5}), true), w(normal({4, 5}), true), b(normal({4}), true);
    set_profiling(profile);
    reset_op_profile();
    backward(sum(sum(mul(linear(x, w, b), linear(x, w, b)), 0), 0));
    set_profiling(false);
    return std::vector<Tensor>{x.grad(), w.grad(), b.grad()};
  };
  std::vector<Tensor> plain = run(false);
  EXPECT_TRUE(op_profile().empty()) << "profiling off records nothing";
  std::vector<Tensor> profiled = run(true);
  for (size_t i = 0; i < plain.size(); ++i)
    EXPECT_EQ(plain[i].to_vector(), profiled[i].to_vector()) << i;
  const OpStats& lin = op_profile().at("linear");
  EXPECT_EQ(lin.calls, 2);
  EXPECT_EQ(lin.forward_flops, 2 * (2.0 * 6 * 4 * 5));                  // 2 M N K each
  EXPECT_EQ(lin.forward_bytes, 2 * 4.0 * (6 * 5 + 4 * 5 + 4 + 6 * 4));  // x, W, b, y
  EXPECT_GT(lin.forward_s, 0.0);
  EXPECT_GT(lin.backward_s, 0.0);
  EXPECT_EQ(op_profile().at("mul").forward_flops, 0.0);  // not a product
  EXPECT_EQ(op_profile().at("sum").calls, 2);
  {
    ProfileScope scope("outside");  // off: nothing
  }
  EXPECT_EQ(op_profile().count("outside"), 0u);
}

TEST(Tape, ReleasedAfterBackwardAndIntermediatesFreed) {
  Var x(Tensor::from({1.0f, 2.0f}, {2}), true);
  Var h = apply(find_function("gelu"), x);
  Var y = sum(h, 0);
  EXPECT_EQ(tape_size(), 2u);
  backward(y);
  EXPECT_EQ(tape_size(), 0u);
  EXPECT_FALSE(h.grad().defined()) << "intermediate gradients are freed";
  EXPECT_TRUE(x.grad().defined());
}

TEST(Tape, NoGradRecordsNothing) {
  Var x(Tensor::from({1.0f}, {1}), true);
  {
    NoGradGuard guard;
    Var y = mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(tape_size(), 0u);
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE(mul(x, x).requires_grad());
  clear_tape();
}

TEST(Tape, ConstantsGetNoGradient) {
  Var x(Tensor::from({1.0f, 2.0f}, {2}), true), c(Tensor::from({3.0f, 4.0f}, {2}), false);
  backward(sum(mul(x, c), 0));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{3.0f, 4.0f}));
  EXPECT_FALSE(c.grad().defined());
}

TEST(Tape, BackwardErrors) {
  Var x(Tensor::from({1.0f, 2.0f}, {2}), true);
  Var y = mul(x, x);
  EXPECT_THROW(backward(y), std::invalid_argument);  // not one element, no seed
  EXPECT_THROW(backward(y, Tensor::ones({3})), ShapeError);
  clear_tape();
  Var c(Tensor::from({1.0f}, {1}), false);
  EXPECT_THROW(backward(c), std::invalid_argument);  // nothing requires grad
}

// The fused nodes (norm_linear, activation_linear) recompute what they do not save with
// the functions the unfused ops run, and add a residual as add() does, so a model gives
// the same bits either way: values and every gradient, compared exactly.
TEST(Fusion, FusedNodesGiveTheUnfusedBits) {
  Rng rng(17);
  auto leaf = [&](const Shape& shape) {
    Tensor t = Tensor::empty(shape);
    rng.fill_normal(t, 0.0f, 1.0f);
    return Var(t, true);
  };
  Var x = leaf({3, 5, 16}), ln_w = leaf({16}), ln_b = leaf({16});
  Var w1 = leaf({24, 16}), b1 = leaf({24}), w2 = leaf({7, 24}), b2 = leaf({7}), g = leaf({3, 5, 7});
  Var r = leaf({3, 5, 7});  // the residual added to the output
  const std::vector<Var*> leaves = {&x, &ln_w, &ln_b, &w1, &b1, &w2, &b2, &r};
  FunctionPointwise gelu(find_function("gelu"));
  // keep_h: the caller still holds h, so activation_linear's backward may not write f(h)
  // over it (else it does, as in a model).
  auto run = [&](bool fused, bool keep_h) {
    for (Var* v : leaves) v->zero_grad();
    Var h = fused ? norm_linear(x, ln_w, ln_b, 1e-6f, w1, b1)
                  : linear(layer_norm(x, ln_w, ln_b, 1e-6f), w1, b1);
    const std::vector<float> h_before = h.value().to_vector();
    Var y = fused ? activation_linear(h, gelu, w2, b2, r) : add(r, linear(apply(gelu, h), w2, b2));
    if (!keep_h) h = Var();
    std::vector<std::vector<float>> out = {y.value().to_vector()};
    backward(sum(sum(sum(mul(y, g), 2), 1), 0));
    for (Var* v : leaves) out.push_back(v->grad().to_vector());
    if (keep_h) {
      EXPECT_EQ(h.value().to_vector(), h_before);
    }
    return out;
  };
  std::vector<std::vector<float>> unfused = run(false, true);
  for (bool keep_h : {true, false}) {
    std::vector<std::vector<float>> fused = run(true, keep_h);
    for (size_t i = 0; i < unfused.size(); ++i)
      EXPECT_EQ(fused[i], unfused[i]) << "tensor " << i << (keep_h ? ", h kept" : ", h dropped");
  }
}

}  // namespace
}  // namespace dapa
