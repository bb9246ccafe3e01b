// Transformer layers, named as in timm's ViT so state_dicts match:
// Linear(weight, bias), LayerNorm(weight, bias), Attention(qkv, proj), Mlp(fc1, fc2),
// Block(norm1, attn, norm2, mlp).
#pragma once

#include <memory>

#include "nn/activation.h"
#include "nn/module.h"

namespace dapa {

class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, Rng& rng, bool bias = true);
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

// Multi-head self-attention: fused qkv projection, scaled dot-product, softmax,
// output projection.
class Attention : public Module {
 public:
  Attention(int64_t dim, int64_t heads, Rng& rng);
  Var forward(const Var& x);  // x: (B, T, C) -> (B, T, C)
  int64_t dim, heads;
  Linear qkv, proj;
};

class Mlp : public Module {
 public:
  Mlp(int64_t dim, int64_t hidden, std::unique_ptr<Activation> act, Rng& rng);
  Var forward(const Var& x);  // fc1 -> act -> fc2
  Linear fc1, fc2;
  std::unique_ptr<Activation> act;
};

// Pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x)).
class Block : public Module {
 public:
  Block(int64_t dim, int64_t heads, int64_t mlp_hidden, std::unique_ptr<Activation> act, Rng& rng,
        float ln_eps = 1e-6f);
  Var forward(const Var& x);  // x: (B, T, C)
  LayerNorm norm1;
  Attention attn;
  LayerNorm norm2;
  Mlp mlp;
};

}  // namespace dapa
