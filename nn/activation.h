// The activation slot of the MLP: one interface, chosen by name, so that DAPA (and any
// other approximation) plugs in where GELU was. An activation provides tensor kernels
// (apply, backward) and an autograd forward; the MLP uses the kernels through
// activation_linear, which recomputes the activation instead of saving its output.
#pragma once

#include <memory>
#include <string>

#include "autograd/variable.h"
#include "core/kernels.h"

namespace dapa {

class Activation {
 public:
  virtual ~Activation() = default;
  virtual std::string name() const = 0;
  virtual Tensor apply(const Tensor& x) = 0;                              // f(x)
  virtual Tensor backward(const Tensor& x, const Tensor& gy) = 0;         // gy * f'(x)
  virtual ValueAndDerivative apply_with_derivative(const Tensor& x) = 0;  // f(x), f'(x)
  virtual Var forward(const Var& x) = 0;                                  // f(x), recorded
};

// "gelu" (erf form), "gelu-tanh", "relu". Throws std::invalid_argument naming the
// known activations for anything else.
std::unique_ptr<Activation> make_activation(const std::string& name);

// y = act(h) W^T + b for h (..., hidden), W (out, hidden): the MLP's second half, fused
// so that only h is saved; act(h) is recomputed in backward. This drops the MLP's
// widest saved tensor (B x T x hidden floats per block) for one extra activation pass.
Var activation_linear(const Var& h, Activation& act, const Var& weight, const Var& bias);

}  // namespace dapa
