// Fixed point: the integer arithmetic's known answers, the golden model against an
// independent long-double evaluation over all 65,536 inputs, the format choice (within
// the DWMSE bound and minimal), the tensor kernels bit-exact with the golden model, the
// table file round trip and the hardware exports.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/rng.h"
#include "dapa/export.h"
#include "dapa/fixed_point.h"
#include "dapa/samples.h"
#include "dapa/table_io.h"

namespace dapa {
namespace {

// Round to nearest, ties up, by a route that shares no code with round_shift.
int16_t reference_round(long double v) {
  long double r = std::floor(v + 0.5L);
  return static_cast<int16_t>(std::clamp(r, -32768.0L, 32767.0L));
}

TEST(FixedPoint, ArithmeticKnownAnswers) {
  EXPECT_EQ(round_shift(5, 1), 3);    // 2.5 -> 3
  EXPECT_EQ(round_shift(-5, 1), -2);  // -2.5 -> -2: ties toward +infinity
  EXPECT_EQ(round_shift(-7, 2), -2);  // -1.75
  EXPECT_EQ(round_shift(7, 0), 7);
  EXPECT_EQ(round_shift(3, -2), 12);
  EXPECT_EQ(saturate16(40000), 32767);
  EXPECT_EQ(saturate16(-40000), -32768);
  EXPECT_EQ(to_fixed(1.5, 1), 3);
  EXPECT_EQ(to_fixed(-0.75, 1), -1);  // -1.5 -> -1
  EXPECT_EQ(to_fixed(0.1, 10), 102);  // 102.4
  EXPECT_EQ(to_fixed(1e9, 4), 32767);
  EXPECT_EQ(to_fixed(-1e9, 4), -32768);
  EXPECT_EQ(to_fixed(NAN, 4), 0);
  EXPECT_DOUBLE_EQ(from_fixed(-96, 5), -3.0);
}

struct Quantised {
  PiecewiseLinear table;
  FixedTable fixed;
  QuantizeReport report;
};

Quantised quantised(const Distribution& d, int segments, DerivativeMode mode) {
  Quantised q;
  q.table = fit_dapa(d, segments, find_function("gelu"), mode);
  q.fixed = quantize_table(q.table, d, {}, &q.report);
  return q;
}

// The kernels' float conversion against the double one it replaces: every tie and its
// float neighbours across the word range and past both ends, random bit patterns
// (denormals, infinities and NaNs among them), at several fractions.
TEST(FixedPoint, FloatWordsEqualDoubleWords) {
  std::vector<float> xs = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f, -1e-45f, FLT_MAX};
  for (float t = -33000.0f; t <= 33000.0f; t += 0.25f)
    for (float x : {t, std::nextafter(t, -INFINITY), std::nextafter(t, INFINITY)}) xs.push_back(x);
  Rng rng(7);
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t bits = static_cast<uint32_t>(rng.next_u64());
    float x;
    std::memcpy(&x, &bits, sizeof x);
    xs.push_back(x);
  }
  for (int frac : {0, 1, 7, 12, 15})
    for (float x : xs) {
      const float scaled = frac ? std::ldexp(x, -frac) : x;  // the ties in every format
      for (float v : {x, scaled})
        ASSERT_EQ(float_to_fixed_wide(v, frac), to_fixed_wide(v, frac))
            << "x = " << v << " (frac " << frac << ")";
    }
}

