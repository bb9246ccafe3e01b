// Baseline fixed-point GELU and derivative; see gelu_baseline.h. Coefficients from
// fit_baseline.py.
#include "gelu_baseline.h"

#include "fixed_arith.h"

namespace {

const int16_t kR[7] = {3265, -8580, 19206, -29883, 29844, -16932, 4104};  // Q11
const int16_t kS[7] = {408, -3197, 11706, -24638, 30179, -19810, 5354};   // Q10

}  // namespace

void gelu_baseline_element(int16_t x, int16_t g, int16_t* y, int16_t* dx) {
#pragma HLS INLINE
  const int16_t lo = -(4 << kBaselineFracX), hi = (4 << kBaselineFracX) - 1;
  int16_t xc = x < lo ? lo : x > hi ? hi : x;
  int16_t t = static_cast<int16_t>(xc * 4);                                        // Q15, |t| < 1
  int16_t u = dapa_saturate16(dapa_round_shift(static_cast<int64_t>(t) * t, 15));  // Q15
  int16_t r = kR[6], s = kS[6];
  for (int i = 5; i >= 0; --i) {
#pragma HLS UNROLL
    r = dapa_saturate16(dapa_round_shift(static_cast<int64_t>(r) * u, 15) + kR[i]);
    s = dapa_saturate16(dapa_round_shift(static_cast<int64_t>(s) * u, 15) + kS[i]);
  }
  int16_t h = dapa_saturate16(dapa_round_shift(static_cast<int64_t>(t) * r, 12));  // Phi - 1/2, Q14
  int16_t phi_cdf = static_cast<int16_t>(h + (1 << 13));                           // Phi, Q14
  int16_t x_pdf = dapa_saturate16(dapa_round_shift(static_cast<int64_t>(t) * s, 9));  // x phi, Q14
  int16_t value = dapa_saturate16(dapa_round_shift(static_cast<int64_t>(x) * phi_cdf, 14));
  int16_t d = dapa_saturate16(static_cast<int64_t>(phi_cdf) + x_pdf);
  if (x > hi) value = x, d = 1 << 14;
  if (x < lo) value = 0, d = 0;
  *y = value;
  *dx = dapa_saturate16(dapa_round_shift(static_cast<int64_t>(g) * d, 14));
}

void gelu_baseline(const int16_t* x, const int16_t* g, int16_t* y, int16_t* dx, int n,
                   int backward) {
#pragma HLS INTERFACE axis port = x
#pragma HLS INTERFACE axis port = g
#pragma HLS INTERFACE axis port = y
#pragma HLS INTERFACE axis port = dx
#pragma HLS INTERFACE s_axilite port = n
#pragma HLS INTERFACE s_axilite port = backward
#pragma HLS INTERFACE s_axilite port = return
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II = 1
    int16_t yi, dxi;
    gelu_baseline_element(x[i], backward ? g[i] : static_cast<int16_t>(0), &yi, &dxi);
    y[i] = yi;
    if (backward) dx[i] = dxi;
  }
}
