// Built-in activations and the fused activation + linear op; see activation.h.
#include "nn/activation.h"

#include <stdexcept>

#include "autograd/ops.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "nn/table_activation.h"

namespace dapa {

namespace {
// An elementwise activation from its autograd op and its two kernels.
template <Var (*Op)(const Var&), Tensor (*Forward)(const Tensor&),
          Tensor (*Backward)(const Tensor&, const Tensor&),
          ValueAndDerivative (*Both)(const Tensor&)>
class ElementwiseActivation : public Activation {
 public:
  explicit ElementwiseActivation(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  Tensor apply(const Tensor& x) override { return Forward(x); }
  Tensor backward(const Tensor& x, const Tensor& gy) override { return Backward(x, gy); }
  ValueAndDerivative apply_with_derivative(const Tensor& x) override { return Both(x); }
  Var forward(const Var& x) override { return Op(x); }

 private:
  std::string name_;
};
}  // namespace

std::unique_ptr<Activation> make_activation(const std::string& name) {
  if (name == "gelu")
    return std::make_unique<
        ElementwiseActivation<gelu, gelu, gelu_backward, gelu_value_and_derivative>>(name);
  if (name == "gelu-tanh")
    return std::make_unique<ElementwiseActivation<gelu_tanh, gelu_tanh, gelu_tanh_backward,
                                                  gelu_tanh_value_and_derivative>>(name);
  if (name == "relu")
    return std::make_unique<
        ElementwiseActivation<relu, relu, relu_backward, relu_value_and_derivative>>(name);
  if (name.rfind("dapa:", 0) == 0 || name.rfind("pwl:", 0) == 0)
    return std::make_unique<TableActivation>(name, parse_table_spec(name));
  throw std::invalid_argument("unknown activation '" + name +
                              "' (expected gelu, gelu-tanh, relu, " + kTableActivationNames + ")");
}

Var activation_linear(const Var& h, Activation& act, const Var& weight, const Var& bias) {
  const Shape& hs = h.shape();
  check_linear_shapes("activation_linear", hs, weight.shape(),
                      bias.defined() ? &bias.shape() : nullptr);
  int64_t hidden = weight.shape()[1], out = weight.shape()[0];
  Tensor h2 = h.value().reshape({-1, hidden});  // h2: (R, hidden)
  Tensor w = weight.value();
  Shape ys = hs;
  ys.back() = out;
  std::vector<Var> inputs = {h, weight};
  if (bias.defined()) inputs.push_back(bias);
  Tensor y = linear_forward(act.apply(h2), w, bias.defined() ? bias.value() : Tensor());
  Activation* a = &act;  // owned by the module, which outlives the tape
  return record("activation_linear", y.reshape(ys), inputs,
                [h2, w, hs, out, a](const Tensor& gy, const Needs& need) -> Grads {
                  Tensor g2 = gy.reshape({-1, out});  // (R, out)
                  ValueAndDerivative ad = a->apply_with_derivative(h2);
                  LinearGrads g = linear_backward(g2, ad.value, w, need[0], need[1],
                                                  need.size() > 2 && need[2]);
                  Tensor gh = need[0] ? dapa::mul(g.x, ad.derivative).reshape(hs) : Tensor();
                  return {gh, g.weight, g.bias};
                });
}

}  // namespace dapa
