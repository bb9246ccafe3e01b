// Compute kernels on Tensors (no autograd here: autograd/ops.cpp pairs each forward
// kernel with its backward). Inputs may be any layout; outputs are new contiguous
// tensors. Loops are vectorised through Eigen arrays and threaded with parallel_for
// only when the work pays for it.
#pragma once

#include <vector>

#include "core/functions.h"
#include "core/tensor.h"

namespace dapa {

// ---- elementwise, NumPy broadcasting (elementwise.cpp) ----
Shape broadcast_shape(const Shape& a, const Shape& b, const char* op);
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float s);
void add_inplace(Tensor& acc, const Tensor& x);  // acc += x, same shape, acc contiguous
// acc[i] += x[i] for i < n, at the CPU's vector width (an exact add: the same bits on
// every machine); the raw loop behind add_inplace, sum_to and a linear layer's residual
// when add_bias_rows cannot take it.
void accumulate(float* acc, const float* x, int64_t n);
// A linear layer's epilogue on rows of y (rows, n), contiguous: y = y + bias, then
// + residual (rows, n) when not null, in one pass: the bits of accumulate(y, bias) per
// row followed by accumulate(y, residual).
void add_bias_rows(float* y, const float* bias, const float* residual, int64_t rows, int64_t n);
// accumulate(acc, x + r ld, n) for r = 0 .. rows - 1, in that order (column sums).
void accumulate_rows(float* acc, const float* x, int64_t ld, int64_t rows, int64_t n);
// The sum of x[i]^2 for i < n in double, in 8 lanes (element i to lane i mod 8, each lane
// in order) folded in a fixed order: the same bits on every clone and machine (the
// gradient norm that clipping scales by).
double sum_of_squares(const float* x, int64_t n);
// Repeats x along broadcast axes to `shape` (the backward of a reduction).
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Sums x over the axes that broadcasting expanded, giving `shape` (the backward of a
// broadcast). x.shape() must be broadcast_shape(shape, x.shape()).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- reductions (elementwise.cpp) ----
Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);
double sum_all(const Tensor& x);  // double accumulation

// ---- transformer kernels (nn_kernels.cpp) ----
// Softmax over the last axis, numerically stable (max subtracted).
Tensor softmax(const Tensor& x);
// gx = y * (gy - sum(gy * y)) over the last axis.
Tensor softmax_backward(const Tensor& y, const Tensor& gy);

// Layer norm over the last axis of x (..., C) with weight and bias (C).
struct LayerNormResult {
  Tensor y;     // (..., C)
  Tensor mean;  // (rows)
  Tensor rstd;  // (rows): 1 / sqrt(var + eps)
};
LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);
// Throws ShapeError naming `op` unless weight and bias are (C,) for x (..., C).
void check_layer_norm_shapes(const char* op, const Shape& x, const Tensor& weight,
                             const Tensor& bias);
// layer_norm's rows [r0, r0 + rows) of contiguous x (rows, width) into y (rows, width), mean
// and rstd (rows): the same bits as layer_norm, for ops that form the rows where they
// use them (a product's RowWork, core/gemm.h).
void layer_norm_rows(const float* x, const float* w, const float* b, float eps, int64_t width,
                     int64_t r0, int64_t rows, float* y, float* mean, float* rstd);
// The same rows from their saved mean and rstd: y = (x - mean) rstd w + b, the
// operations layer_norm_rows ends with, so the same bits without its two row sums.
void layer_norm_rows_again(const float* x, const float* w, const float* b, int64_t width,
                           int64_t r0, int64_t rows, const float* mean, const float* rstd,
                           float* y);
struct LayerNormGrads {
  Tensor x, weight, bias;
};
LayerNormGrads layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd);

// Cross-entropy of logits (B, C) against labels (B), mean over the batch, fused with its
// gradient d loss / d logits = (softmax - onehot) / B.
struct CrossEntropyResult {
  float loss;
  Tensor grad;  // (B, C)
};
CrossEntropyResult cross_entropy(const Tensor& logits, const Labels& labels);
// For evaluation, without a gradient: per row of logits (B, C), the cross-entropy
// -log softmax(row)[label] and the arg-max class (the lowest on ties).
struct RowScores {
  std::vector<double> loss;  // (B)
  Labels argmax;             // (B)
};
RowScores score_rows(const Tensor& logits, const Labels& labels);

// One AdamW update of n elements (PyTorch's order: decoupled decay, both moments, then
// w -= lr (m / bc1) / (sqrt(v / bc2) + eps), bc = 1 - beta^t). A plain loop that every
// DAPA_VECTOR_CLONES clone rounds alike (no contraction; sqrt and division are exact
// roundings on every instruction set): the same bits on every machine, at the clone's
// width (the optimiser is elementwise, so its cost is these per-element operations).
struct AdamWStep {
  float lr, beta1, beta2, eps, bc1, bc2;
  float decay;  // 1 - lr weight_decay, or 1 for parameters without decay
};
void adamw_update(float* w, float* m, float* v, const float* g, int64_t n, const AdamWStep& s);

