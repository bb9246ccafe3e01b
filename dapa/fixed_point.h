// Fixed-point DAPA tables and the integer reference of the activation unit (the golden
// model that hw/ must match bit for bit).
//
// Every stored number is a signed 16-bit word w read as Q(f): value = w / 2^f.
//   x and the breakpoints        Q(frac_x)
//   y and the intercepts         Q(frac_y)
//   slopes                       Q(frac_slope)
//   fitted derivative lines      dslope Q(frac_dslope), dintercept and d Q(frac_d)
// Forward, per element:
//   k  = #{j : breakpoints[j] <= x}                       (N-1 parallel comparators)
//   y  = sat16(round_shift(slope[k] * x, frac_x + frac_slope - frac_y) + intercept[k])
// Backward (gradient g and result dx share any Q format; the unit never needs it):
//   slope mode:  dx = sat16(round_shift(g * slope[k], frac_slope))
//   fitted mode: d  = sat16(round_shift(dslope[k] * x, frac_x + frac_dslope - frac_d)
//                           + dintercept[k])
//                dx = sat16(round_shift(g * d, frac_d))
// round_shift(v, s) rounds to nearest, ties toward +infinity: (v + 2^(s-1)) >> s with an
// arithmetic shift for s > 0, v * 2^-s for s <= 0. Intermediates are 64-bit, so nothing
// but the final saturation can clip. Pure integer code: identical on x86 and ARM.
//
// The Q formats come from the data: each quantity's integer bits cover its observed
// range, and its fractional bits are the fewest for which the quantised table's DWMSE
// (value and derivative) stays within `bound` times the floating-point fit's. A bounded
// table (a softmax's exp on [lo, 0]) keeps the most fractional bits its ranges allow.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/kernels.h"
#include "dapa/fit.h"

namespace dapa {

constexpr int kWordBits = 16;

inline int64_t round_shift(int64_t v, int s) {
  if (s <= 0) return v * (int64_t{1} << -s);
  return (v + (int64_t{1} << (s - 1))) >> s;  // arithmetic shift (C++20; gcc/clang always)
}
inline int16_t saturate16(int64_t v) {
  return static_cast<int16_t>(v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v);
}
// Nearest word to v in Q(frac) (ties toward +infinity), saturated; NaN maps to 0. The
// scaling by 2^frac and the + 0.5 are exact in double for any float input. Written
// without branches or std::floor (floor is truncation corrected downwards, NaN a
// select) so that the kernels' loops over it vectorise.
// to_fixed_wide returns the same word in an int32 (what the kernels' loops index with).
inline int32_t to_fixed_wide(double v, int frac) {
  double s = std::clamp(v * static_cast<double>(1LL << frac) + 0.5, -32768.0, 32767.0);
  s = v == v ? s : 0.0;
  auto t = static_cast<int32_t>(s);
  return t - (static_cast<double>(t) > s ? 1 : 0);
}
// The same word from a float, for the kernels: every step is exact in float (the
// product by 2^frac is a power-of-two scaling; after the clamp |t| < 2^16, where the
// 1.5 * 2^23 trick gives the nearest integer, ties to even, and t - r is exact), so it
// equals to_fixed_wide(double(x), frac) for every float x (test: FixedPoint.
// FloatWordsEqualDoubleWords), with twice the vector lanes of the double version.
inline int32_t float_to_fixed_wide(float x, int frac) {
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: its ulp is 1
  const float t = std::clamp(x * static_cast<float>(1 << frac), -32769.0f, 32768.0f);
  float r = (t + kRound) - kRound;
  r += t - r == 0.5f ? 1.0f : 0.0f;  // ties toward +infinity
  r = std::clamp(r, -32768.0f, 32767.0f);
  return static_cast<int32_t>(t == t ? r : 0.0f);  // NaN (which the clamps keep): 0
}
inline int16_t to_fixed(double v, int frac) {
  return static_cast<int16_t>(to_fixed_wide(v, frac));
}
inline double from_fixed(int64_t w, int frac) {
  return static_cast<double>(w) / (1LL << frac);
}

struct FixedTable {
  const ElementwiseFunction* target = &find_function("gelu");
  DerivativeMode mode = DerivativeMode::Slope;
  bool shift_add = false;  // slopes are two-term words: the unit needs no multiplier
  int frac_x = 0, frac_y = 0, frac_slope = 0, frac_dslope = 0, frac_d = 0;
  std::vector<int16_t> breakpoints;         // N - 1, strictly increasing
  std::vector<int16_t> slope, intercept;    // N
  std::vector<int16_t> dslope, dintercept;  // N (used in fitted mode)
  // The input words the unit takes: x outside is clamped into [domain_lo, domain_hi]
  // before the segment search, and its derivative is 0. All words unless the float
  // table is bounded (a softmax's exp table: quantize_table rounds its domain).
  int16_t domain_lo = INT16_MIN, domain_hi = INT16_MAX;

