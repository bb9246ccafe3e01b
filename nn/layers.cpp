// Transformer layers; see layers.h. Gradients come from the autograd ops.
#include "nn/layers.h"

#include "autograd/ops.h"

namespace dapa {

Linear::Linear(int64_t in, int64_t out, Rng& rng, bool has_bias) {
  register_parameter("weight", weight, trunc_normal({out, in}, rng));
  if (has_bias) register_parameter("bias", bias, Tensor::zeros({out}));
}

Var Linear::forward(const Var& x) {
  return linear(x, weight, bias);
}

LayerNorm::LayerNorm(int64_t dim, float eps_) : eps(eps_) {
  register_parameter("weight", weight, Tensor::ones({dim}));
  register_parameter("bias", bias, Tensor::zeros({dim}));
}

Var LayerNorm::forward(const Var& x) {
  return layer_norm(x, weight, bias, eps);
}

Attention::Attention(int64_t dim_, int64_t heads_, Rng& rng)
    : dim(dim_), heads(heads_), qkv(dim_, 3 * dim_, rng), proj(dim_, dim_, rng) {
  if (heads <= 0 || dim % heads != 0)
    throw std::invalid_argument("Attention: dim " + std::to_string(dim) +
                                " is not divisible by heads " + std::to_string(heads));
  register_module("qkv", qkv);
  register_module("proj", proj);
}

Var Attention::forward(const Var& x) {
  return proj.forward(attention(qkv.forward(x), heads));  // x: (B, T, C) -> (B, T, C)
}

Mlp::Mlp(int64_t dim, int64_t hidden, std::unique_ptr<Activation> act_, Rng& rng)
    : fc1(dim, hidden, rng), fc2(hidden, dim, rng), act(std::move(act_)) {
  register_activation("act", *act);
  register_module("fc1", fc1);
  register_module("fc2", fc2);
}

Var Mlp::forward(const Var& x) {
  return activation_linear(fc1.forward(x), *act, fc2.weight, fc2.bias);  // fc2(act(fc1(x)))
}

Block::Block(int64_t dim, int64_t heads, int64_t mlp_hidden, std::unique_ptr<Activation> act,
             Rng& rng, float ln_eps)
    : norm1(dim, ln_eps),
      attn(dim, heads, rng),
      norm2(dim, ln_eps),
      mlp(dim, mlp_hidden, std::move(act), rng) {
  register_module("norm1", norm1);
  register_module("attn", attn);
  register_module("norm2", norm2);
  register_module("mlp", mlp);
}

Var Block::forward(const Var& x) {
  Var h = add(x, attn.forward(norm1.forward(x)));
  return add(h, mlp.forward(norm2.forward(h)));
}

}  // namespace dapa
