// The tape: accumulation, shared gradients, no-grad scope, release, errors.
#include <gtest/gtest.h>

#include "autograd/ops.h"

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

}  // namespace
}  // namespace dapa
