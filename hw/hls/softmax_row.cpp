// The softmax row unit; see softmax_row.h. Both variants are one template around their
// exp, so the baseline differs from the DAPA unit in that stage alone.
#include "softmax_row.h"

#include "dapa_coeffs.h"
#include "dapa_unit.h"
#include "exp_direct.h"
#include "fixed_arith.h"

namespace {

constexpr int kSeedBits = 6;
constexpr int kScoreShift = kSoftmaxScoreFrac - DAPA_FRAC_X;  // scores to the table's input

// Seed i: round(2^16 / (1 + (i + 1/2) 2^-6)), the Q16 reciprocal of the midpoint of the
// mantissas [1 + i/64, 1 + (i+1)/64); a ROM, computed when compiling.
struct SeedRom {
  uint16_t word[1 << kSeedBits];
  constexpr SeedRom() : word() {
    for (int i = 0; i < (1 << kSeedBits); ++i) {
      const uint64_t num = static_cast<uint64_t>(1) << (16 + kSeedBits + 1);
      const uint64_t den = (static_cast<uint64_t>(1) << (kSeedBits + 1)) + 2 * i + 1;
      word[i] = static_cast<uint16_t>((2 * num + den) / (2 * den));
    }
  }
};
constexpr SeedRom kSeeds;

template <class Exp>
int softmax_row_with(const int16_t* s, uint16_t* p, int n, Exp exp_word) {
  int16_t row[kSoftmaxRowBuffer];
#pragma HLS BIND_STORAGE variable = row type = ram_t2p impl = bram
  const int len = n < kSoftmaxRowBuffer ? n : kSoftmaxRowBuffer;
  int16_t m = -32768;
load:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II = 1
    const int16_t v = s[i];
    if (i < kSoftmaxRowBuffer) {
      row[i] = v;
      m = v > m ? v : m;
    }
  }
  uint32_t sum = 0;
exp:
  for (int i = 0; i < len; ++i) {
#pragma HLS PIPELINE II = 1
    const int64_t diff = static_cast<int64_t>(row[i]) - m;
    const int16_t e = exp_word(dapa_saturate16(dapa_round_shift(diff, kScoreShift)));
    row[i] = e > 0 ? e : static_cast<int16_t>(0);
    sum += static_cast<uint32_t>(row[i]);
  }
  uint32_t r;
  int shift;
  softmax_reciprocal(sum, &r, &shift);
normalise:
  for (int i = 0; i < len; ++i) {
#pragma HLS PIPELINE II = 1
    const int64_t q = dapa_round_shift(static_cast<int64_t>(row[i]) * r, shift);
    p[i] = static_cast<uint16_t>(q > 65535 ? 65535 : q);
  }
  return n > kSoftmaxRowBuffer ? 1 : 0;
}

int16_t table_exp(int16_t z) {
  int16_t y, unused_dx;
  dapa_element(z, 0, &y, &unused_dx);
  return y;
}

int16_t direct_exp(int16_t z) {
  return exp_direct_element(z, DAPA_FRAC_X, DAPA_FRAC_Y);
}

}  // namespace

void softmax_reciprocal(uint32_t sum, uint32_t* r, int* shift) {
#pragma HLS INLINE
  int b = 0;  // bit length: a priority encoder
  for (int j = 0; j < 32; ++j) {
#pragma HLS UNROLL
    if ((sum >> j) & 1) b = j + 1;
  }
  const uint64_t m = b > 16 ? sum >> (b - 16) : static_cast<uint64_t>(sum) << (16 - b);
  const int64_t r0 = kSeeds.word[(m >> (15 - kSeedBits)) & ((1 << kSeedBits) - 1)];
  const int64_t two_minus = (static_cast<int64_t>(1) << 32) - static_cast<int64_t>(m) * r0;
  const int64_t t = dapa_round_shift(two_minus, 16);
  *r = static_cast<uint32_t>(dapa_round_shift(r0 * t, 15));
  *shift = b - 1;
}

int softmax_row_dapa(const int16_t* s, uint16_t* p, int n) {
#pragma HLS INTERFACE axis port = s
#pragma HLS INTERFACE axis port = p
#pragma HLS INTERFACE s_axilite port = n
#pragma HLS INTERFACE s_axilite port = return
  return softmax_row_with(s, p, n, table_exp);
}

int softmax_row_direct(const int16_t* s, uint16_t* p, int n) {
#pragma HLS INTERFACE axis port = s
#pragma HLS INTERFACE axis port = p
#pragma HLS INTERFACE s_axilite port = n
#pragma HLS INTERFACE s_axilite port = return
  return softmax_row_with(s, p, n, direct_exp);
}
