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
  check_gradient(std::get<0>(GetParam()), std::get<1>(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradCheck,
                         ::testing::Combine(::testing::ValuesIn(op_cases()),
                                            ::testing::Values(1u, 2u, 3u)),
                         [](const auto& info) {
                           return test_name(std::get<0>(info.param).name) + "_seed" +
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
  auto f = [](const std::vector<Var>& x) { return apply(find_function("relu"), x[0]); };
  GradCheckResult r = gradcheck(f, {Tensor::from({0.0f, 0.001f, 1.0f, -1.0f}, {4})}, options);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.skipped, 2);
  EXPECT_EQ(r.checked, 2);
}

}  // namespace
}  // namespace dapa::test
