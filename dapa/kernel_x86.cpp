// The table kernel's vector loops for x86 (AVX2 and AVX-512F), compiled for those
// instruction sets function by function and called only where the CPU has them; see
// kernel.h. Each vector of x finds its segments by a binary search over the register
// table (probe = breakpoint[k + step - 1], k += step where x >= probe) and fetches its
// coefficients with permutes. Products and sums stay separate, as in the portable loop,
// so every path gives the same bits. A bounded table's clamp is max(lo, x) then min(hi,
// .) in registers: with the bound first, a NaN x stays NaN and a -0 stays -0, as
// std::clamp leaves them. A tail shorter than a vector is one more vector under a mask
// (masked loads and stores), so short rows (an attention's) stay in registers too. With
// floor_at_zero, values that are not positive become +0 and their derivative 0, as in
// the portable loop.
#include "dapa/kernel_isa.h"

#ifdef DAPA_X86_KERNELS
// GCC 12's AVX-512 headers start some intrinsics from _mm512_undefined_*(), which its
// own -Wmaybe-uninitialized then reports (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#define DAPA_AVX2 __attribute__((target("avx2")))
#define DAPA_AVX512 __attribute__((target("avx512f")))

namespace dapa::isa {

namespace {

// ---- AVX-512: 16 lanes, tables of 16 (one register) or 32 (two) entries ----
// A table's entries in registers, loaded once per run: the loops store through float
// pointers, which could alias the kernel's arrays, so the compiler would reload them.
template <int L>
struct Lut512 {
  __m512 lo, hi;
  DAPA_AVX512 explicit Lut512(const float* table)
      : lo(_mm512_loadu_ps(table)), hi(L == 32 ? _mm512_loadu_ps(table + 16) : lo) {}
  DAPA_AVX512 __m512 operator[](__m512i k) const {
    if constexpr (L == 16) return _mm512_permutexvar_ps(k, lo);
    return _mm512_permutex2var_ps(lo, k, hi);
  }
};

// The breakpoints for the binary search. Its first two probes need no permute: every
// lane compares with breakpoint L/2 - 1 first, then with L/4 - 1 or 3L/4 - 1 (a blend of
// two broadcasts), so two of the search's permutes (the busiest port's) are saved.
template <int L>
struct Search512 {
  Lut512<L> b;
  __m512 first, second_lo, second_hi;
  DAPA_AVX512 explicit Search512(const float* bp)
      : b(bp),
        first(_mm512_set1_ps(bp[L / 2 - 1])),
        second_lo(_mm512_set1_ps(bp[L / 4 - 1])),
        second_hi(_mm512_set1_ps(bp[3 * L / 4 - 1])) {}
};

template <int L>
DAPA_AVX512 inline __m512i segment512(const Search512<L>& s, __m512 v) {
  // NaN padding compares false: never >=.
  const __mmask16 upper = _mm512_cmp_ps_mask(v, s.first, _CMP_GE_OQ);
  __m512i k = _mm512_maskz_mov_epi32(upper, _mm512_set1_epi32(L / 2));
  const __m512 second = _mm512_mask_blend_ps(upper, s.second_lo, s.second_hi);
  k = _mm512_mask_add_epi32(k, _mm512_cmp_ps_mask(v, second, _CMP_GE_OQ), k,
                            _mm512_set1_epi32(L / 4));
  for (int step = L / 8; step >= 1; step /= 2) {
    __m512 probe = s.b[_mm512_add_epi32(k, _mm512_set1_epi32(step - 1))];
    __mmask16 ge = _mm512_cmp_ps_mask(v, probe, _CMP_GE_OQ);
    k = _mm512_mask_add_epi32(k, ge, k, _mm512_set1_epi32(step));
  }
  return k;
}

// The lanes of the vector at i that hold elements: all 16, or a tail's.
DAPA_AVX512 inline __mmask16 lanes512(int64_t i, int64_t n) {
  return n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
}

template <int L>
DAPA_AVX512 void eval512(const TableKernel& t, const float* x, int64_t n, float* y, uint8_t* index,
                         float* d) {
  const bool fitted = t.mode == DerivativeMode::Fitted, bounded = t.bounded;
  const bool floor = t.floor_at_zero;
  const Search512<L> b(t.lut_b);
  const Lut512<L> slope(t.lut_slope), intercept(t.lut_intercept);
  const Lut512<L> dslope(t.lut_dslope), dintercept(t.lut_dintercept);
  const __m512 lo = _mm512_set1_ps(t.domain_lo), hi = _mm512_set1_ps(t.domain_hi);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 lanes = lanes512(i, n);
    __m512 v = _mm512_maskz_loadu_ps(lanes, x + i);
    __mmask16 inside = 0xffff;
    if (bounded) {
      __m512 c = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
      inside = _mm512_cmp_ps_mask(c, v, _CMP_EQ_OQ);
      v = c;
    }
    __m512i k = segment512<L>(b, v);
    if (y || floor) {
      __m512 yv = _mm512_add_ps(_mm512_mul_ps(slope[k], v), intercept[k]);
      if (floor) {
        const __mmask16 positive = _mm512_cmp_ps_mask(yv, _mm512_setzero_ps(), _CMP_GT_OQ);
        yv = _mm512_maskz_mov_ps(positive, yv);
        inside &= positive;
      }
      if (y) _mm512_mask_storeu_ps(y + i, lanes, yv);
    }
    if (index) _mm512_mask_cvtepi32_storeu_epi8(index + i, lanes, k);
    if (d) {
      __m512 dv = slope[k];
      if (fitted) dv = _mm512_add_ps(_mm512_mul_ps(dslope[k], v), dintercept[k]);
      _mm512_mask_storeu_ps(d + i, lanes, _mm512_maskz_mov_ps(inside, dv));
    }
  }
}

template <int L>
DAPA_AVX512 void index_backward512(const TableKernel& t, const uint8_t* index, const float* g,
                                   int64_t n, float* dx) {
  const Lut512<L> slope(t.lut_slope);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 lanes = lanes512(i, n);
    alignas(16) uint8_t tail[16] = {};  // a byte-masked load needs AVX-512BW
    const uint8_t* at = index + i;
    if (lanes != 0xffff) at = static_cast<const uint8_t*>(std::memcpy(tail, at, n - i));
    __m512i k = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(at)));
    _mm512_mask_storeu_ps(dx + i, lanes,
                          _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, g + i), slope[k]));
  }
}

