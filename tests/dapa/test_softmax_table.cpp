// Exp tables for the attention softmax: bounded to the max-shifted scores' domain
// [lo, 0], fitted on the scores clamped to it, checked, quantised with domain words, run
// by both kernels with the clamp, and kept by the table files.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "dapa/kernel.h"
#include "dapa/softmax_table.h"
#include "dapa/table_io.h"
#include "samples.h"
#include "test_util.h"

namespace dapa {
namespace {

// Max-shifted scores: -|x| for x a normal N(0, 2^2) quantile grid.
Distribution scores() {
  Distribution d;
  const int n = 200000;
  std::vector<float> z(n);
  for (int i = 0; i < n; ++i)
    z[i] = static_cast<float>(-std::abs(2.0 * invert(normal_cdf, 0.5 + 0.5 * (i + 0.5) / n)));
  d.add(z.data(), n);
  return d;
}

std::string rejection(const PiecewiseLinear& t) {
  return test::thrown_message<std::invalid_argument>([&] { check_softmax_table(t); });
}

TEST(SoftmaxTable, BoundedToTheScoresAndFittedOnThemClamped) {
  Distribution d = scores();
  SoftmaxFit f = fit_softmax_exp(d, 16, true, false, DerivativeMode::Slope);
  const PiecewiseLinear& t = f.table;
  EXPECT_EQ(t.target->name, "exp");
  EXPECT_EQ(t.domain_hi, 0.0);
  EXPECT_DOUBLE_EQ(t.domain_lo, d.quantile(kSoftmaxTailMass));
  EXPECT_NEAR(t.domain_lo, -2.0 * 3.89, 0.05);  // the 0.01% tail of |N(0, 4)|
  EXPECT_NEAR(f.distribution.count(), d.count() * (1 - kSoftmaxTailMass), d.count() * 1e-5);
  EXPECT_GE(f.distribution.min(), t.domain_lo);
  for (double b : t.breakpoints) EXPECT_TRUE(b > t.domain_lo && b < 0.0) << b;
  EXPECT_NEAR(t.value(0.0), 1.0, 2e-3);
  // Below the domain: the value at lo, derivative 0.
  EXPECT_EQ(t.value(t.domain_lo - 3.0), t.value(t.domain_lo));
  EXPECT_EQ(t.derivative(t.domain_lo - 1e-9), 0.0);
  EXPECT_GT(t.derivative(t.domain_lo + 1e-9), 0.0);
  // Where the scores are dense, DAPA beats PWL(16) on the same domain.
  SoftmaxFit pwl = fit_softmax_exp(d, 16, false, false, DerivativeMode::Slope);
  EXPECT_EQ(pwl.table.domain_lo, t.domain_lo);
  EXPECT_LT(dwmse(t, f.distribution), 0.5 * dwmse(pwl.table, f.distribution));
  SoftmaxFit refined = fit_softmax_exp(d, 16, true, true, DerivativeMode::Slope);
  EXPECT_LE(dwmse(refined.table, f.distribution), dwmse(t, f.distribution));
  EXPECT_EQ(rejection(t), "");
  EXPECT_EQ(rejection(pwl.table), "");
  EXPECT_EQ(rejection(refined.table), "");
}

TEST(SoftmaxTable, ScoresThatCannotBeFittedAreRefused) {
  Distribution empty;
  EXPECT_THROW(softmax_domain_lo(empty), std::invalid_argument);
  Distribution zeros;  // rows of one entry: every score is its row's maximum
  std::vector<float> z(100, 0.0f);
  zeros.add(z.data(), 100);
  EXPECT_THROW(fit_softmax_exp(zeros, 8, true, false, DerivativeMode::Slope),
               std::invalid_argument);
}

TEST(SoftmaxTable, TablesThatBreakTheRulesAreRejected) {
  const PiecewiseLinear good =
      fit_softmax_exp(scores(), 8, true, false, DerivativeMode::Slope).table;
  auto broken = [&](auto change) {
    PiecewiseLinear t = good;
    change(t);
    return rejection(t);
  };
  EXPECT_NE(broken([](PiecewiseLinear& t) { t.domain_hi = 0.5; }).find("not [lo, 0]"),
            std::string::npos);
  EXPECT_NE(broken([](PiecewiseLinear& t) {
              t.domain_lo = -std::numeric_limits<double>::infinity();
              t.domain_hi = std::numeric_limits<double>::infinity();
            }).find("not [lo, 0]"),
            std::string::npos);
  EXPECT_NE(broken([](PiecewiseLinear& t) { t.breakpoints.back() = 0.25; }).find("above 0"),
            std::string::npos);
  EXPECT_NE(broken([](PiecewiseLinear& t) { t.slope[3] = -0.1; }).find("decreases"),
            std::string::npos);
  EXPECT_NE(broken([](PiecewiseLinear& t) { t.intercept.back() = -0.5; }).find("value at 0"),
            std::string::npos);
  EXPECT_NE(broken([](PiecewiseLinear& t) { t.target = &find_function("gelu"); }).find("gelu"),
            std::string::npos);
  // Fixed point: the domain ends at word 0 and the word there is positive.
  FixedTable f = quantize_table(good, scores());
  EXPECT_EQ(f.domain_hi, 0);
  EXPECT_EQ(f.domain_lo, to_fixed(good.domain_lo, f.frac_x));
  EXPECT_NO_THROW(check_softmax_table(f));
  FixedTable g = f;
  g.intercept.back() = 0;
  g.slope.back() = 0;
  EXPECT_THROW(check_softmax_table(g), std::invalid_argument);
  g = f;
  g.domain_hi = 5;
  EXPECT_THROW(check_softmax_table(g), std::invalid_argument);
}

// A softmax table keeps the finest Q formats its ranges allow (a GELU table takes the
// fewest fractional bits within the bound instead): the input's integer bits cover the
// domain, the value's and slope's cover [0, 1], every remaining bit is fractional.
TEST(SoftmaxTable, QuantisationKeepsTheFinestFormats) {
  Distribution d = scores();
  PiecewiseLinear t = fit_softmax_exp(d, 16, true, false, DerivativeMode::Slope).table;
  ASSERT_LT(t.domain_lo, -4.0);
  ASSERT_GE(t.domain_lo, -8.0);
  QuantizeReport report;
  FixedTable f = quantize_table(t, d, {}, &report);
  EXPECT_EQ(f.frac_x, 12);      // |x| < 8: 3 integer bits and the sign
  EXPECT_GE(f.frac_y, 14);      // values in [0, 1]: at most one integer bit
  EXPECT_GE(f.frac_slope, 14);  // slopes in (0, 1]
  // Finer than the fewest bits within the bound: closer to the float fit.
  EXPECT_LE(report.fixed_dwmse, 1.01 * report.float_dwmse);
}

// Both kernels clamp to the domain and give derivative 0 outside it.
TEST(SoftmaxTable, KernelsClampToTheDomain) {
  Distribution d = scores();
  PiecewiseLinear t = fit_softmax_exp(d, 16, true, false, DerivativeMode::Slope).table;
  const float lo = static_cast<float>(t.domain_lo);
  Tensor x = Tensor::from({lo - 5.0f, lo - 0.01f, lo + 0.01f, -1.0f, -0.1f, 0.0f}, {6});
  TableKernel k(t);
  ValueAndDerivative vd = table_value_and_derivative(k, x);
  EXPECT_EQ(table_forward(k, x).to_vector(), vd.value.to_vector());
  for (int i = 0; i < 6; ++i) {
    double xi = x.data()[i];
    EXPECT_NEAR(vd.value.data()[i], t.value(xi), 1e-6) << xi;
    EXPECT_NEAR(vd.derivative.data()[i], t.derivative(xi), 1e-6) << xi;
  }
  EXPECT_EQ(vd.derivative.data()[0], 0.0f);
  EXPECT_EQ(vd.value.data()[0], vd.value.data()[1]);
  std::vector<uint8_t> index;
  table_forward(k, x, &index);
  EXPECT_THROW(table_backward_from_index(k, index, x), std::invalid_argument);

  FixedKernel fk(quantize_table(t, d));
  ValueAndDerivative fd = fixed_value_and_derivative(fk, x);
  const FixedTable& f = fk.table;
  EXPECT_EQ(fd.value.data()[0], from_fixed(f.forward(f.domain_lo), f.frac_y));
  EXPECT_EQ(fd.derivative.data()[0], 0.0f);
  EXPECT_GT(fd.derivative.data()[2], 0.0f);
  EXPECT_EQ(fd.value.data()[5], from_fixed(f.forward(0), f.frac_y));
  EXPECT_EQ(f.backward(static_cast<int16_t>(f.domain_lo - 1), 1000), 0);
}

TEST(SoftmaxTable, FilesKeepTheDomain) {
  Distribution d = scores();
  PiecewiseLinear t = fit_softmax_exp(d, 8, true, false, DerivativeMode::Slope).table;
  for (std::string name : {"softmax.h5", "softmax.json"}) {
    std::string path = ::testing::TempDir() + "/" + name;
    save_tables(path, {SiteTable{"blocks.0.attn.softmax", t, false, Distribution(2), true,
                                 quantize_table(t, d)}});
    std::vector<SiteTable> back = load_tables(path);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].table.domain_lo, t.domain_lo) << name;
    EXPECT_EQ(back[0].table.domain_hi, 0.0);
    EXPECT_EQ(back[0].fixed.domain_lo, to_fixed(t.domain_lo, back[0].fixed.frac_x));
    EXPECT_EQ(back[0].fixed.domain_hi, 0);
  }
  // A domain that is not a range is named with the file.
  std::string path = ::testing::TempDir() + "/bad_domain.json";
  std::ofstream(path) << R"({"format": "dapa-table", "version": 1, "sites": {"s": {
      "target": "exp", "mode": "slope", "segments": 1, "breakpoints": [], "slope": [1],
      "intercept": [1], "dslope": [0], "dintercept": [1], "domain": [0, -1]}}})";
  try {
    load_tables(path);
    FAIL() << "accepted an empty domain";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": site 's': table domain"), std::string::npos)
        << e.what();
  }
}

TEST(Distribution, ClampedMovesTheTailsToTheEnds) {
  Distribution d = normal_sample(10000);
  Distribution c = d.clamped(-1.0, 0.5);
  EXPECT_EQ(c.count(), d.count());
  EXPECT_EQ(c.min(), -1.0);
  EXPECT_EQ(c.max(), 0.5);
  EXPECT_NEAR(c.cdf(-0.999), normal_cdf(-1.0), 1e-3);  // the left tail, piled at -1
  EXPECT_NEAR(c.quantile(0.5), 0.0, 1e-3);             // the middle untouched
  EXPECT_THROW(d.clamped(1.0, 1.0), std::invalid_argument);
}

}  // namespace
}  // namespace dapa