TEST(FixedPoint, FormatsAreTheFewestBitsWithinTheBound) {
  Distribution d = normal_sample(200000);
  for (DerivativeMode mode : {DerivativeMode::Slope, DerivativeMode::Fitted}) {
    Quantised q = quantised(d, 16, mode);
    const FixedTable& f = q.fixed;
    ASSERT_TRUE(q.report.within_bound);
    EXPECT_LE(q.report.fixed_dwmse, 1.5 * q.report.float_dwmse);
    EXPECT_LE(q.report.fixed_dwmse_derivative, 1.5 * q.report.float_dwmse_derivative);
    EXPECT_DOUBLE_EQ(q.report.fixed_dwmse, dwmse(f, d));
    // |x| < 8 needs 3 integer bits: at most 12 fractional; slopes need 1 (up to 1.1).
    EXPECT_LE(f.frac_x, 12);
    EXPECT_LE(f.frac_slope, 14);
    EXPECT_GE(f.frac_x, 4);  // a coarser grid than 1/16 cannot keep a 1e-5 DWMSE
    // Minimal: one bit fewer for the input, output or slope breaks the bound.
    for (int FixedTable::*frac :
         {&FixedTable::frac_x, &FixedTable::frac_y, &FixedTable::frac_slope}) {
      if (f.*frac == 0) continue;
      FixedTable fewer = f;
      --(fewer.*frac);
      PiecewiseLinear t = q.table;
      // Rebuild the words at the coarser format, as the search does.
      fewer.breakpoints.clear(), fewer.slope.clear(), fewer.intercept.clear();
      for (double b : t.breakpoints) fewer.breakpoints.push_back(to_fixed(b, fewer.frac_x));
      for (int k = 0; k < t.segments(); ++k) {
        fewer.slope.push_back(to_fixed(t.slope[k], fewer.frac_slope));
        fewer.intercept.push_back(to_fixed(t.intercept[k], fewer.frac_y));
      }
      bool merged = false;
      for (size_t i = 1; i < fewer.breakpoints.size(); ++i)
        merged |= fewer.breakpoints[i] <= fewer.breakpoints[i - 1];
      EXPECT_TRUE(merged || dwmse(fewer, d) > 1.5 * q.report.float_dwmse ||
                  dwmse(fewer, d, true) > 1.5 * q.report.float_dwmse_derivative)
          << "one bit fewer still fits";
    }
  }
  // A tighter bound never needs fewer bits.
  PiecewiseLinear t = fit_dapa(d, 16, find_function("gelu"));
  FixedTable loose = quantize_table(t, d, {3.0}), tight = quantize_table(t, d, {1.05});
  EXPECT_LE(loose.frac_x, tight.frac_x);
  EXPECT_THROW(quantize_table(t, d, {0.5}), std::invalid_argument);
}

TEST(FixedPoint, GoldenModelMatchesLongDoubleOverAllInputs) {
  Distribution d = normal_sample(100000);
  for (DerivativeMode mode : {DerivativeMode::Slope, DerivativeMode::Fitted}) {
    FixedTable f = quantised(d, 16, mode).fixed;
    Rng rng(11);
    for (int32_t xi = INT16_MIN; xi <= INT16_MAX; ++xi) {
      auto x = static_cast<int16_t>(xi);
      int k = 0;
      while (k < f.segments() - 1 && x >= f.breakpoints[k]) ++k;
      ASSERT_EQ(f.segment_index(x), k);
      long double xv = std::ldexp(static_cast<long double>(x), -f.frac_x);
      long double a = std::ldexp(static_cast<long double>(f.slope[k]), -f.frac_slope);
      int16_t y = reference_round(std::ldexp(a * xv, f.frac_y) + f.intercept[k]);
      ASSERT_EQ(f.forward(x), y) << "x = " << x;
      int16_t d_word = f.slope[k];
      if (mode == DerivativeMode::Fitted) {
        long double c = std::ldexp(static_cast<long double>(f.dslope[k]), -f.frac_dslope);
        d_word = reference_round(std::ldexp(c * xv, f.frac_d) + f.dintercept[k]);
      }
      auto g = static_cast<int16_t>(static_cast<int32_t>(rng.next_u64() % 65536) - 32768);
      int16_t dx =
          reference_round(std::ldexp(static_cast<long double>(g) * d_word, -f.derivative_frac()));
      ASSERT_EQ(f.backward(x, g), dx) << "x = " << x << ", g = " << g;
    }
  }
}

TEST(FixedPoint, TensorKernelsAreBitExactWithTheGoldenModel) {
  Distribution d = normal_sample(100000);
  FixedTable f = quantised(d, 16, DerivativeMode::Fitted).fixed;
  Rng rng(5);
  Tensor x = Tensor::empty({3, 7001});
  rng.fill_normal(x, 0.0f, 3.0f);
  x.data()[0] = 1e6f, x.data()[1] = -1e6f;  // saturating inputs
  x.data()[2] = NAN, x.data()[3] = INFINITY, x.data()[4] = -INFINITY;
  // Ties of the rounding, and the float just below one (where float arithmetic would
  // round x 2^f + 0.5 up to the next integer).
  for (int m = -20; m < 20; ++m) {
    x.data()[10 + m + 20] = std::ldexp(m + 0.5f, -f.frac_x);
    x.data()[60 + m + 20] = std::nextafter(std::ldexp(m + 0.5f, -f.frac_x), 0.0f);
  }
  FixedKernel kernel(f);
  std::vector<uint8_t> index;
  Tensor y = fixed_forward(kernel, x, &index);
  ValueAndDerivative vd = fixed_value_and_derivative(kernel, x);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int16_t xq = to_fixed(x.data()[i], f.frac_x);
    int k = f.segment_index(xq);
    ASSERT_EQ(index[i], k);
    ASSERT_EQ(y.data()[i], static_cast<float>(from_fixed(f.forward(xq), f.frac_y)));
    ASSERT_EQ(vd.value.data()[i], y.data()[i]) << "x = " << x.data()[i];
    ASSERT_EQ(vd.derivative.data()[i],
              static_cast<float>(from_fixed(f.derivative(xq, k), f.frac_d)));
  }
  // With the floor at 0 (a softmax's exp; GELU's table dips below 0): the value words
  // that are not positive read as 0, and their derivative too.
  ValueAndDerivative floored = fixed_value_and_derivative(FixedKernel(f, true), x);
  int64_t below = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const bool positive = vd.value.data()[i] > 0.0f;
    below += !positive;
    ASSERT_EQ(floored.value.data()[i], positive ? vd.value.data()[i] : 0.0f);
    ASSERT_EQ(floored.derivative.data()[i], positive ? vd.derivative.data()[i] : 0.0f);
  }
  EXPECT_GT(below, x.numel() / 4);
  // Close to GELU where the data is.
  EXPECT_NEAR(f.value(1.0), 0.8413447, 0.01);
  EXPECT_NEAR(f.value(-0.5), -0.1542688, 0.01);
}

