// Optimisers over a list of parameters: AdamW (decoupled weight decay, applied only to
// parameters marked for decay) and SGD with momentum. Parameters without a gradient
// this step are left alone.
#pragma once

#include <vector>

#include <string>
#include <utility>

#include "autograd/variable.h"
#include "nn/module.h"

namespace dapa {

struct ParamGroup {
  std::string name;  // state_dict name: checkpoints key optimiser state by it
  Var* param;
  bool decay;  // weight decay applies (not to biases, norms, embeddings)
};

// A module's parameters, with weight decay on matrix and conv weights only (not on
// biases, LayerNorm parameters, the class token or the position embedding).
std::vector<ParamGroup> param_groups(Module& module);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step(float lr) = 0;
  void zero_grad();
  // Scales all gradients so that their global L2 norm is at most max_norm; returns the
  // norm before clipping.
  double clip_grad_norm(double max_norm);

  // Named per-parameter state (AdamW: m, v; SGD: velocity) and the step count, for
  // checkpoints.
  virtual std::vector<std::pair<std::string, std::vector<Tensor>*>> state_buffers() = 0;
  int64_t steps() const { return t_; }
  void set_steps(int64_t t) { t_ = t; }
  const std::vector<ParamGroup>& groups() const { return params_; }

 protected:
  explicit Optimizer(std::vector<ParamGroup> params) : params_(std::move(params)) {}
  std::vector<ParamGroup> params_;
  int64_t t_ = 0;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> params, float weight_decay, float beta1 = 0.9f,
        float beta2 = 0.999f, float eps = 1e-8f);
  void step(float lr) override;
  std::vector<std::pair<std::string, std::vector<Tensor>*>> state_buffers() override {
    return {{"m", &m}, {"v", &v}};
  }

  std::vector<Tensor> m, v;  // first and second moments, one per parameter

 private:
  float weight_decay_, beta1_, beta2_, eps_;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<ParamGroup> params, float momentum, float weight_decay);
  void step(float lr) override;
  std::vector<std::pair<std::string, std::vector<Tensor>*>> state_buffers() override {
    return {{"velocity", &velocity}};
  }
  std::vector<Tensor> velocity;

 private:
  float momentum_, weight_decay_;
};

}  // namespace dapa
