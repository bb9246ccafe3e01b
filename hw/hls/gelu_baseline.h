// The baseline an HLS user would otherwise write: GELU (erf form) and its derivative
// computed directly in 16-bit fixed point, by polynomials, in the same style and
// arithmetic conventions as dapa_unit (round to nearest with ties up, saturation).
//
//   x, y in Q4.11; inside |x| < 4, with t = x/4 (Q15) and u = t^2 (Q15):
//     Phi(x) = 1/2 + t R(u)      R of degree 6 (Horner, Q11)   y = x Phi(x)
//     phi(x) = S(u)              S of degree 6 (Horner, Q10)   d = Phi(x) + x phi(x)  (Q14)
//   outside: y = x, d = 1 (x >= 4) and y = 0, d = 0 (x < -4); dx = g d in g's format.
// Max error on [-4, 4]: 4.3e-3 for y and 1.1e-2 for d, at the clamp edge (tests/hw);
// the 16-bit DAPA(16) table of tests/golden/hw errs up to 2.4e-2 and 8.8e-2 there.
// Multipliers: 9 for the forward value, 8 more for the gradient.
#pragma once

#include <stdint.h>

constexpr int kBaselineFracX = 11;  // x and y are Q4.11

void gelu_baseline(const int16_t* x, const int16_t* g, int16_t* y, int16_t* dx, int n,
                   int backward);
void gelu_baseline_element(int16_t x, int16_t g, int16_t* y, int16_t* dx);
