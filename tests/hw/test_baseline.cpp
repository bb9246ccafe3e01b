// The baseline fixed-point GELU: its accuracy against the exact function, and its
// Verilog twin against its C++ (HLS) source, bit for bit on every input, one result per
// cycle after its latency.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "Vbaseline.h"
#include "core/rng.h"
#include "gelu_baseline.h"
#include "verilated.h"

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

TEST(BaselineGelu, RtlIsBitExactWithTheHlsSource) {
  const int latency = 11;
  std::vector<int16_t> xs;
  for (int32_t w = INT16_MIN; w <= INT16_MAX; ++w) xs.push_back(static_cast<int16_t>(w));
  dapa::Rng rng(3);
  rng.shuffle(xs);
  std::vector<int16_t> gs;
  for (size_t i = 0; i < xs.size(); ++i)
    gs.push_back(static_cast<int16_t>(static_cast<int32_t>(rng.next_u64() % 65536) - 32768));
  auto context = std::make_unique<VerilatedContext>();
  auto m = std::make_unique<Vbaseline>(context.get());
  m->clk = 0;
  m->in_valid = 0;
  m->eval();
  size_t received = 0;
  for (size_t cycle = 0; cycle < xs.size() + latency + 2; ++cycle) {
    bool feeding = cycle < xs.size();
    m->in_valid = feeding;
    m->x = feeding ? xs[cycle] : 0;
    m->g = feeding ? gs[cycle] : 0;
    m->clk = 1;
    m->eval();
    m->clk = 0;
    m->eval();
    int64_t source = static_cast<int64_t>(cycle) - latency + 1;
    bool expect_valid = source >= 0 && source < static_cast<int64_t>(xs.size());
    ASSERT_EQ(static_cast<bool>(m->out_valid), expect_valid) << "cycle " << cycle;
    if (!expect_valid) continue;
    int16_t y, dx;
    gelu_baseline_element(xs[source], gs[source], &y, &dx);
    ASSERT_EQ(static_cast<int16_t>(m->y), y) << "x = " << xs[source];
    ASSERT_EQ(static_cast<int16_t>(m->dx), dx) << "x = " << xs[source] << ", g = " << gs[source];
    ++received;
  }
  EXPECT_EQ(received, xs.size());
  m->final();
}

}  // namespace
