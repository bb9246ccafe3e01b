// Vectorisable transcendental helpers for the kernels. Plain arithmetic that GCC
// vectorises at the baseline ISA (SSE2 on x86, NEON on ARM): Eigen's exp at the SSE2
// baseline runs about 3x slower than this. Files that use these are compiled with
// -fno-trapping-math, without which GCC keeps the clamps scalar.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace dapa {

// Marks a function of plain arithmetic loops for extra clones: on x86-64 ELF targets the
// compiler also builds AVX-512F and AVX2 versions and the loader picks one for the CPU.
// Files using it compile with -ffp-contract=off (AVX-512F has FMA), so every clone rounds
// exactly as the baseline does: the same bits on every machine (tests: FunctionGolden).
#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__)
#define DAPA_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DAPA_VECTOR_CLONES
#endif

// The sums below keep 16 lanes in vector types (as arrays GCC keeps them in memory, a
// store and a reload per block), as two halves of 8: one register each on AVX2 and
// AVX-512, two on SSE2 and NEON. Not one 16-lane vector type: below AVX-512 GCC 12
// handles those through the stack, and compares them lane by lane.
using Lanes8 = float __attribute__((vector_size(32)));
using Lanes4 = float __attribute__((vector_size(16)));
struct Lanes16 {
  Lanes8 lo, hi;  // lanes 0-7 and 8-15
};
__attribute__((always_inline)) inline Lanes16& operator+=(Lanes16& a, const Lanes16& b) {
  a.lo += b.lo;
  a.hi += b.hi;
  return a;
}
__attribute__((always_inline)) inline Lanes16& operator*=(Lanes16& a, const Lanes16& b) {
  a.lo *= b.lo;
  a.hi *= b.hi;
  return a;
}
__attribute__((always_inline)) inline Lanes16& operator-=(Lanes16& a, float b) {
  a.lo -= b;
  a.hi -= b;
  return a;
}

// exp(x) to about 2 ulp. Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, a degree-6
// polynomial for e^r, and 2^n built in the exponent bits. Below -87 the result is
// exactly 0 (no denormals); above 88.37 (where n would reach 128) it is +inf, so the
// largest finite result is e^88.37 = 2.4e38 rather than FLT_MAX; NaN stays NaN. Rounding
// uses the 1.5 * 2^23 trick, so n never passes through a float-to-int conversion
// (undefined for NaN) and the bit arithmetic is unsigned (defined for any input). No
// branches: loops over it vectorise at each clone's own width (a 16-lane vector type
// here would not: GCC 12 turns a comparison of vectors wider than the instruction set's
// into 16 scalar ones). fast_exp<false> is for arguments known to be at most 0 (or NaN):
// the same bits without the upper clamp's compares and selects (GELU's exp(-x^2 / 2),
// the softmax's exp(s - max)).
template <bool kCanBePositive = true>
__attribute__((always_inline)) inline float fast_exp(float x_in) {
  constexpr float kLow = -87.0f, kHigh = 88.37f;
  float x = x_in < kLow ? kLow : x_in;  // NaN compares false and stays NaN
  if constexpr (kCanBePositive) x = kHigh < x ? kHigh : x;
  const float kRound = 12582912.0f;                         // 1.5 * 2^23: its ulp is 1
  const float shifted = x * 1.44269504088896341f + kRound;  // n = round(x / ln2) in the low bits
  const float fn = shifted - kRound;
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
  float y = p * scale;
  if constexpr (kCanBePositive) y = x_in > kHigh ? HUGE_VALF : y;
  return x_in < kLow ? 0.0f : y;
}