DAPA_AVX512 void eval_avx512(const TableKernel& t, const float* x, int64_t n, float* y,
                             uint8_t* index, float* d) {
  t.lut_size == 16 ? eval512<16>(t, x, n, y, index, d) : eval512<32>(t, x, n, y, index, d);
}

DAPA_AVX512 void index_backward_avx512(const TableKernel& t, const uint8_t* index, const float* g,
                                       int64_t n, float* dx) {
  t.lut_size == 16 ? index_backward512<16>(t, index, g, n, dx)
                   : index_backward512<32>(t, index, g, n, dx);
}

// ---- AVX2: 8 lanes, tables of 16 entries (two registers, blended on bit 3) ----
struct Lut256 {
  __m256 lo, hi;
  DAPA_AVX2 explicit Lut256(const float* table)
      : lo(_mm256_loadu_ps(table)), hi(_mm256_loadu_ps(table + 8)) {}
  DAPA_AVX2 __m256 operator[](__m256i k) const {
    __m256i upper = _mm256_cmpgt_epi32(k, _mm256_set1_epi32(7));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, k), _mm256_permutevar8x32_ps(hi, k),
                            _mm256_castsi256_ps(upper));
  }
};

// The binary search as on AVX-512 (Search512): its first two probes are broadcasts.
struct Search256 {
  Lut256 b;
  __m256 first, second_lo, second_hi;
  DAPA_AVX2 explicit Search256(const float* bp)
      : b(bp),
        first(_mm256_set1_ps(bp[7])),
        second_lo(_mm256_set1_ps(bp[3])),
        second_hi(_mm256_set1_ps(bp[11])) {}
};