TEST(FixedPoint, QuantisedErrorTracksTheFloatFitAcrossSegmentCounts) {
  Distribution d = normal_sample(200000);
  double previous = INFINITY;
  for (int n : {4, 8, 16, 32}) {
    Quantised q = quantised(d, n, DerivativeMode::Slope);
    EXPECT_TRUE(q.report.within_bound) << n;
    EXPECT_LT(q.report.fixed_dwmse, previous) << n;
    previous = q.report.fixed_dwmse;
    EXPECT_LT(mse_uniform(q.fixed, -4, 4), 10 * mse_uniform(q.table, -4, 4) + 1e-6) << n;
  }
}

TEST(FixedPoint, TableFilesCarryTheFixedTable) {
  Distribution d = normal_sample(50000);
  Quantised q = quantised(d, 8, DerivativeMode::Fitted);
  for (std::string name : {"fixed.h5", "fixed.json"}) {
    std::string path = ::testing::TempDir() + "/" + name;
    save_tables(path, {SiteTable{"shared", q.table, false, Distribution(), true, q.fixed}});
    std::vector<SiteTable> back = load_tables(path);
    ASSERT_TRUE(back[0].has_fixed) << name;
    const FixedTable& f = back[0].fixed;
    EXPECT_EQ(f.breakpoints, q.fixed.breakpoints);
    EXPECT_EQ(f.slope, q.fixed.slope);
    EXPECT_EQ(f.intercept, q.fixed.intercept);
    EXPECT_EQ(f.dslope, q.fixed.dslope);
    EXPECT_EQ(f.dintercept, q.fixed.dintercept);
    EXPECT_EQ(f.frac_x, q.fixed.frac_x);
    EXPECT_EQ(f.frac_d, q.fixed.frac_d);
    EXPECT_EQ(f.mode, DerivativeMode::Fitted);
  }
  // A format out of range or unsorted words: a clear error.
  FixedTable bad = q.fixed;
  bad.frac_x = 16;
  EXPECT_THROW(save_tables(::testing::TempDir() + "/bad.h5",
                           {SiteTable{"shared", q.table, false, Distribution(), true, bad}}),
               std::invalid_argument);
}

