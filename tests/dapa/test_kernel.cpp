// The fused table kernel against the double-precision table it was built from.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/rng.h"
#include "dapa/kernel.h"

namespace dapa {
namespace {

Distribution sample(uint64_t seed) {
  Rng rng(seed);
  Distribution d;
  std::vector<float> xs(50000);
  for (float& x : xs) x = rng.normal(0.3f, 1.5f);
  d.add(xs.data(), static_cast<int64_t>(xs.size()));
  return d;
}

TEST(TableKernel, ForwardAndIndexMatchTheTable) {
  PiecewiseLinear table = fit_dapa(sample(1), 16, find_function("gelu"));
  TableKernel k(table);
  std::vector<float> xs;
  Rng rng(2);
  for (int i = 0; i < 3000; ++i) xs.push_back(rng.normal(0.0f, 3.0f));
  for (double b : table.breakpoints) xs.push_back(static_cast<float>(b));  // exactly on one
  Tensor x = Tensor::from(xs, {static_cast<int64_t>(xs.size())});
  std::vector<uint8_t> index;
  std::vector<float> y = table_forward(k, x, &index).to_vector();
  for (size_t i = 0; i < xs.size(); ++i) {
    // The kernel's convention is float32's: segment = #{j : float(b_j) <= x}. It differs
    // from the double table only for x exactly at a breakpoint that float rounds.
    int seg = 0;
    for (double b : table.breakpoints) seg += xs[i] >= static_cast<float>(b);
    ASSERT_EQ(index[i], seg) << "x = " << xs[i];
    double expect = table.slope[seg] * xs[i] + table.intercept[seg];
    ASSERT_NEAR(y[i], expect, 1e-5 * std::max(1.0f, std::abs(xs[i])));
  }
  Tensor gy = Tensor::full(x.shape(), 2.0f);
  std::vector<float> gx = table_backward_from_index(k, index, gy).to_vector();
  for (size_t i = 0; i < xs.size(); ++i)
    ASSERT_FLOAT_EQ(gx[i], 2.0f * static_cast<float>(table.slope[index[i]]));
  EXPECT_EQ(table_backward(k, x, gy).to_vector(), gx);  // same from x
}

TEST(TableKernel, FittedDerivativeMode) {
  PiecewiseLinear table = fit_dapa(sample(3), 8, find_function("gelu"), DerivativeMode::Fitted);
  TableKernel k(table);
  Tensor x = Tensor::from({-3.0f, -0.4f, 0.1f, 2.5f}, {4});
  ValueAndDerivative r = table_value_and_derivative(k, x);
  for (int64_t i = 0; i < 4; ++i) {
    double v = x.at({i});
    EXPECT_NEAR(r.value.at({i}), table.value(v), 1e-5);
    EXPECT_NEAR(r.derivative.at({i}), table.derivative(v), 1e-5);
  }
  // The backward from x is dy times exactly that derivative.
  Tensor gy = Tensor::from({2.0f, -1.0f, 0.5f, 3.0f}, {4});
  std::vector<float> gx = table_backward(k, x, gy).to_vector();
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(gx[i], gy.at({i}) * r.derivative.at({i}));
}

// Every instruction-set path this CPU has gives the portable loop's bits: values,
// segments, derivatives (both modes, with and without the floor at 0, which the portable
// loop is checked to apply) and the index backward, for tables that fill one
// register, two, or none (the fallback), on lengths with tails, at the breakpoints
// themselves and on NaN and infinities.
TEST(TableKernel, EveryInstructionSetGivesThePortableBits) {
  std::string original = table_kernel_isa();
  Rng rng(8);
  std::vector<float> xs;
  for (int i = 0; i < 4099; ++i) xs.push_back(rng.normal(0.0f, 3.0f));
  xs.insert(xs.end(), {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e30f, -1e30f});
  Tensor gy = Tensor::empty({static_cast<int64_t>(xs.size())});
  rng.fill_normal(gy, 0.0f, 1.0f);
  for (int n : {2, 3, 8, 16, 17, 32, 33}) {
    for (auto [mode, floor] : {std::pair{DerivativeMode::Slope, false},
                               {DerivativeMode::Fitted, false},
                               {DerivativeMode::Slope, true},
                               {DerivativeMode::Fitted, true}}) {
      PiecewiseLinear table = fit_dapa(sample(n), n, find_function("gelu"), mode);
      TableKernel k(table, floor);
      std::vector<float> with_bps = xs;
      for (double b : table.breakpoints) with_bps.push_back(static_cast<float>(b));
      Tensor x = Tensor::from(with_bps, {static_cast<int64_t>(with_bps.size())});
      Tensor g = Tensor::empty(x.shape());
      rng.fill_normal(g, 0.0f, 1.0f);
      set_table_kernel_isa("portable");
      std::vector<uint8_t> index0;
      std::vector<float> y0 = table_forward(k, x, &index0).to_vector();
      ValueAndDerivative vd0 = table_value_and_derivative(k, x);
      if (floor) {
        EXPECT_THROW(table_backward_from_index(k, index0, g), std::invalid_argument);
      }
      std::vector<float> gx0 =
          table_backward_from_index(floor ? TableKernel(table) : k, index0, g).to_vector();
      if (floor) {  // GELU's table dips below 0: there the floor gives 0, derivative 0 too
        ValueAndDerivative line = table_value_and_derivative(TableKernel(table), x);
        int floored = 0;
        for (int64_t i = 0; i < x.numel(); ++i) {
          const bool positive = line.value.data()[i] > 0.0f;
          floored += !positive;
          ASSERT_EQ(vd0.value.data()[i], positive ? line.value.data()[i] : 0.0f) << x.data()[i];
          ASSERT_EQ(vd0.derivative.data()[i], positive ? line.derivative.data()[i] : 0.0f);
        }
        ASSERT_GT(floored, x.numel() / 4);
      }
      for (std::string isa : {"avx2", "avx512"}) {
        try {
          set_table_kernel_isa(isa);
        } catch (const std::invalid_argument&) {
          continue;  // not on this CPU
        }
        std::vector<uint8_t> index;
        std::vector<float> y = table_forward(k, x, &index).to_vector();
        ASSERT_EQ(index, index0) << isa << " N=" << n;
        for (size_t i = 0; i < y.size(); ++i)  // NaN == NaN here: compare the bits
          ASSERT_EQ(std::memcmp(&y[i], &y0[i], 4), 0) << isa << " N=" << n << " x=" << with_bps[i];
        ValueAndDerivative vd = table_value_and_derivative(k, x);
        ASSERT_EQ(std::memcmp(vd.value.data(), vd0.value.data(), 4 * x.numel()), 0) << isa;
        ASSERT_EQ(std::memcmp(vd.derivative.data(), vd0.derivative.data(), 4 * x.numel()), 0)
            << isa << " N=" << n;
        ASSERT_EQ(table_backward_from_index(floor ? TableKernel(table) : k, index, g).to_vector(),
                  gx0)
            << isa;
        // Short runs (an attention row's), each ending in a masked partial vector.
        for (int64_t len = 1; len <= 40; ++len) {
          std::vector<float> y_run(len), d_run(len);
          run_rows(k, x.data() + 3, y_run.data(), d_run.data(), len);
          ASSERT_EQ(std::memcmp(y_run.data(), vd0.value.data() + 3, 4 * len), 0) << isa;
          ASSERT_EQ(std::memcmp(d_run.data(), vd0.derivative.data() + 3, 4 * len), 0) << isa;
        }
      }
    }
  }
  set_table_kernel_isa(original);
  EXPECT_THROW(set_table_kernel_isa("sse9"), std::invalid_argument);
}

TEST(TableKernel, RejectsTablesItCannotRun) {
  Distribution d = sample(4);
  EXPECT_THROW(TableKernel(fit_dapa(d, 300, find_function("gelu"))), std::invalid_argument);
  PiecewiseLinear close = fit_pwl(4, find_function("gelu"));
  close.breakpoints[1] = close.breakpoints[0] + 1e-12;  // distinct in double, not in float
  EXPECT_THROW(TableKernel{close}, std::invalid_argument);
}

}  // namespace
}  // namespace dapa