// The standard normal CDF Phi(x) and density phi(x), for GELU = x Phi(x) and its
// derivative Phi(x) + x phi(x). Phi(-a) = phi(a) R(a) for a = |x|, where the Mills ratio
// R is smooth on [0, 14] and fitted as a degree-9 polynomial in t = 1 / (1 + 0.3 a)
// (core/fit_mills_ratio.py); Phi(x) = 1 - Phi(-x) for x > 0. Relative error below
// 4e-6 wherever Phi is a normal float (the x*x inside the exponent dominates); one
// exp and one division, no branches, so loops over it vectorise.
struct NormalCdfPdf {
  float cdf, pdf;
};
inline NormalCdfPdf normal_cdf_pdf(float x) {
  constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
  constexpr float kMills[] = {
      3.485824495e-05f,  2.991565741e-01f, 3.087759452e-01f,  2.215424079e-01f, 4.058279899e-01f,
      -2.873265940e-01f, 6.939030732e-01f, -5.187128646e-01f, 1.381153120e-01f, -8.002510281e-03f};
  const float t = 1.0f / (1.0f + 0.3f * std::fabs(x));
  float r = kMills[9];
  for (int i = 8; i >= 0; --i) r = r * t + kMills[i];
  const float pdf = kInvSqrt2Pi * fast_exp<false>(-0.5f * x * x);
  const float lower = pdf * r;  // Phi(-|x|)
  return {x < 0.0f ? lower : 1.0f - lower, pdf};
}

// The largest of 16 lanes, folded in halves.
inline float max_fold(const float* lanes) {
  float half[8], quarter[4];
  for (int l = 0; l < 8; ++l) half[l] = lanes[l] < lanes[l + 8] ? lanes[l + 8] : lanes[l];
  for (int l = 0; l < 4; ++l) quarter[l] = half[l] < half[l + 4] ? half[l + 4] : half[l];
  float m = quarter[0];
  for (int l = 1; l < 4; ++l) m = m < quarter[l] ? quarter[l] : m;
  return m;
}

// The largest of x[0..n) (n >= 1; NaN entries are passed over), and the first index
// holding it (n - 1 when none does: a row whose first entry is NaN). One pass in 16
// lanes (a maximum does not depend on the order): per lane the best value and where it
// was first seen (a later entry must be larger to replace it). The lanes are arrays,
// which each clone's vectoriser takes at its own width, not a 16-lane vector type (GCC
// 12 compares those lane by lane below AVX-512). Always inlined: the callers' clones
// then compile it for their instruction set.
struct MaxAt {
  float max;
  int64_t at;
};
template <bool kWhere = true>
__attribute__((always_inline)) inline MaxAt lane_argmax(const float* x, int64_t n) {
  float best[16];  // x[0] in every lane: the start, and a tail's missing lanes (never larger)
  int32_t at[16] = {};
  std::fill_n(best, 16, x[0]);
  auto take = [&](const float* v, int64_t i) {
#pragma GCC unroll 1  // whole, the loop would reach the vectoriser as 16 scalar branches
    for (int l = 0; l < 16; ++l) {
      const bool larger = v[l] > best[l];
      best[l] = larger ? v[l] : best[l];
      if constexpr (kWhere) at[l] = larger ? static_cast<int32_t>(i) + l : at[l];
    }
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) take(x + i, i);
  if (i < n) {
    float block[16];
    std::fill_n(std::copy_n(x + i, n - i, block), 16 - (n - i), x[0]);
    take(block, i);
  }
  const float m = max_fold(best);
  if constexpr (!kWhere) return {m, 0};
  // The smallest index among the lanes that hold the maximum.
  // (Folded in halves as arrays: loops the vectoriser takes, not 16 scalar compares.)
  const int32_t none = static_cast<int32_t>(n - 1);
  int32_t where[16];
  for (int l = 0; l < 16; ++l) where[l] = best[l] == m ? at[l] : none;
  for (int l = 0; l < 8; ++l) where[l] = where[l + 8] < where[l] ? where[l + 8] : where[l];
  for (int l = 0; l < 4; ++l) where[l] = where[l + 4] < where[l] ? where[l + 4] : where[l];
  return {m, std::min(std::min(where[0], where[1]), std::min(where[2], where[3]))};
}

// The largest of x[0..n) (n >= 1; NaN entries are passed over).
__attribute__((always_inline)) inline float lane_max(const float* x, int64_t n) {
  return lane_argmax<false>(x, n).max;
}

