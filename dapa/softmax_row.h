// The softmax row unit's integer golden model: what hw/hls/softmax_row and
// hw/rtl/softmax_row.v compute, bit for bit, for one row of attention scores.
//
// Scores s[0..n) are 16-bit words in the unit's score format Q(score_frac) (by default
// kSoftmaxScoreFrac: Q7.8, scores up to +-128 in steps of 1/256); probabilities come out as
// unsigned 16-bit words in Q0.16 (p / 65536, 1 saturating to 65535):
//   m    = max s                                              (pass 1, while loading)
//   z[i] = sat16(round_shift(s[i] - m, score_frac - frac_x)) <= 0, in the exp table's
//          Q(frac_x): the table's input format is as fine as its domain [lo, 0] allows, so
//          it cannot also hold raw scores (a shift left saturates differences below the
//          domain, where exp is 0 anyway)
//   e[i] = max(0, exp_word(z[i]))        in Q(frac_y)         (pass 2, with the sum)
//   S    = sum e[i] >= exp_word(0) > 0  (the row maximum's entry; a softmax table is
//          checked to be positive at 0), at most 2^15 n: 32 bits up to n = 65536
//   1/S  by normalisation, a seed table and one Newton step (reciprocal_of below)
//   p[i] = min(65535, round_shift(e[i] * r, shift))           (pass 3)
// exp_word is a softmax DAPA table (FixedTable::forward: clamp to its domain, segment,
// line) or, for the baseline unit, a direct exp (hw/hls/exp_direct.h).
//
// The reciprocal: S = M 2^(b-16) with b = bit length of S and the mantissa M in
// [2^15, 2^16) (Q15, 1 <= M/2^15 < 2; truncated when b > 16). A seed r0 ~ 2^31 / M (Q16)
// from a table indexed by the kReciprocalSeedBits bits below M's leading one (each entry
// the reciprocal of its interval's midpoint, relative error < 2^-(bits+1)), then one Newton
// step r = r0 (2 - M r0) squares the error: |r 2^-16 M 2^-15 - 1| < 2^-13 over every M
// (tests/dapa/test_softmax_row.cpp checks all of them). Then e/S = e r 2^(1-b-16), so
// p = e r 2^(1-b) in Q0.16: the shift is b - 1. Two multipliers for the reciprocal (once
// per row) and one per element.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "dapa/fixed_point.h"

namespace dapa {

inline constexpr int kReciprocalSeedBits = 6;  // 64 seeds
inline constexpr int kSoftmaxRowMax = 65536;   // the golden model's limit (32-bit sum)
inline constexpr int kSoftmaxScoreFrac = 8;    // the units' score format, Q7.8

// Seed i: round(2^16 / (1 + (i + 1/2) 2^-bits)), the Q16 reciprocal of the midpoint of
// the mantissas whose bits below the leading one start with i.
uint32_t reciprocal_seed(int i);

struct Reciprocal {
  uint32_t r = 0;  // ~ 2^31 / M, Q16 (17 bits: 65536 when M = 2^15)
  int shift = 0;   // b - 1: e / S = e r 2^-(shift + 16)
};
// 1/S for S >= 1 as described above.
Reciprocal reciprocal_of(uint32_t sum);

// p = min(65535, round_shift(e * r, shift)): one probability word.
uint16_t probability_word(int16_t e, const Reciprocal& r);

using ExpWord = std::function<int16_t(int16_t z)>;

// The row: n in [1, kSoftmaxRowMax] scores, n probability words; exp_word takes z in
// Q(score_frac - score_shift). Throws std::invalid_argument for n or the shift out of
// range (n in [1, kSoftmaxRowMax], the shift in [-15, 15]) or an exp whose value at 0 is
// not positive.
std::vector<uint16_t> softmax_row_words(const ExpWord& exp_word, const int16_t* s, int n,
                                        int score_shift);
// The same with a softmax table (check_softmax_table must accept it): the shift is
// score_frac - the table's frac_x.
std::vector<uint16_t> softmax_row_words(const FixedTable& exp_table, const int16_t* s, int n,
                                        int score_frac = kSoftmaxScoreFrac);

}  // namespace dapa
