// Differentiable ops on Vars. Each op's forward and backward live side by side in
// ops.cpp (one place per gradient, like PyTorch's derivatives.yaml); adding an op
// means adding it there and one line in tests/autograd/op_cases.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "core/functions.h"

namespace dapa {

// An elementwise function as the tape sees it: a registered function (core/functions.h)
// or a DAPA / PWL table (nn/table_activation.h). value() may look at what enters (a DAPA
// activation records its inputs while calibrating); backward passes call
// value_and_derivative() on the saved input. The ops below keep a pointer to it: it must
// outlive the tape (modules own theirs).
class Pointwise {
 public:
  virtual ~Pointwise() = default;
  virtual std::string name() const = 0;
  virtual Tensor value(const Tensor& x) = 0;                             // f(x)
  virtual ValueAndDerivative value_and_derivative(const Tensor& x) = 0;  // f(x), f'(x)
  // The same function on raw runs, for fused kernels, and whether it wants to see what
  // enters it (a calibrating DAPA table): fused kernels then show it their inputs through
  // observe() as well.
  virtual std::shared_ptr<const RowFunction> rows() = 0;
  virtual bool recording() const { return false; }
  virtual void observe(const Tensor& /*x*/) {}
};

// A registered function as a Pointwise.
class FunctionPointwise final : public Pointwise {
 public:
  explicit FunctionPointwise(const ElementwiseFunction& f) : f_(&f) {}
  std::string name() const override { return f_->name; }
  Tensor value(const Tensor& x) override { return apply(*f_, x); }
  ValueAndDerivative value_and_derivative(const Tensor& x) override {
    return apply_with_derivative(*f_, x);
  }
  std::shared_ptr<const RowFunction> rows() override { return std::make_shared<FunctionRows>(*f_); }

 private:
  const ElementwiseFunction* f_;
};

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
// Multi-head self-attention on a fused projection qkv (B, T, 3C) -> (B, T, C); causal:
// position t attends to 0..t only. `exp`: the softmax's exp replaced by that function
// (a DAPA table, which must have rows()) of the max-shifted scores, negative values taken
// as 0; its backward is the exact gradient of that softmax with exp's derivative from
// `exp` (core/kernels.h, attention_with_exp).
Var attention(const Var& qkv, int64_t heads, bool causal = false, Pointwise* exp = nullptr);
// linear(attention(qkv, ...), weight, bias) as one node: the attention's output is not
// saved, backward forms it again (the same bits) where it recomputes the probabilities.
// With `residual` (the output's shape), residual + linear(...): a block's residual
// connection, added to each tile of the product while it is in cache (the same bits as
// add(residual, ...), without its pass over memory); its gradient is the output's.
Var attention_linear(const Var& qkv, int64_t heads, bool causal, Pointwise* exp, const Var& weight,
                     const Var& bias, const Var& residual = Var());
// Rows of table (rows, C) by ids (values in [0, rows), shape ids_shape) -> (..., C).
Var embedding(const Var& table, const Labels& ids, const Shape& ids_shape);
// y = f(x) elementwise; saves x, and backward is gy * f'(x).
Var apply(Pointwise& f, const Var& x);
Var apply(const ElementwiseFunction& f, const Var& x);  // a registered function
// y = f(h) W^T + b for h (..., hidden), W (out, hidden), b (out) or undefined: an MLP's
// second half, fused so that only h is saved and f(h) is recomputed in backward. This
// drops the MLP's widest saved tensor (B x T x hidden floats per block) for one extra
// pass of f. `residual`: as for attention_linear.
Var activation_linear(const Var& h, Pointwise& f, const Var& weight, const Var& bias,
                      const Var& residual = Var());
// y = LN(x) W^T + b for x (..., in): a pre-norm block's layer norm and the linear layer
// it feeds, fused the same way: only x is saved, and LN(x) and its statistics are
// formed again in backward (one pass over x), instead of saving both x and LN(x).
Var norm_linear(const Var& x, const Var& ln_weight, const Var& ln_bias, float eps,
                const Var& weight, const Var& bias);
// Mean cross-entropy of logits (B, C) against labels; a one-element Var.
Var cross_entropy(const Var& logits, const Labels& labels);

// Layout.
Var reshape(const Var& x, const Shape& shape);
Var permute(const Var& x, const std::vector<int>& dims);
Var slice(const Var& x, int axis, int64_t start, int64_t end);
std::vector<Var> split(const Var& x, const std::vector<int64_t>& sizes, int axis);
Var concat(const std::vector<Var>& xs, int axis);

}  // namespace dapa
