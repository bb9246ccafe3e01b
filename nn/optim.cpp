// Optimisers; see optim.h.
#include "nn/optim.h"

#include <algorithm>
#include <cmath>

#include "core/kernels.h"
#include "core/parallel.h"

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

namespace {
// Pieces of at most this many elements: the unit of the optimisers' threaded passes.
constexpr int64_t kPiece = int64_t{1} << 14;

// The parameters with a gradient, in order, each checked on this thread: value and
// gradient contiguous and of one shape, else one error naming the parameter (inside a
// parallel region a throw would end the process).
std::vector<size_t> with_gradients(const std::vector<ParamGroup>& params) {
  std::vector<size_t> have;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor &value = params[i].param->value(), &grad = params[i].param->grad();
    if (!grad.defined()) continue;
    if (!value.is_contiguous() || !grad.is_contiguous() || grad.shape() != value.shape())
      shape_error("optimizer", "parameter '" + params[i].name +
                                   "': value and gradient must be contiguous and of one shape");
    have.push_back(i);
  }
  return have;
}

// f(i, at, n) over elements [at, at + n) of parameter i, for every parameter with a
// gradient, in pieces spread over the threads. The work is elementwise, so each element
// gets the same bits however the pieces fall.
template <class F>
void for_each_piece(const std::vector<ParamGroup>& params, F f) {
  struct Piece {
    size_t param;
    int64_t at, n;
  };
  std::vector<Piece> pieces;
  for (size_t i : with_gradients(params)) {
    const int64_t numel = params[i].param->value().numel();
    for (int64_t at = 0; at < numel; at += kPiece)
      pieces.push_back({i, at, std::min(kPiece, numel - at)});
  }
  parallel_for(static_cast<int64_t>(pieces.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) f(pieces[k].param, pieces[k].at, pieces[k].n);
  });
}
}  // namespace

double Optimizer::clip_grad_norm(double max_norm) {
  // Each parameter's sum of squares whole on one thread, then added in parameter order:
  // the same bits at any thread count.
  const std::vector<size_t> have = with_gradients(params_);
  std::vector<double> squares(have.size(), 0.0);
  parallel_for(static_cast<int64_t>(have.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const Tensor& g = params_[have[k]].param->grad();
      squares[k] = sum_of_squares(g.data(), g.numel());
    }
  });
  double sq = 0.0;
  for (double s : squares) sq += s;
  double norm = std::sqrt(sq);
  if (norm > max_norm && norm > 0.0) {
    float s = static_cast<float>(max_norm / norm);
    for_each_piece(params_, [&](size_t i, int64_t at, int64_t n) {
      ArrayMap(params_[i].param->grad().data() + at, n) *= s;
    });
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

// One pass per piece of a parameter (decay, both moments, the update) while it is in
// cache, the pieces spread over the threads, by core's adamw_update (vectorised at the
// CPU's width, the same bits on every machine).
void AdamW::step(float lr) {
  ++t_;
  const float bc1 = 1.0f - std::pow(beta1_, static_cast<float>(t_));
  const float bc2 = 1.0f - std::pow(beta2_, static_cast<float>(t_));
  const float decay = 1.0f - lr * weight_decay_;
  for_each_piece(params_, [&](size_t i, int64_t at, int64_t n) {
    Var& p = *params_[i].param;
    const AdamWStep s{lr, beta1_, beta2_, eps_, bc1, bc2, params_[i].decay ? decay : 1.0f};
    adamw_update(p.value().data() + at, m[i].data() + at, v[i].data() + at, p.grad().data() + at, n,
                 s);
  });
}

Sgd::Sgd(std::vector<ParamGroup> params, float momentum, float weight_decay)
    : Optimizer(std::move(params)), momentum_(momentum), weight_decay_(weight_decay) {
  for (auto& p : params_) velocity.push_back(Tensor::zeros(p.param->shape()));
}

void Sgd::step(float lr) {
  ++t_;
  for_each_piece(params_, [&](size_t i, int64_t at, int64_t n) {
    Var& p = *params_[i].param;
    ArrayMap w(p.value().data() + at, n), buf(velocity[i].data() + at, n);
    ConstArrayMap g(p.grad().data() + at, n);
    if (params_[i].decay && weight_decay_ != 0.0f)
      buf = momentum_ * buf + (g + weight_decay_ * w);
    else
      buf = momentum_ * buf + g;
    w -= lr * buf;
  });
}

}  // namespace dapa
