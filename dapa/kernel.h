// The fused DAPA kernel on tensors: find each element's segment among the breakpoints
// and evaluate its line, in float32, the arithmetic the activation runs in. The forward
// can also emit a one-byte segment index per element, which is all the `slope`-mode
// backward needs (dx = dy * slope[k]), instead of the float input.
#pragma once

#include <cstdint>
#include <vector>

#include "core/kernels.h"
#include "dapa/fit.h"

namespace dapa {

struct TableKernel {
  explicit TableKernel(const PiecewiseLinear& table);  // at most 256 segments
  DerivativeMode mode;
  std::vector<float> breakpoints, slope, intercept, dslope, dintercept;
};

// y = table(x); when `index` is given it receives each element's segment.
Tensor table_forward(const TableKernel& t, const Tensor& x, std::vector<uint8_t>* index = nullptr);
// dx = dy * slope[k] from saved segment indices (`slope` mode).
Tensor table_backward_from_index(const TableKernel& t, const std::vector<uint8_t>& index,
                                 const Tensor& gy);
// dx = dy * table'(x), either mode.
Tensor table_backward(const TableKernel& t, const Tensor& x, const Tensor& gy);
ValueAndDerivative table_value_and_derivative(const TableKernel& t, const Tensor& x);

}  // namespace dapa
