// Vectorisable transcendental helpers for the kernels. Plain arithmetic that GCC
// vectorises at the baseline ISA (SSE2 on x86, NEON on ARM): Eigen's exp at the SSE2
// baseline runs about 3x slower than this. Files that use these are compiled with
// -fno-trapping-math, without which GCC keeps the clamps scalar.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace dapa {

// exp(x) for x <= 0, to about 2 ulp. Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2,
// a degree-6 polynomial for e^r, and 2^n built in the exponent bits. Below -87 the
// result is exactly 0 (no denormals); NaN stays NaN. Rounding uses the 1.5 * 2^23
// trick, so n never passes through a float-to-int conversion (undefined for NaN) and
// the bit arithmetic is unsigned (defined for any input).
inline float exp_nonpositive(float x_in) {
  float x = std::max(x_in, -87.0f);                   // NaN compares false and stays NaN
  const float kRound = 12582912.0f;                   // 1.5 * 2^23: its ulp is 1
  float shifted = x * 1.44269504088896341f + kRound;  // n = round(x / ln2) in the low bits
  float fn = shifted - kRound;
  float r = x - fn * 0.693145751953125f;  // ln2 split in two for an exact product
  r = r - fn * 1.428606765330187045e-06f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  uint32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  bits = (bits - 0x4B400000u + 127u) << 23;  // (n + 127) << 23: the float 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x_in < -87.0f ? 0.0f : p * scale;
}

// y = softmax(x) over n contiguous values (x and y may be the same buffer). The
// reductions go through Eigen, which vectorises them (GCC will not reassociate a float
// sum); the exps are a plain loop that GCC vectorises.
inline void softmax_row(const float* x, float* y, int64_t n) {
  const float m = Eigen::Map<const Eigen::ArrayXf>(x, n).maxCoeff();
  for (int64_t i = 0; i < n; ++i) y[i] = exp_nonpositive(x[i] - m);
  Eigen::Map<Eigen::ArrayXf> yr(y, n);
  yr *= 1.0f / yr.sum();
}

}  // namespace dapa
