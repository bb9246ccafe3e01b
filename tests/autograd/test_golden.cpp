// Parity with PyTorch: every op case, forward and backward, against fixtures written by
// tests/golden/make_golden.py (float64 PyTorch, stored as float32). Relative tolerance 1e-4.
#include <gtest/gtest.h>

#include "core/h5.h"
#include "op_cases.h"
#include "test_util.h"

namespace dapa::test {
namespace {

class Golden : public ::testing::TestWithParam<OpCase> {};

TEST_P(Golden, MatchesPyTorch) {
  const OpCase& op = GetParam();
  H5Store store(golden_path("ops.h5"), H5Store::Mode::Read);
  std::string g = "ops/" + op.name;
  ASSERT_TRUE(store.exists(g)) << "no PyTorch fixture for op case '" << op.name
                               << "': rerun tests/golden/make_golden.py";
  std::vector<Var> xs;
  for (int i = 0; store.exists(g + "/x" + std::to_string(i)); ++i)
    xs.emplace_back(store.read_tensor(g + "/x" + std::to_string(i)), true);
  Labels labels = op.needs_labels ? store.read_labels(g + "/labels") : Labels{};
  Var y = op.fn(xs, labels);
  EXPECT_TRUE(tensors_close(y.value(), store.read_tensor(g + "/y"))) << "forward of " << op.name;
  backward(y, store.read_tensor(g + "/gy"));
  for (size_t i = 0; i < xs.size(); ++i)
    EXPECT_TRUE(tensors_close(xs[i].grad(), store.read_tensor(g + "/g" + std::to_string(i))))
        << "gradient of input " << i << " of " << op.name;
}

INSTANTIATE_TEST_SUITE_P(AllOps, Golden, ::testing::ValuesIn(op_cases()),
                         [](const auto& info) { return test_name(info.param.name); });

}  // namespace
}  // namespace dapa::test
