// The baseline fixed-point GELU: its accuracy against the exact function, and its
// Verilog twin (fused and forward-only) against its C++ (HLS) source, bit for bit on
// every input, one result per cycle; latency and II measured for the cost report.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "Vbaseline.h"
#include "VbaselineForward.h"
#include "core/rng.h"
#include "cosim.h"
#include "gelu_baseline.h"

namespace {

double gelu(double x) {
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}
double gelu_derivative(double x) {
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) +
         x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
}

TEST(BaselineGelu, AccuracyComparableToASixteenBitTable) {
  double max_y = 0, max_d = 0;
  for (int32_t w = INT16_MIN; w <= INT16_MAX; ++w) {
    int16_t y, dx;
    gelu_baseline_element(static_cast<int16_t>(w), 1 << 14, &y, &dx);  // g = 1 in Q14
    double x = std::ldexp(w, -kBaselineFracX);
    max_y = std::max(max_y, std::abs(std::ldexp(y, -kBaselineFracX) - gelu(x)));
    max_d = std::max(max_d, std::abs(std::ldexp(dx, -14) - gelu_derivative(x)));
  }
  EXPECT_LT(max_y, 5e-3);    // measured 4.3e-3, at the clamp edge x = 4
  EXPECT_LT(max_d, 1.5e-2);  // measured 1.1e-2
  EXPECT_GT(max_y, 1e-4);    // a 16-bit polynomial, not exact
}

// Every input in a scrambled order with a random gradient, through one model; the
// measured latency and II go to the cost report.
template <class Model>
void cosimulate_baseline(bool fused) {
  std::vector<int16_t> xs;
  for (int32_t w = INT16_MIN; w <= INT16_MAX; ++w) xs.push_back(static_cast<int16_t>(w));
  dapa::Rng rng(3);
  rng.shuffle(xs);
  std::vector<int16_t> gs;
  for (size_t i = 0; i < xs.size(); ++i)
    gs.push_back(static_cast<int16_t>(static_cast<int32_t>(rng.next_u64() % 65536) - 32768));
  auto check = [&](size_t i, int16_t y_rtl, int16_t dx_rtl) {
    int16_t y, dx;
    gelu_baseline_element(xs[i], gs[i], &y, &dx);
    ASSERT_EQ(y_rtl, y) << "x = " << xs[i];
    if (fused) {
      ASSERT_EQ(dx_rtl, dx) << "x = " << xs[i] << ", g = " << gs[i];
    }
  };
  dapa::hw::CosimResult r = dapa::hw::cosimulate<Model>(xs, gs, check);
  ASSERT_EQ(r.results, static_cast<int64_t>(xs.size()));
  EXPECT_EQ(r.ii, 1.0);
  dapa::hw::record_cosim(fused ? "baseline_fused" : "baseline_forward", r);
}

TEST(BaselineGelu, FusedRtlIsBitExactWithTheHlsSource) {
  cosimulate_baseline<Vbaseline>(true);
}

TEST(BaselineGelu, ForwardOnlyRtlIsBitExactWithTheHlsSource) {
  cosimulate_baseline<VbaselineForward>(false);
}

}  // namespace
