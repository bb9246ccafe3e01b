// The generic gradient check: every op case, several random shapes and seeds, against
// central finite differences (autograd/gradcheck.h).
#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "core/kernels.h"
#include "op_cases.h"

namespace dapa::test {
namespace {

class GradCheck : public ::testing::TestWithParam<std::tuple<OpCase, uint64_t>> {};

TEST_P(GradCheck, BackwardMatchesFiniteDifferences) {
  const auto& [op, seed] = GetParam();
  Rng rng(seed * 7919 + 1);
  std::vector<Tensor> inputs;
  for (const Shape& s : op.shapes(rng)) {
    Tensor t = Tensor::empty(s);
    rng.fill_normal(t, 0.0f, 1.0f);
    inputs.push_back(t);
  }
  Labels labels;
  if (op.needs_labels)
    for (int64_t i = 0; i < inputs[0].shape()[0]; ++i)
      labels.push_back(static_cast<int32_t>(rng.randint(inputs[0].shape()[1])));
  GradCheckOptions options;
  options.kinks = op.kinks;
  options.seed = seed;
  auto f = [&](const std::vector<Var>& xs) { return op.fn(xs, labels); };
  GradCheckResult r = gradcheck(f, inputs, options);
  EXPECT_TRUE(r.ok) << op.name << ": " << r.message;
  EXPECT_GT(r.checked, 0) << op.name << ": no element was checked";
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradCheck,
                         ::testing::Combine(::testing::ValuesIn(op_cases()),
                                            ::testing::Values(1u, 2u, 3u)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_seed" +
                                  std::to_string(std::get<1>(info.param));
                         });

// The checker itself must catch a wrong backward: a deliberately broken op.
TEST(GradCheckSelfTest, DetectsWrongBackward) {
  auto broken = [](const std::vector<Var>& x) {
    Tensor xv = x[0].value();
    return record("broken_square", mul(xv, xv), {x[0]}, [xv](const Tensor& gy, const Needs&) {
      return Grads{mul(gy, xv)};  // should be 2 * x * gy
    });
  };
  GradCheckResult r = gradcheck(broken, {Tensor::from({0.5f, -1.0f, 2.0f}, {3})});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("element"), std::string::npos);
}

TEST(GradCheckSelfTest, SkipsPointsAtKinks) {
  GradCheckOptions options;
  options.kinks = {0.0f};
  auto f = [](const std::vector<Var>& x) { return relu(x[0]); };
  GradCheckResult r = gradcheck(f, {Tensor::from({0.0f, 0.001f, 1.0f, -1.0f}, {4})}, options);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.skipped, 2);
  EXPECT_EQ(r.checked, 2);
}

}  // namespace
}  // namespace dapa::test