// Multi-head scaled dot-product self-attention on a fused projection (attention.cpp):
// qkv (B, T, 3C) holds [q | k | v], each split into heads of D = C / heads;
// out (B, T, C) = softmax(q k^T / sqrt(D)) v per head, heads side by side.
// Neither direction keeps a (T, T) tensor per head: the forward saves two statistics per
// row (8 bytes per query and head: the row's largest score and 1 / its sum of exps), and
// backward forms each head's scores again by Q K^T and its probabilities from them, the
// same bits as the forward's, in cache (what FlashAttention saves and recomputes).
struct AttentionResult {
  Tensor out;          // (B, T, C)
  Tensor row_max;      // (B, heads, T)
  Tensor inverse_sum;  // (B, heads, T)
};
// causal: position t attends to positions 0..t only (a language model's mask).
AttentionResult attention(const Tensor& qkv, int64_t heads, bool causal = false);
// -> dL/dqkv (B, T, 3C); with out_again, also the output formed again from the recomputed
// probabilities (the forward's bits), for a product after the attention that saved none.
Tensor attention_backward(const Tensor& gout, const Tensor& qkv, const Tensor& row_max,
                          const Tensor& inverse_sum, int64_t heads, bool causal = false,
                          Tensor* out_again = nullptr);

// Attention with the softmax's exp replaced by `exp` of the max-shifted scores z <= 0,
// fused per head like attention(). `exp` must give values >= 0, with derivative 0 where
// it gives 0 (a softmax table's kernel floors at 0: dapa/kernel.h). The forward saves
// three statistics per row (12 bytes per query and head: the max, 1/S and the argmax);
// backward forms z again as attention_backward forms the scores, gets the table's values
// and derivatives from it in one pass, and takes the exact gradient of this softmax
// (the formula is in attention.cpp). keep_scores: also return z's visible entries (T
// per row, r + 1 in row r when causal), packed per (batch, head) row after row, for
// recording what enters the exp (calibration).
struct TableAttentionResult {
  Tensor out;                   // (B, T, C)
  Tensor row_max;               // (B, heads, T)
  Tensor inverse_sum;           // (B, heads, T): 1 / each row's sum of exp(z)
  std::vector<int32_t> argmax;  // (B heads T): each row's first maximum, where z = 0
  Tensor visible_z;             // with keep_scores
};
TableAttentionResult attention_with_exp(const Tensor& qkv, int64_t heads, bool causal,
                                        const RowFunction& exp, bool keep_scores = false);
Tensor attention_with_exp_backward(const Tensor& gout, const Tensor& qkv, const Tensor& row_max,
                                   const Tensor& inverse_sum, const std::vector<int32_t>& argmax,
                                   int64_t heads, bool causal, const RowFunction& exp,
                                   Tensor* out_again = nullptr);
// y = softmax(x) over n contiguous values (x and y may be the same buffer): the exps of
// fast_exp (core/fast_math.h) in loops cloned per instruction set, the sum lane_sum's,
// so the same bits on every CPU. Returns the row's maximum and 1 / sum of its exps.
struct SoftmaxRowStats {
  float max, inverse_sum;
};
SoftmaxRowStats softmax_row(const float* x, float* y, int64_t n);
// Its backward over the row: gx = scale y (g - sum(g y)) (gx may be g).
void softmax_row_backward(const float* y, const float* g, float* gx, int64_t n, float scale = 1.0f);
// p = max(e, 0) / sum(max(e, 0)) (p may be e): the normalisation of a softmax whose exp
// is a table e of the max-shifted scores (negative table values count as 0); returns
// 1 / sum. The sum is positive for every softmax table: the row's maximum entry maps to
// the table's positive value at 0 (dapa/softmax_table.h). Its order is lane_sum's
// (core/fast_math.h): the same bits on every CPU. Rows padded with zeros to whole
// blocks (lane_padded) give the same result without a scalar tail.
float normalize_exp_row(const float* e, float* p, int64_t n);

// Rows of a table by index: out (..., C) = table[ids] for ids of any shape with values in
// [0, rows); embedding_backward scatter-adds gout into a (rows, C) gradient (in index
// order, so repeated ids sum the same way on any thread count). Throws ShapeError for an
// id out of range.
Tensor embedding(const Tensor& table, const Labels& ids, const Shape& ids_shape);
Tensor embedding_backward(const Tensor& gout, const Labels& ids, int64_t rows);

// ---- layout (layout.cpp) ----
Tensor concat(const std::vector<Tensor>& xs, int axis);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis);
Tensor permute(const Tensor& x, const std::vector<int>& dims);  // contiguous copy
std::vector<int> inverse_permutation(const std::vector<int>& dims);

}  // namespace dapa
