// Module bookkeeping; see module.h.
#include "nn/module.h"

#include <type_traits>

namespace dapa {

Var& Module::register_parameter(const std::string& name, Var& slot, Tensor init) {
  slot = Var(std::move(init), true);
  params_.emplace_back(name, &slot);
  return slot;
}

void Module::register_module(const std::string& name, Module& child) {
  children_.emplace_back(name, &child);
}

void Module::register_activation(const std::string& name, Pointwise& act) {
  activations_.emplace_back(name, &act);
}

template <class T>
void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, T*>>& out) {
  if constexpr (std::is_same_v<T, Var>) {
    for (auto& [name, var] : params_) out.emplace_back(prefix + name, var);
  } else {
    for (auto& [name, act] : activations_) out.emplace_back(prefix + name, act);
  }
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Var*>> Module::named_parameters() {
  std::vector<std::pair<std::string, Var*>> out;
  collect("", out);
  return out;
}

std::vector<std::pair<std::string, Pointwise*>> Module::named_activations() {
  std::vector<std::pair<std::string, Pointwise*>> out;
  collect("", out);
  return out;
}

std::vector<Var*> Module::parameters() {
  std::vector<Var*> out;
  for (auto& [name, var] : named_parameters()) out.push_back(var);
  return out;
}

int64_t Module::parameter_count() {
  int64_t n = 0;
  for (Var* v : parameters()) n += v->value().numel();
  return n;
}

void Module::zero_grad() {
  for (Var* v : parameters()) v->zero_grad();
}

Tensor trunc_normal(const Shape& shape, Rng& rng, float std) {
  Tensor t = Tensor::empty(shape);
  rng.fill_trunc_normal(t, 0.0f, std, -2.0f * std, 2.0f * std);
  return t;
}

}  // namespace dapa
