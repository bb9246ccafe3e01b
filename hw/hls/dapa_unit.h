// The DAPA activation unit, fused forward and gradient, in Vitis-HLS-style C++.
//
// Per element: find x's segment among the N-1 breakpoints with N-1 parallel comparators,
// then y = a[k] x + b[k] (forward) and, from the same lookup, dx = g d(x, k) (backward;
// d = a[k] in slope mode, the fitted derivative line in fitted mode). All words are
// 16-bit; the arithmetic (round to nearest with ties up, saturation) is exactly that of
// the integer golden model in dapa/fixed_point.h, and tests/hw checks it bit for bit.
//
// The coefficients come from `dapa_coeffs.h`, written by `dapa_export --header` from a
// table file; put its directory on the include path. Only <stdint.h> is needed: g++
// builds this for C simulation (the HLS pragmas are ignored), Vitis HLS synthesises it.
#pragma once

#include <stdint.h>

// Streams of n elements: y[i] = f(x[i]); when `backward` is set, also dx[i] = g[i] f'(x[i]).
void dapa_unit(const int16_t* x, const int16_t* g, int16_t* y, int16_t* dx, int n, int backward);

// One element, the body of the pipelined loop (for C simulation and reuse).
void dapa_element(int16_t x, int16_t g, int16_t* y, int16_t* dx);
