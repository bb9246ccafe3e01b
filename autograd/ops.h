// Differentiable ops on Vars. Each op's forward and backward live side by side in
// ops.cpp (one place per gradient, like PyTorch's derivatives.yaml); adding an op
// means adding it there and one line in tests/autograd/op_cases.h.
#pragma once

#include <vector>

#include "autograd/variable.h"

namespace dapa {

// Elementwise with broadcasting.
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var scale(const Var& x, float s);

// Products. matmul: 2-D; bmm: (Bt, M, K) x (Bt, K, N); ta/tb transpose each matrix.
Var matmul(const Var& a, const Var& b, bool ta = false, bool tb = false);
Var bmm(const Var& a, const Var& b, bool ta = false, bool tb = false);
// y = x W^T + b: x (..., in), W (out, in), b (out) or undefined -> (..., out).
Var linear(const Var& x, const Var& weight, const Var& bias);

// Reductions.
Var sum(const Var& x, int axis, bool keepdim = false);
Var mean(const Var& x, int axis, bool keepdim = false);

// Transformer pieces.
Var softmax(const Var& x);  // last axis
Var layer_norm(const Var& x, const Var& weight, const Var& bias, float eps = 1e-5f);
// Multi-head self-attention on a fused projection qkv (B, T, 3C) -> (B, T, C).
Var attention(const Var& qkv, int64_t heads);
Var gelu(const Var& x);
Var gelu_tanh(const Var& x);
Var relu(const Var& x);
// Mean cross-entropy of logits (B, C) against labels; a one-element Var.
Var cross_entropy(const Var& logits, const Labels& labels);

// Layout.
Var reshape(const Var& x, const Shape& shape);
Var permute(const Var& x, const std::vector<int>& dims);
Var slice(const Var& x, int axis, int64_t start, int64_t end);
std::vector<Var> split(const Var& x, const std::vector<int64_t>& sizes, int axis);
Var concat(const std::vector<Var>& xs, int axis);

}  // namespace dapa
