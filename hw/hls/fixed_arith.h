// The unit's fixed-point arithmetic, shared by the HLS kernels: round to nearest with
// ties toward +infinity while dropping s fraction bits, and saturation to 16 bits, as in
// the golden model (dapa/fixed_point.h). hw/ depends on no library, so these few lines
// exist here too; the C-simulation tests hold the two to the same bits.
#pragma once

#include <stdint.h>

// s <= 0 scales up instead, with a multiply, because shifting a negative number left is
// undefined in C++.
inline int64_t dapa_round_shift(int64_t v, int s) {
  if (s <= 0) return v * (static_cast<int64_t>(1) << -s);
  return (v + (static_cast<int64_t>(1) << (s - 1))) >> s;
}

inline int16_t dapa_saturate16(int64_t v) {
  return static_cast<int16_t>(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}
