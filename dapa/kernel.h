// The fused DAPA kernel on tensors: find each element's segment among the breakpoints
// and evaluate its line, in float32, the arithmetic the activation runs in. The forward
// can also emit a one-byte segment index per element, which is all the `slope`-mode
// backward needs (dx = dy * slope[k]), instead of the float input.
//
// Tables of up to 32 segments live in vector registers: the segment is found by a
// branch-free binary search whose probes are register permutes, and the line's
// coefficients are permutes too (AVX-512: 16 lanes, up to 32 segments; AVX2: 8 lanes, up
// to 16). The instruction set is picked at run time; every path gives the same bits
// (products and sums are never fused), and other CPUs and larger tables take the
// portable path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/kernels.h"
#include "dapa/fit.h"

namespace dapa {

struct TableKernel {
  // At most 256 segments. floor_at_zero: values below 0 (NaN too) are 0, with derivative
  // 0 there: a softmax's exp, whose negative table values count as 0 (attention_with_exp).
  explicit TableKernel(const PiecewiseLinear& table, bool floor_at_zero = false);
  DerivativeMode mode;
  bool floor_at_zero;
  std::vector<float> breakpoints, slope, intercept, dslope, dintercept;
  // A bounded table (PiecewiseLinear::domain_lo/hi): inputs are clamped to the domain,
  // the derivative is 0 outside it.
  bool bounded = false;
  float domain_lo = 0, domain_hi = 0;
  // The register tables: breakpoints padded with NaN (never <= x), coefficients padded
  // with the last segment's; lut_size 16 or 32, or 0 when the table is larger.
  int lut_size = 0;
  float lut_b[32], lut_slope[32], lut_intercept[32], lut_dslope[32], lut_dintercept[32];
};

// y = table(x); when `index` is given it receives each element's segment.
Tensor table_forward(const TableKernel& t, const Tensor& x, std::vector<uint8_t>* index = nullptr);
// dx = dy * slope[k] from saved segment indices (`slope` mode; unbounded tables without
// the floor only).
Tensor table_backward_from_index(const TableKernel& t, const std::vector<uint8_t>& index,
                                 const Tensor& gy);
// dx = dy * table'(x), either mode.
Tensor table_backward(const TableKernel& t, const Tensor& x, const Tensor& gy);
ValueAndDerivative table_value_and_derivative(const TableKernel& t, const Tensor& x);

// The table on raw runs, unthreaded, for fused kernels (a bounded table clamps as above):
// y = table(x) and, unless dy is null, dy = table'(x).
void run_rows(const TableKernel& t, const float* x, float* y, float* dy, int64_t n);
using TableRows = KernelRows<TableKernel>;

// The instruction set the kernels use: "avx512", "avx2" or "portable". Setting one the
// CPU lacks (or an unknown name) throws std::invalid_argument; for tests and benchmarks.
std::string table_kernel_isa();
void set_table_kernel_isa(const std::string& isa);

}  // namespace dapa
