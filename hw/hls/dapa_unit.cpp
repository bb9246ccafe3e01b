// The DAPA unit; see dapa_unit.h. Shift amounts are compile-time constants from the
// generated header, so every shift below is wiring, and the only multipliers are the
// forward product a*x and the gradient product g*d (a third, c*x, in fitted mode).
#include "dapa_unit.h"

#include "dapa_coeffs.h"

namespace {

// Round to nearest (ties toward +infinity) while dropping s fraction bits; s <= 0 scales
// up instead. Written with a multiply for s <= 0 because shifting a negative number
// left is undefined in C++.
inline int64_t round_shift(int64_t v, int s) {
  if (s <= 0) return v * (static_cast<int64_t>(1) << -s);
  return (v + (static_cast<int64_t>(1) << (s - 1))) >> s;
}

inline int16_t saturate16(int64_t v) {
  return static_cast<int16_t>(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
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

void dapa_element(int16_t x, int16_t g, int16_t* y, int16_t* dx) {
#pragma HLS INLINE
  int k = segment_of(x);
  *y = saturate16(round_shift(static_cast<int64_t>(DAPA_SLOPE[k]) * x, DAPA_SHIFT_FORWARD) +
                  DAPA_INTERCEPT[k]);
  int16_t d = DAPA_SLOPE[k];
  if (DAPA_FITTED)
    d = saturate16(round_shift(static_cast<int64_t>(DAPA_DSLOPE[k]) * x, DAPA_SHIFT_DERIVATIVE) +
                   DAPA_DINTERCEPT[k]);
  *dx = saturate16(round_shift(static_cast<int64_t>(g) * d, DAPA_SHIFT_BACKWARD));
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
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II = 1
    int16_t yi, dxi;
    dapa_element(x[i], backward ? g[i] : static_cast<int16_t>(0), &yi, &dxi);
    y[i] = yi;
    if (backward) dx[i] = dxi;
  }
}
