// Fixed-point tables: format choice by DWMSE, metrics, and the tensor kernels built on
// the integer reference; see fixed_point.h.
#include "dapa/fixed_point.h"

#include <optional>
#include <stdexcept>
#include <string>

#include "core/fast_math.h"
#include "core/parallel.h"
#include "dapa/metrics.h"

namespace dapa {

double FixedTable::value(double x) const {
  return from_fixed(forward(to_fixed(x, frac_x)), frac_y);
}

double FixedTable::derivative(double x) const {
  int16_t xq = to_fixed(x, frac_x);
  if (!in_domain(xq)) return 0.0;
  return from_fixed(FixedTable::derivative(xq, segment_index(xq)), derivative_frac());
}

bool two_terms(int32_t w, TwoTerms* out) {
  for (int p1 = 0; p1 <= 15; ++p1)
    for (int s1 : {0, 1, -1}) {
      int32_t rest = w - s1 * (1 << p1);
      for (int p2 = 0; p2 <= 15; ++p2)
        for (int s2 : {0, 1, -1})
          if (rest == s2 * (1 << p2)) {
            if (out) *out = {s1, p1, s2, p2};
            return true;
          }
    }
  return false;
}

void FixedTable::validate() const {
  size_t n = slope.size();
  if (n < 1) throw std::invalid_argument("fixed-point table has no segments");
  if (breakpoints.size() + 1 != n || intercept.size() != n || dslope.size() != n ||
      dintercept.size() != n)
    throw std::invalid_argument("fixed-point table sizes disagree: " + std::to_string(n) +
                                " segments need " + std::to_string(n - 1) + " breakpoints and " +
                                std::to_string(n) + " coefficients each");
  for (int f : {frac_x, frac_y, frac_slope, frac_dslope, frac_d})
    if (f < 0 || f >= kWordBits)
      throw std::invalid_argument("fixed-point table: fractional bits " + std::to_string(f) +
                                  " outside [0, 15]");
  for (size_t i = 1; i < breakpoints.size(); ++i)
    if (!(breakpoints[i] > breakpoints[i - 1]))
      throw std::invalid_argument("fixed-point breakpoints are not strictly increasing (at " +
                                  std::to_string(i) + ")");
  if (domain_lo >= domain_hi)
    throw std::invalid_argument("fixed-point domain [" + std::to_string(domain_lo) + ", " +
                                std::to_string(domain_hi) + "] is empty");
  if (shift_add) {
    if (mode != DerivativeMode::Slope)
      throw std::invalid_argument("a shift-add table needs the slope derivative mode");
    for (size_t k = 0; k < slope.size(); ++k)
      if (!two_terms(slope[k]))
        throw std::invalid_argument("shift-add slope word " + std::to_string(slope[k]) +
                                    " (segment " + std::to_string(k) +
                                    ") is not a sum of two signed powers of two");
  }
}

void set_domain_words(FixedTable& f, const PiecewiseLinear& t) {
  f.domain_lo = std::isinf(t.domain_lo) ? INT16_MIN : to_fixed(t.domain_lo, f.frac_x);
  f.domain_hi = std::isinf(t.domain_hi) ? INT16_MAX : to_fixed(t.domain_hi, f.frac_x);
}

namespace {

// The fixed-point formats under search, one per quantity.
enum Quantity { kX, kY, kSlope, kDslope, kD, kQuantities };

FixedTable build(const PiecewiseLinear& t, const int frac[kQuantities], bool shift_add) {
  FixedTable f;
  f.target = t.target;
  f.mode = t.mode;
  f.shift_add = shift_add;
  f.frac_x = frac[kX], f.frac_y = frac[kY], f.frac_slope = frac[kSlope];
  f.frac_dslope = frac[kDslope], f.frac_d = frac[kD];
  for (double b : t.breakpoints) f.breakpoints.push_back(to_fixed(b, f.frac_x));
  set_domain_words(f, t);
  for (int k = 0; k < t.segments(); ++k) {
    double a = std::ldexp(t.slope[k], f.frac_slope);  // in words
    f.slope.push_back(shift_add
                          ? saturate16(static_cast<int64_t>(nearest_two_term(a, 0, 15, 32767)))
                          : to_fixed(t.slope[k], f.frac_slope));
    f.intercept.push_back(to_fixed(t.intercept[k], f.frac_y));
    f.dslope.push_back(to_fixed(t.dslope[k], f.frac_dslope));
    f.dintercept.push_back(to_fixed(t.dintercept[k], f.frac_d));
  }
  return f;
}

// The most fractional bits a 16-bit word leaves when it must hold magnitudes up to r.
int max_frac(double r, const char* what) {
  int int_bits = 0;
  while (int_bits < kWordBits && r >= static_cast<double>(1LL << int_bits)) ++int_bits;
  if (int_bits > kWordBits - 1)
    throw std::invalid_argument(std::string("fixed point: the ") + what + " range (up to " +
                                std::to_string(r) + ") does not fit a 16-bit word");
  return kWordBits - 1 - int_bits;
}

// Largest magnitude of the line a x + b over the ends of every segment within [lo, hi].
double line_range(const PiecewiseLinear& t, const std::vector<double>& a,
                  const std::vector<double>& b, double lo, double hi) {
  double r = 0;
  for (int k = 0; k < t.segments(); ++k) {
    double s = k > 0 ? std::max(lo, t.breakpoints[k - 1]) : lo;
    double e = k < t.segments() - 1 ? std::min(hi, t.breakpoints[k]) : hi;
    r = std::max({r, std::abs(b[k]), std::abs(a[k] * s + b[k]), std::abs(a[k] * e + b[k])});
  }
  return r;
}
}  // namespace

FixedTable quantize_table(const PiecewiseLinear& t, const Distribution& data,
                          const QuantizeOptions& options, QuantizeReport* report) {
  t.validate();
  // A bounded table sees the data clamped to its domain: formats and DWMSE follow that.
  std::optional<Distribution> clamped;
  if (t.bounded() && data.count() > 0) clamped = data.clamped(t.domain_lo, t.domain_hi);
  const Distribution& d = clamped ? *clamped : data;
  if (d.count() == 0) throw std::invalid_argument("fixed point: the distribution holds no values");
  if (!(options.bound >= 1.0))
    throw std::invalid_argument("fixed point: the DWMSE bound must be at least 1");
  double lo = std::min(d.min(), t.breakpoints.empty() ? d.min() : t.breakpoints.front());
  double hi = std::max(d.max(), t.breakpoints.empty() ? d.max() : t.breakpoints.back());
  auto abs_max = [](const std::vector<double>& v) {
    double r = 0;
    for (double x : v) r = std::max(r, std::abs(x));
    return r;
  };
  int frac[kQuantities];
  frac[kX] = max_frac(std::max(std::abs(lo), std::abs(hi)), "input");
  frac[kY] = max_frac(line_range(t, t.slope, t.intercept, lo, hi), "output");
  frac[kSlope] = max_frac(abs_max(t.slope), "slope");
  frac[kDslope] = max_frac(abs_max(t.dslope), "derivative slope");
  frac[kD] = max_frac(line_range(t, t.dslope, t.dintercept, lo, hi), "derivative");

  QuantizeReport r;
  r.float_dwmse = dwmse(t, d);
  r.float_dwmse_derivative = dwmse(t, d, true);
  auto fits = [&](const FixedTable& f) {
    for (size_t i = 1; i < f.breakpoints.size(); ++i)
      if (f.breakpoints[i] <= f.breakpoints[i - 1]) return false;  // segments merged
    if (f.domain_lo >= f.domain_hi) return false;
    return dwmse(f, d) <= options.bound * r.float_dwmse &&
           dwmse(f, d, true) <= options.bound * r.float_dwmse_derivative;
  };
  r.within_bound = fits(build(t, frac, options.shift_add));
  // A bounded table (a softmax's exp) keeps the finest formats: its domain fixes the
  // integer bits and its words are 16 bits wide whatever the fraction, so dropping bits
  // saves no hardware and costs accuracy (the error of exp's table sits on every score).
  if (r.within_bound && !t.bounded()) {
    // Fewest fractional bits per quantity, one quantity at a time (the input first: it
    // is the unit's interface); the derivative lines only matter in fitted mode.
    int last = t.mode == DerivativeMode::Fitted ? kD : kSlope;
    for (int q = kX; q <= last; ++q)
      while (frac[q] > 0) {
        --frac[q];
        if (!fits(build(t, frac, options.shift_add))) {
          ++frac[q];
          break;
        }
      }
  }
  FixedTable f = build(t, frac, options.shift_add);
  f.validate();
  r.fixed_dwmse = dwmse(f, d);
  r.fixed_dwmse_derivative = dwmse(f, d, true);
  if (report) *report = r;
  return f;
}

double dwmse(const FixedTable& f, const Distribution& d, bool derivative) {
  return metrics::dwmse(f, d, derivative);
}

double mse_uniform(const FixedTable& f, double lo, double hi, bool derivative, int points) {
  return metrics::mse_uniform(f, lo, hi, derivative, points);
}

FixedKernel::FixedKernel(const FixedTable& t, bool floor_at_zero) : table(t) {
  table.validate();
  if (table.segments() > 256)
    throw std::invalid_argument("the fixed-point kernel takes at most 256 segments, got " +
                                std::to_string(table.segments()));
  value.resize(65536), derivative.resize(65536), segment.resize(65536);
  const float value_scale = 1.0f / static_cast<float>(1 << table.frac_y);
  const float derivative_scale = 1.0f / static_cast<float>(1 << table.derivative_frac());
  for (int32_t w = INT16_MIN; w <= INT16_MAX; ++w) {
    auto x = table.clamp(static_cast<int16_t>(w));
    int k = table.segment_index(x);
    const bool floored = floor_at_zero && table.forward(x, k) <= 0;
    value[w + 32768] = floored ? 0.0f : table.forward(x, k) * value_scale;
    derivative[w + 32768] = table.in_domain(static_cast<int16_t>(w)) && !floored
                                ? table.derivative(x, k) * derivative_scale
                                : 0.0f;
    segment[w + 32768] = static_cast<uint8_t>(k);
  }
}

namespace {
constexpr int64_t kChunk = 256;

// The loops below are plain arithmetic and gathers, cloned for AVX-512 and AVX2 (this
// file has no contraction: every clone gives the same bits).
// words[i] = to_fixed(x[i], frac) + 32768 (the lookup tables' index) for n <= kChunk.
DAPA_VECTOR_CLONES void offset_words(const float* x, int64_t n, int frac, int32_t* words) {
  for (int64_t i = 0; i < n; ++i) words[i] = float_to_fixed_wide(x[i], frac) + 32768;
}

DAPA_VECTOR_CLONES void gather(const float* table, const int32_t* words, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = table[words[i]];
}

DAPA_VECTOR_CLONES void gather(const uint8_t* table, const int32_t* words, int64_t n,
                               uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = table[words[i]];
}

// body(i0, n, words) over chunks c0 .. c1-1 of kChunk elements of the flat input x.
template <class Body>
void word_chunks(const FixedKernel& f, const float* x, int64_t total, int64_t c0, int64_t c1,
                 Body& body) {
  int32_t words[kChunk];
  for (int64_t c = c0; c < c1; ++c) {
    int64_t off = c * kChunk, n = std::min(kChunk, total - off);
    offset_words(x + off, n, f.table.frac_x, words);
    body(off, n, words);
  }
}

int64_t chunks(int64_t total) {
  return (total + kChunk - 1) / kChunk;
}

// The same over all of x, threaded.
template <class Body>
void for_word_chunks(const FixedKernel& f, const float* x, int64_t total, Body body) {
  parallel_for(chunks(total), 64,
               [&](int64_t c0, int64_t c1) { word_chunks(f, x, total, c0, c1, body); });
}
}  // namespace

void run_rows(const FixedKernel& f, const float* x, float* y, float* dy, int64_t n) {
  auto body = [&](int64_t off, int64_t m, const int32_t* w) {
    gather(f.value.data(), w, m, y + off);
    if (dy) gather(f.derivative.data(), w, m, dy + off);
  };
  word_chunks(f, x, n, 0, chunks(n), body);
}

Tensor fixed_forward(const FixedKernel& f, const Tensor& x_in, std::vector<uint8_t>* index) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  if (index) index->resize(x.numel());
  float* py = y.data();
  for_word_chunks(f, x.data(), x.numel(), [&](int64_t off, int64_t n, const int32_t* w) {
    gather(f.value.data(), w, n, py + off);
    if (index) gather(f.segment.data(), w, n, index->data() + off);
  });
  return y;
}

ValueAndDerivative fixed_value_and_derivative(const FixedKernel& f, const Tensor& x_in) {
  Tensor x = x_in.contiguous();
  ValueAndDerivative r{Tensor::empty(x.shape()), Tensor::empty(x.shape())};
  const int64_t total = x.numel();
  parallel_for(chunks(total), 64, [&](int64_t c0, int64_t c1) {
    int64_t i0 = c0 * kChunk, i1 = std::min(total, c1 * kChunk);
    run_rows(f, x.data() + i0, r.value.data() + i0, r.derivative.data() + i0, i1 - i0);
  });
  return r;
}

}  // namespace dapa
