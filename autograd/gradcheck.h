// The generic gradient checker: compares an op's hand-written backward with central
// finite differences, for every element of every input that requires a gradient.
// The loss is L = sum(y * r) with a fixed random r, accumulated in double precision so
// that the difference quotient is limited by the op's float32 forward, not by the sum.
// Elements within `kink_margin` of a listed kink (ReLU's 0, a DAPA breakpoint) are
// skipped: there the derivative is undefined and finite differences mean nothing.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace dapa {

struct GradCheckOptions {
  double step = 1e-2;  // finite-difference step (float32 forward: not smaller)
  double atol = 2e-3;
  double rtol = 2e-2;
  std::vector<float> kinks;
  double kink_margin = 2e-2;
  uint64_t seed = 0;  // for the projection r
};

struct GradCheckResult {
  bool ok = true;
  int checked = 0;
  int skipped = 0;
  double max_abs_error = 0.0;
  std::string message;  // the first mismatch, naming input, element and both values
};

using OpFn = std::function<Var(const std::vector<Var>&)>;

GradCheckResult gradcheck(const OpFn& f, const std::vector<Tensor>& inputs,
                          const GradCheckOptions& options = {});

}  // namespace dapa