TEST(FixedPoint, ExportsForTheHardwareUnit) {
  Distribution d = normal_sample(50000);
  FixedTable f = quantised(d, 16, DerivativeMode::Slope).fixed;
  std::string h = c_header(f, "DAPA", "test");
  EXPECT_NE(h.find("#define DAPA_SEGMENTS 16\n"), std::string::npos);
  EXPECT_NE(h.find("#define DAPA_FRAC_X " + std::to_string(f.frac_x) + "\n"), std::string::npos);
  EXPECT_NE(h.find("static const int16_t DAPA_BREAKPOINTS[15] = {" +
                   std::to_string(f.breakpoints[0]) + ", "),
            std::string::npos);
  std::string v = verilog_include(f, "DAPA", "test");
  EXPECT_NE(v.find("localparam integer DAPA_SHIFT_FORWARD = " +
                   std::to_string(f.frac_x + f.frac_slope - f.frac_y) + ";"),
            std::string::npos);
  char last[16];  // packed lists start with the last word
  std::snprintf(last, sizeof last, "16'h%04x", static_cast<uint16_t>(f.slope.back()));
  EXPECT_NE(v.find("localparam [255:0] DAPA_SLOPE = {" + std::string(last)), std::string::npos);

  FixedTable one = quantised(d, 1, DerivativeMode::Slope).fixed;
  EXPECT_THROW(check_implementable(one), std::invalid_argument);
  FixedTable big = quantised(d, 65, DerivativeMode::Slope).fixed;
  EXPECT_THROW(c_header(big, "DAPA", "test"), std::invalid_argument);
  FixedTable unsorted = f;
  std::swap(unsorted.breakpoints[3], unsorted.breakpoints[4]);
  EXPECT_THROW(verilog_include(unsorted, "DAPA", "test"), std::invalid_argument);

  // Nothing from the caller becomes code: the prefix must be an identifier, and the
  // source text in the comment stays one printable line.
  for (std::string prefix : {"", "9X", "A B", "X;#error", "X\n"}) {
    EXPECT_THROW(c_header(f, prefix, "test"), std::invalid_argument) << prefix;
    EXPECT_THROW(verilog_include(f, prefix, "test"), std::invalid_argument) << prefix;
  }
  std::string injected = c_header(f, "DAPA", "t.h5\n#error injected\\");
  EXPECT_EQ(injected.find("\n#error"), std::string::npos) << injected;
  EXPECT_NE(injected.find("// Generated by dapa_export from t.h5?#error injected?; do not edit."),
            std::string::npos)
      << injected;
}

}  // namespace
}  // namespace dapa

namespace dapa {
namespace {

TEST(ShiftAdd, TwoTermWordsAndNearestValues) {
  TwoTerms t;
  ASSERT_TRUE(two_terms(0, &t));
  EXPECT_EQ(t.s1 | t.s2, 0);
  ASSERT_TRUE(two_terms(-96, &t));  // -128 + 32
  EXPECT_EQ(t.s1 * (1 << t.p1) + t.s2 * (1 << t.p2), -96);
  EXPECT_TRUE(two_terms(30720));                              // 2^15 - 2^11
  EXPECT_TRUE(two_terms(7));                                  // 8 - 1
  EXPECT_FALSE(two_terms(11));                                // 8 + 2 + 1
  EXPECT_FALSE(two_terms(21845));                             // 0b101010101010101
  EXPECT_DOUBLE_EQ(nearest_two_term(0.9, -14, 2), 0.875);     // 1 - 1/8
  EXPECT_DOUBLE_EQ(nearest_two_term(-0.3, -14, 2), -0.3125);  // -1/4 - 1/16
  EXPECT_DOUBLE_EQ(nearest_two_term(3.0, -14, 2), 3.0);
  EXPECT_DOUBLE_EQ(nearest_two_term(40000, 0, 15, 32767), 32767);  // 2^15 - 1, within the limit
}

TEST(ShiftAdd, RestrictedTablesStayCloseAndQuantiseToTwoTermWords) {
  Distribution d = normal_sample(200000);
  PiecewiseLinear t = fit_dapa(d, 16, find_function("gelu"));
  PiecewiseLinear r = restrict_to_shift_add(t, d);
  EXPECT_EQ(r.breakpoints, t.breakpoints);
  for (int k = 0; k < r.segments(); ++k) {
    EXPECT_EQ(r.slope[k], nearest_two_term(t.slope[k], -14, 2)) << k;
    EXPECT_NEAR(r.slope[k], t.slope[k], 0.2 * std::abs(t.slope[k]) + 1e-4) << k;
  }
  // The least-squares fit is optimal, the restricted one close to it.
  EXPECT_GE(dwmse(r, d), dwmse(t, d));
  EXPECT_LT(dwmse(r, d), 3 * dwmse(t, d));
  QuantizeReport rep;
  FixedTable f = quantize_table(r, d, {1.5, true}, &rep);
  EXPECT_TRUE(f.shift_add);
  EXPECT_TRUE(rep.within_bound);
  for (int16_t a : f.slope) EXPECT_TRUE(two_terms(a)) << a;
  std::string h = c_header(f, "DAPA", "test");
  EXPECT_NE(h.find("#define DAPA_SHIFT_ADD 1\n"), std::string::npos);
  EXPECT_NE(h.find("DAPA_SLOPE_SHIFT2[16]"), std::string::npos);
  FixedTable broken = f;
  broken.slope[3] = 11;
  EXPECT_THROW(broken.validate(), std::invalid_argument);
  EXPECT_THROW(
      restrict_to_shift_add(fit_dapa(d, 8, find_function("gelu"), DerivativeMode::Fitted), d),
      std::invalid_argument);
}

}  // namespace
}  // namespace dapa