DAPA_AVX2 inline __m256i segment256(const Search256& s, __m256 v) {
  const __m256 upper = _mm256_cmp_ps(v, s.first, _CMP_GE_OQ);
  __m256i k = _mm256_and_si256(_mm256_castps_si256(upper), _mm256_set1_epi32(8));
  const __m256 second = _mm256_blendv_ps(s.second_lo, s.second_hi, upper);
  const __m256 ge2 = _mm256_cmp_ps(v, second, _CMP_GE_OQ);
  k = _mm256_add_epi32(k, _mm256_and_si256(_mm256_castps_si256(ge2), _mm256_set1_epi32(4)));
  for (int step = 2; step >= 1; step /= 2) {
    __m256 probe = s.b[_mm256_add_epi32(k, _mm256_set1_epi32(step - 1))];
    __m256 ge = _mm256_cmp_ps(v, probe, _CMP_GE_OQ);
    k = _mm256_add_epi32(k, _mm256_and_si256(_mm256_castps_si256(ge), _mm256_set1_epi32(step)));
  }
  return k;
}

// The lanes of the vector at i that hold elements, as a load/store mask.
DAPA_AVX2 inline __m256i lanes256(int64_t i, int64_t n) {
  const int32_t left = static_cast<int32_t>(std::min<int64_t>(n - i, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

DAPA_AVX2 void eval_avx2(const TableKernel& t, const float* x, int64_t n, float* y, uint8_t* index,
                         float* d) {
  const bool fitted = t.mode == DerivativeMode::Fitted, bounded = t.bounded;
  const bool floor = t.floor_at_zero;
  const Search256 b(t.lut_b);
  const Lut256 slope(t.lut_slope), intercept(t.lut_intercept);
  const Lut256 dslope(t.lut_dslope), dintercept(t.lut_dintercept);
  const __m256 lo = _mm256_set1_ps(t.domain_lo), hi = _mm256_set1_ps(t.domain_hi);
  alignas(32) int32_t ks[8];
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i lanes = lanes256(i, n);
    __m256 v = _mm256_maskload_ps(x + i, lanes);
    __m256 inside = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    if (bounded) {
      __m256 c = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
      inside = _mm256_cmp_ps(c, v, _CMP_EQ_OQ);
      v = c;
    }
    __m256i k = segment256(b, v);
    if (y || floor) {
      __m256 yv = _mm256_add_ps(_mm256_mul_ps(slope[k], v), intercept[k]);
      if (floor) {
        const __m256 positive = _mm256_cmp_ps(yv, _mm256_setzero_ps(), _CMP_GT_OQ);
        yv = _mm256_and_ps(yv, positive);
        inside = _mm256_and_ps(inside, positive);
      }
      if (y) _mm256_maskstore_ps(y + i, lanes, yv);
    }
    if (index) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(ks), k);
      for (int64_t j = 0; j < 8 && i + j < n; ++j) index[i + j] = static_cast<uint8_t>(ks[j]);
    }
    if (d) {
      __m256 dv = slope[k];
      if (fitted) dv = _mm256_add_ps(_mm256_mul_ps(dslope[k], v), dintercept[k]);
      _mm256_maskstore_ps(d + i, lanes, _mm256_and_ps(dv, inside));
    }
  }
}

DAPA_AVX2 void index_backward_avx2(const TableKernel& t, const uint8_t* index, const float* g,
                                   int64_t n, float* dx) {
  const Lut256 slope(t.lut_slope);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i lanes = lanes256(i, n);
    alignas(8) uint8_t tail[8] = {};
    const uint8_t* at =
        n - i >= 8 ? index + i : static_cast<const uint8_t*>(std::memcpy(tail, index + i, n - i));
    __m256i k = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(at)));
    _mm256_maskstore_ps(dx + i, lanes, _mm256_mul_ps(_mm256_maskload_ps(g + i, lanes), slope[k]));
  }
}
}  // namespace

Kernels avx512() {
  return {"avx512", 32, eval_avx512, index_backward_avx512};
}
Kernels avx2() {
  return {"avx2", 16, eval_avx2, index_backward_avx2};
}

}  // namespace dapa::isa
#endif
