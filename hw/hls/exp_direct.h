// The exp an HLS user would otherwise write for a softmax: exp(z), z <= 0, computed
// directly in 16-bit fixed point, in the DAPA unit's arithmetic (round to nearest with
// ties up, saturation). The baseline softmax row unit uses it in place of the table.
//
//   z in Q(frac_x), y in Q(frac_y), the table's formats, so the two units take and give
//   the same words:
//     t = z log2(e)                      (log2(e) in Q14: one multiplier)
//     n = floor(t) <= 0, f = t - n       (f truncated to Q15)
//     2^f = c0 + f (c1 + f (c2 + f c3))  (Q14 cubic, Horner: three multipliers; relative
//                                          error 9.1e-5 before rounding, fit_baseline.py)
//     y = round_shift(2^f, 14 - frac_y - n)   (a shift by -n; 0 once it drops every bit)
// Four multipliers, against the table's one.
#pragma once

#include <stdint.h>

#include "fixed_arith.h"

constexpr int16_t kExpLog2e = 23637;                         // log2(e) in Q14
constexpr int16_t kExpPow2[4] = {16383, 11401, 3704, 1278};  // 2^f on [0, 1), Q14

inline int16_t exp_direct_element(int16_t z, int frac_x, int frac_y) {
#pragma HLS INLINE
  const int point = frac_x + 14;  // t's binary point
  const int64_t t = static_cast<int64_t>(z) * kExpLog2e;
  const int64_t n = t >> point;  // floor (arithmetic shift)
  const int64_t frac = t & ((static_cast<int64_t>(1) << point) - 1);
  const int64_t f = point >= 15 ? frac >> (point - 15) : frac << (15 - point);  // Q15
  int64_t q = kExpPow2[3];
  for (int i = 2; i >= 0; --i) {
#pragma HLS UNROLL
    q = kExpPow2[i] + dapa_round_shift(q * f, 15);
  }
  const int64_t shift = 14 - frac_y - n;
  if (shift > 31) return 0;
  return dapa_saturate16(dapa_round_shift(q, static_cast<int>(shift)));
}
