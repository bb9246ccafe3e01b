// Built-in activations; see activation.h.
#include "nn/activation.h"

#include <stdexcept>

#include "autograd/ops.h"

namespace dapa {

namespace {
template <Var (*Op)(const Var&)>
class ElementwiseActivation : public Activation {
 public:
  explicit ElementwiseActivation(std::string name) : name_(std::move(name)) {}
  Var forward(const Var& x) override { return Op(x); }
  std::string name() const override { return name_; }

 private:
  std::string name_;
};
}  // namespace

std::unique_ptr<Activation> make_activation(const std::string& name) {
  if (name == "gelu") return std::make_unique<ElementwiseActivation<gelu>>(name);
  if (name == "gelu-tanh") return std::make_unique<ElementwiseActivation<gelu_tanh>>(name);
  if (name == "relu") return std::make_unique<ElementwiseActivation<relu>>(name);
  throw std::invalid_argument("unknown activation '" + name +
                              "' (expected gelu, gelu-tanh or relu)");
}

}  // namespace dapa
