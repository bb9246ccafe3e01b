// Activations by name; see activation.h.
#include "nn/activation.h"

#include <stdexcept>

#include "nn/table_activation.h"

namespace dapa {

std::unique_ptr<Activation> make_activation(const std::string& name) {
  if (name.rfind("dapa:", 0) == 0 || name.rfind("pwl:", 0) == 0)
    return std::make_unique<TableActivation>(name, parse_table_spec(name));
  return std::make_unique<FunctionPointwise>(activation_function(name));
}

std::unique_ptr<Activation> make_softmax_exp(const std::string& name) {
  if (name == "exact") return nullptr;
  return std::make_unique<TableActivation>(name, parse_table_spec(name, true));
}

const ElementwiseFunction& activation_function(const std::string& name) {
  if (name.rfind("dapa:", 0) == 0 || name.rfind("pwl:", 0) == 0)
    return *parse_table_spec(name).function;
  for (const ElementwiseFunction& f : elementwise_functions())
    if (f.name == name) return f;
  throw std::invalid_argument("unknown activation '" + name + "' (expected " + activation_names() +
                              ")");
}

std::string activation_names() {
  return function_names() + ", " + kTableActivationNames;
}

}  // namespace dapa
