// Module: a tree of layers owning named parameters, named the way PyTorch's
// state_dict names them ("blocks.0.attn.qkv.weight"), so weights round-trip with
// PyTorch through HDF5. Modules are neither copied nor moved: children register
// pointers to their members.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.h"
#include "autograd/variable.h"
#include "core/rng.h"

namespace dapa {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // All parameters of this module and its children, depth-first in registration order.
  std::vector<std::pair<std::string, Var*>> named_parameters();
  std::vector<Var*> parameters();
  int64_t parameter_count();
  void zero_grad();
  // All activations of this module and its children, named like parameters
  // ("blocks.3.mlp.act"): where DAPA sites keep their state.
  std::vector<std::pair<std::string, Pointwise*>> named_activations();

 protected:
  Var& register_parameter(const std::string& name, Var& slot, Tensor init);
  void register_module(const std::string& name, Module& child);
  void register_activation(const std::string& name, Pointwise& act);

 private:
  template <class T>
  void collect(const std::string& prefix, std::vector<std::pair<std::string, T*>>& out);
  std::vector<std::pair<std::string, Var*>> params_;
  std::vector<std::pair<std::string, Pointwise*>> activations_;
  std::vector<std::pair<std::string, Module*>> children_;
};

// PyTorch-style initial values.
Tensor trunc_normal(const Shape& shape, Rng& rng, float std = 0.02f);  // cut at +-2 std

}  // namespace dapa
