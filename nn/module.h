// Module: a tree of layers owning named parameters, named the way PyTorch's
// state_dict names them ("blocks.0.attn.qkv.weight"), so weights round-trip with
// PyTorch through HDF5. Modules are neither copied nor moved: children register
// pointers to their members.
#pragma once

#include <string>
#include <utility>
#include <vector>

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

 protected:
  Var& register_parameter(const std::string& name, Var& slot, Tensor init);
  void register_module(const std::string& name, Module& child);

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Var*>>& out);
  std::vector<std::pair<std::string, Var*>> params_;
  std::vector<std::pair<std::string, Module*>> children_;
};

// PyTorch-style initial values.
Tensor trunc_normal(const Shape& shape, Rng& rng, float std = 0.02f);  // cut at +-2 std

}  // namespace dapa