  int segments() const { return static_cast<int>(slope.size()); }

  // #{j : breakpoints[j] <= x} (a binary search here; the unit compares in parallel).
  int segment_index(int16_t x) const {
    return static_cast<int>(std::upper_bound(breakpoints.begin(), breakpoints.end(), x) -
                            breakpoints.begin());
  }
  int16_t forward(int16_t x, int k) const {
    return saturate16(round_shift(int64_t{slope[k]} * x, frac_x + frac_slope - frac_y) +
                      intercept[k]);
  }
  // The derivative word d(x, k) and the Q format it is in.
  int16_t derivative(int16_t x, int k) const {
    if (mode == DerivativeMode::Slope) return slope[k];
    return saturate16(round_shift(int64_t{dslope[k]} * x, frac_x + frac_dslope - frac_d) +
                      dintercept[k]);
  }
  int derivative_frac() const { return mode == DerivativeMode::Slope ? frac_slope : frac_d; }
  int16_t backward(int16_t x, int k, int16_t g) const {
    return saturate16(round_shift(int64_t{g} * derivative(x, k), derivative_frac()));
  }
  int16_t clamp(int16_t x) const { return std::clamp(x, domain_lo, domain_hi); }
  bool in_domain(int16_t x) const { return x >= domain_lo && x <= domain_hi; }
  int16_t forward(int16_t x) const {
    x = clamp(x);
    return forward(x, segment_index(x));
  }
  int16_t backward(int16_t x, int16_t g) const {
    return in_domain(x) ? backward(x, segment_index(x), g) : 0;
  }

  double value(double x) const;       // dequantised forward of the quantised x
  double derivative(double x) const;  // dequantised derivative word

  // Throws std::invalid_argument: sizes, breakpoint order, Q formats out of [0, 15], an
  // empty domain.
  void validate() const;
};

// The domain words of `f` from the float table's bounds (in f's frac_x): what every
// fixed-point table of a bounded table holds, quantised or read from a file.
void set_domain_words(FixedTable& f, const PiecewiseLinear& t);

struct QuantizeOptions {
  double bound = 1.5;      // quantised DWMSE at most bound x the float fit's
  bool shift_add = false;  // keep every slope word a sum of two signed powers of two
};

// w = s1 2^p1 + s2 2^p2 with s in {-1, 0, 1} and 0 <= p <= 15, if it is one.
struct TwoTerms {
  int s1 = 0, p1 = 0, s2 = 0, p2 = 0;
};
bool two_terms(int32_t w, TwoTerms* out = nullptr);

struct QuantizeReport {
  double float_dwmse = 0, fixed_dwmse = 0;                        // value
  double float_dwmse_derivative = 0, fixed_dwmse_derivative = 0;  // derivative (by mode)
  bool within_bound = true;  // false: even the finest formats miss the bound
};

// The 16-bit table for `table`, formats chosen on `d` (for a bounded table: on d clamped
// to its domain, what the table sees) as described above. Throws
// std::invalid_argument when a quantity's range does not fit a 16-bit word.
FixedTable quantize_table(const PiecewiseLinear& table, const Distribution& d,
                          const QuantizeOptions& options = {}, QuantizeReport* report = nullptr);

double dwmse(const FixedTable& f, const Distribution& d, bool derivative = false);
double mse_uniform(const FixedTable& f, double lo, double hi, bool derivative = false,
                   int points = 100001);

// The unit on float32 tensors. A 16-bit input has only 65,536 values, so the golden
// model is tabulated once for all of them (value word, derivative word, segment) and the
// kernels round x to Q(frac_x) and look up: bit-exact with FixedTable by construction.
// The words are kept dequantised (exact in float32), so the lookups are float gathers.
struct FixedKernel {
  // At most 256 segments; floor_at_zero as for TableKernel (dapa/kernel.h): negative
  // value words read as 0, with derivative 0.
  explicit FixedKernel(const FixedTable& table, bool floor_at_zero = false);
  FixedTable table;
  std::vector<float> value, derivative;  // by word + 32768: the words times 2^-frac
  std::vector<uint8_t> segment;
};

// The unit on raw runs, unthreaded, for fused kernels: y = the dequantised value words
// and, unless dy is null, dy = the derivative words.
void run_rows(const FixedKernel& f, const float* x, float* y, float* dy, int64_t n);
using FixedRows = KernelRows<FixedKernel>;

// y = dequantised unit(x); `index` receives each element's segment when given.
Tensor fixed_forward(const FixedKernel& f, const Tensor& x, std::vector<uint8_t>* index = nullptr);
// Dequantised value and derivative words (training multiplies the gradient in float).
ValueAndDerivative fixed_value_and_derivative(const FixedKernel& f, const Tensor& x);

}  // namespace dapa
