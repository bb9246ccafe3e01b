// The table activations (DAPA, PWL) through the generic gradient checker of
// tests/autograd/op_cases.h: the tape's gradient is the table's derivative, checked
// against finite differences away from the breakpoints. They have no PyTorch twin.
#include <gtest/gtest.h>

#include "autograd/op_cases.h"
#include "nn/table_activation.h"

namespace dapa::test {
namespace {

// DAPA(8) of `function`, slope mode, calibrated on an even grid over [-3, 3]: breakpoints
// near the eighths -2.25, -1.5, ..., 2.25.
std::shared_ptr<TableActivation> grid_dapa8(const std::string& function) {
  std::string name = "dapa:8:" + function;
  auto act = std::make_shared<TableActivation>(name, parse_table_spec(name));
  std::vector<float> xs(60000);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = -3.0f + 6.0f * (i + 0.5f) / xs.size();
  act->value(Tensor::from(xs, {static_cast<int64_t>(xs.size())}));
  act->fit();
  return act;
}

OpCase dapa_case(const std::string& function) {
  std::shared_ptr<TableActivation> act = grid_dapa8(function);
  const std::vector<double>& b = act->table().breakpoints;
  return {"dapa_" + function, elementwise_shape,
          [act](const std::vector<Var>& x, const Labels&) { return apply(*act, x[0]); },
          std::vector<float>(b.begin(), b.end())};
}

std::vector<OpCase> table_cases() {
  auto pwl8 = std::make_shared<TableActivation>("pwl:8", parse_table_spec("pwl:8"));
  return {
      // PWL(8) of GELU on [-4, 4]: breakpoints at the integers -4..4, reached through 2 x.
      {"pwl8",
       elementwise_shape,
       [pwl8](const std::vector<Var>& x, const Labels&) { return apply(*pwl8, scale(x[0], 2.0f)); },
       {-2.0f, -1.5f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f, 2.0f}},
      dapa_case("gelu"),
      dapa_case("silu"),
  };
}

class TableGradCheck : public ::testing::TestWithParam<std::tuple<OpCase, uint64_t>> {};

TEST_P(TableGradCheck, BackwardMatchesFiniteDifferences) {
  check_gradient(std::get<0>(GetParam()), std::get<1>(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(TableOps, TableGradCheck,
                         ::testing::Combine(::testing::ValuesIn(table_cases()),
                                            ::testing::Values(1u, 2u, 3u)),
                         [](const auto& info) {
                           return test_name(std::get<0>(info.param).name) + "_seed" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace dapa::test
