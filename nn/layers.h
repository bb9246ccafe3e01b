// Transformer layers: Linear(weight, bias), LayerNorm(weight, bias), Attention, Mlp and
// the pre-norm Block. Parts are named as in the checkpoints users map to, so state_dicts
// match one to one: timm's ViT (norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2) or
// nanoGPT's GPT-2 (ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj).
#pragma once

#include <memory>

#include "nn/activation.h"
#include "nn/module.h"

namespace dapa {

class Linear : public Module {
 public:
  // weight ~ normal(0, init_std) cut at +-2 std, bias 0.
  Linear(int64_t in, int64_t out, Rng& rng, bool bias = true, float init_std = 0.02f);
  Var forward(const Var& x);  // x: (..., in) -> (..., out)
  Var weight, bias;           // weight: (out, in), bias: (out)
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, float eps = 1e-6f);
  Var forward(const Var& x);  // over the last axis
  Var weight, bias;
  float eps;
};

// The names of a block's parts.
struct BlockNames {
  const char *norm1, *attn, *qkv, *proj, *norm2, *mlp, *fc1, *fc2;
};
inline constexpr BlockNames kTimmNames{"norm1", "attn", "qkv", "proj",
                                       "norm2", "mlp",  "fc1", "fc2"};
inline constexpr BlockNames kGpt2Names{"ln_1", "attn", "c_attn", "c_proj",
                                       "ln_2", "mlp",  "c_fc",   "c_proj"};

struct BlockConfig {
  int64_t dim = 0, heads = 0, mlp_hidden = 0;
  float ln_eps = 1e-6f;
  bool causal = false;  // a language model's blocks: position t sees 0..t only
  // Initial std of the two projections that write into the residual stream (attention
  // output, MLP output); GPT-2 scales them by 1/sqrt(2 x layers).
  float residual_std = 0.02f;
  BlockNames names = kTimmNames;
};

// Multi-head self-attention: fused qkv projection, scaled dot-product, softmax,
// output projection. `softmax_exp`: the softmax's exp replaced by a table (a DAPA site
// named "softmax"), or nullptr for the exact softmax.
class Attention : public Module {
 public:
  Attention(const BlockConfig& c, std::unique_ptr<Activation> softmax_exp, Rng& rng);
  // Attention over norm(x), the norm fused into the qkv projection (norm_linear), plus
  // `residual` when given (fused into the output projection).
  Var forward(const Var& x, const LayerNorm& norm,
              const Var& residual = Var());  // x: (B, T, C) -> (B, T, C)
  int64_t dim, heads;
  bool causal;
  Linear qkv, proj;
  std::unique_ptr<Activation> softmax_exp;
};

class Mlp : public Module {
 public:
  Mlp(const BlockConfig& c, std::unique_ptr<Activation> act, Rng& rng);
  // fc2(act(fc1(norm(x)))), the norm fused into fc1 (norm_linear), plus `residual` when
  // given (fused into fc2).
  Var forward(const Var& x, const LayerNorm& norm, const Var& residual = Var());
  Linear fc1, fc2;
  std::unique_ptr<Activation> act;
};

// Pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x)). `act` is the
// MLP's activation, `softmax_exp` the attention's exp (nullptr: exact).
class Block : public Module {
 public:
  Block(const BlockConfig& c, std::unique_ptr<Activation> act,
        std::unique_ptr<Activation> softmax_exp, Rng& rng);
  Var forward(const Var& x);  // x: (B, T, C)
  LayerNorm norm1;
  Attention attn;
  LayerNorm norm2;
  Mlp mlp;
};

}  // namespace dapa
