// Optimisers; see optim.h.
#include "nn/optim.h"

#include <cmath>

#include "core/kernels.h"

namespace dapa {

std::vector<ParamGroup> param_groups(Module& module) {
  std::vector<ParamGroup> groups;
  for (auto& [name, p] : module.named_parameters()) {
    bool is_weight = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
    groups.push_back({name, p, is_weight && p->value().ndim() >= 2});
  }
  return groups;
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.param->zero_grad();
}

double Optimizer::clip_grad_norm(double max_norm) {
  double sq = 0.0;
  for (auto& p : params_)
    if (p.param->grad().defined()) sq += p.param->grad().array().cast<double>().square().sum();
  double norm = std::sqrt(sq);
  if (norm > max_norm && norm > 0.0) {
    float s = static_cast<float>(max_norm / norm);
    for (auto& p : params_)
      if (p.param->grad().defined()) p.param->grad().array() *= s;
  }
  return norm;
}

AdamW::AdamW(std::vector<ParamGroup> params, float weight_decay, float beta1, float beta2,
             float eps)
    : Optimizer(std::move(params)),
      weight_decay_(weight_decay),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps) {
  for (auto& p : params_) {
    m.push_back(Tensor::zeros(p.param->shape()));
    v.push_back(Tensor::zeros(p.param->shape()));
  }
}

void AdamW::step(float lr) {
  ++t_;
  const float bc1 = 1.0f - std::pow(beta1_, static_cast<float>(t_));
  const float bc2 = 1.0f - std::pow(beta2_, static_cast<float>(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    Var& p = *params_[i].param;
    if (!p.grad().defined()) continue;
    auto w = p.value().array();
    auto g = p.grad().array();
    auto mi = m[i].array();
    auto vi = v[i].array();
    if (params_[i].decay) w *= 1.0f - lr * weight_decay_;  // decoupled decay (PyTorch order)
    mi = beta1_ * mi + (1.0f - beta1_) * g;
    vi = beta2_ * vi + (1.0f - beta2_) * g.square();
    w -= lr * (mi / bc1) / ((vi / bc2).sqrt() + eps_);
  }
}

Sgd::Sgd(std::vector<ParamGroup> params, float momentum, float weight_decay)
    : Optimizer(std::move(params)), momentum_(momentum), weight_decay_(weight_decay) {
  for (auto& p : params_) velocity.push_back(Tensor::zeros(p.param->shape()));
}

void Sgd::step(float lr) {
  ++t_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Var& p = *params_[i].param;
    if (!p.grad().defined()) continue;
    auto w = p.value().array();
    auto buf = velocity[i].array();
    if (params_[i].decay && weight_decay_ != 0.0f)
      buf = momentum_ * buf + (p.grad().array() + weight_decay_ * w);
    else
      buf = momentum_ * buf + p.grad().array();
    w -= lr * buf;
  }
}

}  // namespace dapa
