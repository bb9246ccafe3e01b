// The DAPA unit; see dapa_unit.h. Shift amounts are compile-time constants from the
// generated header, so every shift below is wiring, and the only multipliers are the
// forward product a*x and the gradient product g*d (a third, c*x, in fitted mode); a
// shift-add table needs none.
#include "dapa_unit.h"

#include "dapa_coeffs.h"
#include "fixed_arith.h"

namespace {

// a[k] * v. A shift-add table (DAPA_SHIFT_ADD) holds each slope as S1 2^P1 + S2 2^P2:
// two shifts and an add, no multiplier. The shifts are done on the unsigned pattern
// because shifting a negative number left is undefined in C++17.
inline int64_t slope_times(int k, int16_t v) {
  if (!DAPA_SHIFT_ADD) return static_cast<int64_t>(DAPA_SLOPE[k]) * v;
  int64_t t1 =
      static_cast<int64_t>(static_cast<uint64_t>(static_cast<int64_t>(v)) << DAPA_SLOPE_SHIFT1[k]);
  int64_t t2 =
      static_cast<int64_t>(static_cast<uint64_t>(static_cast<int64_t>(v)) << DAPA_SLOPE_SHIFT2[k]);
  int64_t s1 = DAPA_SLOPE_SIGN1[k], s2 = DAPA_SLOPE_SIGN2[k];
  return (s1 > 0 ? t1 : s1 < 0 ? -t1 : 0) + (s2 > 0 ? t2 : s2 < 0 ? -t2 : 0);
}

// k = #{j : breakpoints[j] <= x}: a thermometer code from parallel comparators, summed.
inline int segment_of(int16_t x) {
  int k = 0;
  for (int j = 0; j < DAPA_SEGMENTS - 1; ++j) {
#pragma HLS UNROLL
    k += x >= DAPA_BREAKPOINTS[j] ? 1 : 0;
  }
  return k;
}

}  // namespace

void dapa_element(int16_t x_in, int16_t g, int16_t* y, int16_t* dx) {
#pragma HLS INLINE
  // A bounded table (a softmax's exp) clamps x into [DAPA_DOMAIN_LO, DAPA_DOMAIN_HI] and
  // passes no gradient outside it. With the full word range both comparisons are
  // constant and vanish.
  const int xi = x_in;
  const bool outside = xi < DAPA_DOMAIN_LO || xi > DAPA_DOMAIN_HI;
  const int16_t x = static_cast<int16_t>(xi < DAPA_DOMAIN_LO   ? DAPA_DOMAIN_LO
                                         : xi > DAPA_DOMAIN_HI ? DAPA_DOMAIN_HI
                                                               : xi);
  int k = segment_of(x);
  *y = dapa_saturate16(dapa_round_shift(slope_times(k, x), DAPA_SHIFT_FORWARD) + DAPA_INTERCEPT[k]);
  if (DAPA_FITTED) {
    int16_t d = dapa_saturate16(
        dapa_round_shift(static_cast<int64_t>(DAPA_DSLOPE[k]) * x, DAPA_SHIFT_DERIVATIVE) +
        DAPA_DINTERCEPT[k]);
    *dx = dapa_saturate16(dapa_round_shift(static_cast<int64_t>(g) * d, DAPA_SHIFT_BACKWARD));
  } else {
    *dx = dapa_saturate16(dapa_round_shift(slope_times(k, g), DAPA_SHIFT_BACKWARD));
  }
  if (outside) *dx = 0;
}

void dapa_unit(const int16_t* x, const int16_t* g, int16_t* y, int16_t* dx, int n, int backward) {
#pragma HLS INTERFACE axis port = x
#pragma HLS INTERFACE axis port = g
#pragma HLS INTERFACE axis port = y
#pragma HLS INTERFACE axis port = dx
#pragma HLS INTERFACE s_axilite port = n
#pragma HLS INTERFACE s_axilite port = backward
#pragma HLS INTERFACE s_axilite port = return
#pragma HLS ARRAY_PARTITION variable = DAPA_BREAKPOINTS complete
#pragma HLS ARRAY_PARTITION variable = DAPA_SLOPE complete
#pragma HLS ARRAY_PARTITION variable = DAPA_INTERCEPT complete
#pragma HLS ARRAY_PARTITION variable = DAPA_DSLOPE complete
#pragma HLS ARRAY_PARTITION variable = DAPA_DINTERCEPT complete
#pragma HLS ARRAY_PARTITION variable = DAPA_SLOPE_SIGN1 complete
#pragma HLS ARRAY_PARTITION variable = DAPA_SLOPE_SHIFT1 complete
#pragma HLS ARRAY_PARTITION variable = DAPA_SLOPE_SIGN2 complete
#pragma HLS ARRAY_PARTITION variable = DAPA_SLOPE_SHIFT2 complete
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II = 1
    int16_t yi, dxi;
    dapa_element(x[i], backward ? g[i] : static_cast<int16_t>(0), &yi, &dxi);
    y[i] = yi;
    if (backward) dx[i] = dxi;
  }
}
