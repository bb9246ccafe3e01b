// Optimisers over a list of parameters: AdamW (decoupled weight decay, applied only to
// parameters marked for decay) and SGD with momentum. Parameters without a gradient
// this step are left alone.
#pragma once

#include <vector>

#include "autograd/variable.h"

namespace dapa {

struct ParamGroup {
  Var* param;
  bool decay;  // weight decay applies (not to biases, norms, embeddings)
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step(float lr) = 0;
  void zero_grad();
  // Scales all gradients so that their global L2 norm is at most max_norm; returns the
  // norm before clipping.
  double clip_grad_norm(double max_norm);

 protected:
  explicit Optimizer(std::vector<ParamGroup> params) : params_(std::move(params)) {}
  std::vector<ParamGroup> params_;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> params, float weight_decay, float beta1 = 0.9f,
        float beta2 = 0.999f, float eps = 1e-8f);
  void step(float lr) override;
  int64_t steps() const { return t_; }

  std::vector<Tensor> m, v;  // first and second moments, one per parameter

 private:
  float weight_decay_, beta1_, beta2_, eps_;
  int64_t t_ = 0;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<ParamGroup> params, float momentum, float weight_decay);
  void step(float lr) override;
  std::vector<Tensor> velocity;

 private:
  float momentum_, weight_decay_;
};

}  // namespace dapa
