// Transformer layers; see layers.h. Gradients come from the autograd ops.
#include "nn/layers.h"

#include "autograd/ops.h"

namespace dapa {

Linear::Linear(int64_t in, int64_t out, Rng& rng, bool has_bias, float init_std) {
  register_parameter("weight", weight, trunc_normal({out, in}, rng, init_std));
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

namespace {
int64_t checked_heads(const BlockConfig& c) {
  if (c.heads <= 0 || c.dim % c.heads != 0)
    throw std::invalid_argument("Attention: dim " + std::to_string(c.dim) +
                                " is not divisible by heads " + std::to_string(c.heads));
  return c.heads;
}
}  // namespace

Attention::Attention(const BlockConfig& c, std::unique_ptr<Activation> exp, Rng& rng)
    : dim(c.dim),
      heads(checked_heads(c)),
      causal(c.causal),
      qkv(c.dim, 3 * c.dim, rng),
      proj(c.dim, c.dim, rng, true, c.residual_std),
      softmax_exp(std::move(exp)) {
  if (softmax_exp) register_activation("softmax", *softmax_exp);
  register_module(c.names.qkv, qkv);
  register_module(c.names.proj, proj);
}

namespace {
// linear(norm(x)) as one node: the normalised activations are formed again in backward
// rather than saved.
Var norm_linear(const LayerNorm& norm, const Linear& linear, const Var& x) {
  return dapa::norm_linear(x, norm.weight, norm.bias, norm.eps, linear.weight, linear.bias);
}
}  // namespace

Var Attention::forward(const Var& x, const LayerNorm& norm, const Var& residual) {
  // x: (B, T, C) -> qkv (B, T, 3C) -> (B, T, C)
  return attention_linear(norm_linear(norm, qkv, x), heads, causal, softmax_exp.get(), proj.weight,
                          proj.bias, residual);
}

Mlp::Mlp(const BlockConfig& c, std::unique_ptr<Activation> act_, Rng& rng)
    : fc1(c.dim, c.mlp_hidden, rng),
      fc2(c.mlp_hidden, c.dim, rng, true, c.residual_std),
      act(std::move(act_)) {
  register_activation("act", *act);
  register_module(c.names.fc1, fc1);
  register_module(c.names.fc2, fc2);
}

Var Mlp::forward(const Var& x, const LayerNorm& norm, const Var& residual) {
  return activation_linear(norm_linear(norm, fc1, x), *act, fc2.weight, fc2.bias, residual);
}

Block::Block(const BlockConfig& c, std::unique_ptr<Activation> act,
             std::unique_ptr<Activation> softmax_exp, Rng& rng)
    : norm1(c.dim, c.ln_eps),
      attn(c, std::move(softmax_exp), rng),
      norm2(c.dim, c.ln_eps),
      mlp(c, std::move(act), rng) {
  register_module(c.names.norm1, norm1);
  register_module(c.names.attn, attn);
  register_module(c.names.norm2, norm2);
  register_module(c.names.mlp, mlp);
}

Var Block::forward(const Var& x) {
  Var h = attn.forward(x, norm1, x);  // x + attention(norm1(x))
  return mlp.forward(h, norm2, h);    // h + mlp(norm2(h))
}

}  // namespace dapa