// Sums over i < n in an order that does not depend on the instruction set: 16
// running sums (lane l takes i = l mod 16), folded in halves at the end. The sums are
// Lanes16, so every DAPA_VECTOR_CLONES clone of a caller gets the same bits. A tail past the last
// whole block of 16 is one more block padded with zeros, which change no sum; callers
// may also pad their rows with zeros to whole blocks (lane_padded).
constexpr int64_t kSumLanes = 16;
inline int64_t lane_padded(int64_t n) {
  return (n + kSumLanes - 1) / kSumLanes * kSumLanes;
}

// v = 16 floats from p, or the first `count` < 16 of them and zeros after.
__attribute__((always_inline)) inline void load_lanes(Lanes16& v, const float* p, int64_t count) {
  if (count >= 16) {
    std::memcpy(&v.lo, p, sizeof v.lo);  // by halves: one whole copy goes through the stack
    std::memcpy(&v.hi, p + 8, sizeof v.hi);
    return;
  }
  float block[16] = {};
  std::copy_n(p, count, block);
  std::memcpy(&v.lo, block, sizeof v.lo);
  std::memcpy(&v.hi, block + 8, sizeof v.hi);
}

// load_lanes' inverse: v's first `count` lanes (all 16 when count >= 16) to p.
__attribute__((always_inline)) inline void store_lanes(const Lanes16& v, float* p, int64_t count) {
  if (count >= 16) {
    std::memcpy(p, &v.lo, sizeof v.lo);
    std::memcpy(p + 8, &v.hi, sizeof v.hi);
    return;
  }
  float block[16];
  std::memcpy(block, &v.lo, sizeof v.lo);
  std::memcpy(block + 8, &v.hi, sizeof v.hi);
  std::copy_n(block, count, p);
}

// 16 lanes folded in halves (the sums' last step).
inline float fold_lanes(const Lanes16& all) {
  const Lanes8 half = all.lo + all.hi;
  const Lanes4 quarter = __builtin_shufflevector(half, half, 0, 1, 2, 3) +
                         __builtin_shufflevector(half, half, 4, 5, 6, 7);
  return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
}

// K sums in one pass: block(i, count, terms) sets the K terms of entries i..i+16
// (LaneTerms: K vectors), from its loads by load_lanes(v, p + i, count) (zeros past
// count). Always inlined, so the callers' clones compile it for their instruction set.
template <int K>
using LaneTerms = std::array<Lanes16, K>;
template <int K, class Block>
__attribute__((always_inline)) inline std::array<float, K> lane_sums(int64_t n, Block block) {
  LaneTerms<K> acc = {};
  auto add = [&](int64_t i, int64_t count) {
    LaneTerms<K> terms;
    block(i, count, terms);
    for (int k = 0; k < K; ++k) acc[k] += terms[k];
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) add(i, 16);
  if (i < n) add(i, n - i);
  std::array<float, K> sums;
  for (int k = 0; k < K; ++k) sums[k] = fold_lanes(acc[k]);
  return sums;
}

template <class Block>
__attribute__((always_inline)) inline float lane_sum(int64_t n, Block block) {
  return lane_sums<1>(n, block)[0];
}

// The sum of x[0..n) in lane_sum's order.
__attribute__((always_inline)) inline float lane_sum_of(const float* x, int64_t n) {
  return lane_sum(n, [&](int64_t i, int64_t count, LaneTerms<1>& terms) {
    load_lanes(terms[0], x + i, count);
  });
}

// The sum of a[i] b[i] over i < n in lane_sum's order.
__attribute__((always_inline)) inline float lane_dot(const float* a, const float* b, int64_t n) {
  return lane_sum(n, [&](int64_t i, int64_t count, LaneTerms<1>& terms) {
    Lanes16 bi;
    load_lanes(terms[0], a + i, count);
    load_lanes(bi, b + i, count);
    terms[0] *= bi;
  });
}

}  // namespace dapa
