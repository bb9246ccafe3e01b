// The activation slot of the MLP: one interface, chosen by name, so that DAPA (and any
// other approximation) plugs in where GELU was.
#pragma once

#include <memory>
#include <string>

#include "autograd/variable.h"

namespace dapa {

class Activation {
 public:
  virtual ~Activation() = default;
  virtual Var forward(const Var& x) = 0;
  virtual std::string name() const = 0;
};

// "gelu" (erf form), "gelu-tanh", "relu". Throws std::invalid_argument naming the
// known activations for anything else.
std::unique_ptr<Activation> make_activation(const std::string& name);

}  // namespace dapa
