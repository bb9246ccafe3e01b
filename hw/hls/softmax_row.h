// The softmax row unit in Vitis-HLS-style C++: one row of attention scores in, its
// probabilities out, with the exp by the DAPA table (softmax_row_dapa) or, as the
// baseline, computed directly (softmax_row_direct, hw/hls/exp_direct.h). The arithmetic
// is that of the integer golden model in dapa/softmax_row.h, and tests/hw holds the two
// (and the Verilog twin, hw/rtl/softmax_row.v) to the same bits:
//   pass 1 (load)       the scores into the row buffer, their maximum m
//   pass 2 (exp)        z = sat16(round_shift(s - m, kSoftmaxScoreFrac - DAPA_FRAC_X)),
//                       e = max(0, exp(z)) back into the buffer, and their sum
//   once per row        1/sum: normalise, a 64-entry seed table, one Newton step
//   pass 3 (normalise)  p = min(65535, round_shift(e r, shift)): Q0.16 probabilities
// Scores are in Q(kSoftmaxScoreFrac); the shift takes their differences into the exp
// table's Q(frac_x) (DAPA_FRAC_X of `dapa_coeffs.h`, which must be a softmax table: bounded
// to [lo, 0], positive at 0).
#pragma once

#include <stdint.h>

constexpr int kSoftmaxRowBuffer = 1024;  // the row buffer: one BRAM18 of 16-bit words
constexpr int kSoftmaxScoreFrac = 8;     // scores in Q7.8 (dapa::kSoftmaxScoreFrac)

// Scores s[0..n) to probabilities p[0..min(n, kSoftmaxRowBuffer)). A longer row is cut to
// the buffer's length (the scores past it are read and dropped) and the result is 1;
// otherwise 0.
int softmax_row_dapa(const int16_t* s, uint16_t* p, int n);
int softmax_row_direct(const int16_t* s, uint16_t* p, int n);

// The once-per-row reciprocal of sum >= 1: r ~ 2^31 / mantissa (Q16), shift = bit length - 1.
void softmax_reciprocal(uint32_t sum, uint32_t* r, int* shift);
