// Internal to the table kernel: the per-instruction-set inner loops behind kernel.h.
#pragma once

#include <cstdint>

#include "dapa/kernel.h"

namespace dapa::isa {

// Over n elements: y (values), index (segments) and d (derivatives) where not null. A
// bounded table evaluates x clamped to its domain (as std::clamp: NaN stays NaN), and its
// derivative is 0 where the clamp changed x.
using EvalFn = void (*)(const TableKernel& t, const float* x, int64_t n, float* y, uint8_t* index,
                        float* d);
// dx = g * slope[index] over n elements.
using IndexBackwardFn = void (*)(const TableKernel& t, const uint8_t* index, const float* g,
                                 int64_t n, float* dx);

struct Kernels {
  const char* name;
  int max_lut;  // largest lut_size these loops take (0: any table)
  EvalFn eval;
  IndexBackwardFn index_backward;
};

Kernels portable();
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DAPA_X86_KERNELS 1
Kernels avx2();    // call only where the CPU has AVX2
Kernels avx512();  // call only where the CPU has AVX-512F
#endif

}  // namespace dapa::isa
