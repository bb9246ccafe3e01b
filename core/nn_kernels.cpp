// Transformer kernels: softmax, layer norm and the fused cross-entropy; see kernels.h.
// (Elementwise functions such as GELU live in functions.cpp.) Rows are independent, so
// threads split rows; per-row work is vectorised with Eigen arrays or plain loops over
// fast_math.h.
#include <cmath>
#include <string>

#include "core/fast_math.h"
#include "core/kernels.h"
#include "core/map_kernels.h"
#include "core/parallel.h"

namespace dapa {

namespace {
constexpr int64_t kGrain = 1 << 14;

// Rows of the last axis: x viewed as (rows, width). Callers copy the fields into locals
// (not a structured binding, which C++17 lambdas cannot capture).
struct Rows {
  int64_t rows, width;
};
Rows rows_of(const Tensor& x, const char* op) {
  if (x.ndim() < 1) shape_error(op, "needs at least 1-D, got " + shape_str(x.shape()));
  int64_t w = x.shape().back();
  return {w ? x.numel() / w : 0, w};
}

int64_t row_grain(int64_t width) {
  return std::max<int64_t>(1, kGrain / std::max<int64_t>(width, 1));
}
}  // namespace

// ---- softmax over the last axis ----
Tensor softmax(const Tensor& x) {
  const Rows shape = rows_of(x, "softmax");
  const int64_t rows = shape.rows, width = shape.width;
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape());
  const float* px = xc.data();
  float* py = y.data();
  parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      softmax_row(px + r * width, py + r * width, width);
    }
  });
  return y;
}

Tensor softmax_backward(const Tensor& y, const Tensor& gy) {
  if (y.shape() != gy.shape()) shape_error("softmax_backward", y.shape(), gy.shape(), "differ");
  const Rows shape = rows_of(y, "softmax_backward");
  const int64_t rows = shape.rows, width = shape.width;
  Tensor yc = y.contiguous(), gc = gy.contiguous();
  Tensor gx = Tensor::empty(y.shape());
  const float *py = yc.data(), *pg = gc.data();
  float* px = gx.data();
  parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      softmax_row_backward(py + r * width, pg + r * width, px + r * width, width);
  });
  return gx;
}

// ---- layer norm over the last axis ----
LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  const Rows shape = rows_of(x, "layer_norm");
  const int64_t rows = shape.rows, width = shape.width;
  if (weight.shape() != Shape{width} || bias.shape() != Shape{width})
    shape_error("layer_norm", x.shape(), weight.shape(),
                "weight and bias must be (C,) for input (..., C)");
  Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = bias.contiguous();
  LayerNormResult r{Tensor::empty(x.shape()), Tensor::empty({rows}), Tensor::empty({rows})};
  const float* px = xc.data();
  float *py = r.y.data(), *pm = r.mean.data(), *ps = r.rstd.data();
  ConstArrayMap w(wc.data(), width), b(bc.data(), width);
  parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      ConstArrayMap xr(px + i * width, width);
      float m = xr.sum() / width;
      float var = (xr - m).square().sum() / width;  // two-pass: no cancellation
      float rstd = 1.0f / std::sqrt(var + eps);
      ArrayMap(py + i * width, width) = (xr - m) * rstd * w + b;
      pm[i] = m;
      ps[i] = rstd;
    }
  });
  return r;
}

LayerNormGrads layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd) {
  if (gy.shape() != x.shape()) shape_error("layer_norm_backward", gy.shape(), x.shape(), "differ");
  const Rows shape = rows_of(x, "layer_norm_backward");
  const int64_t rows = shape.rows, width = shape.width;
  Tensor xc = x.contiguous(), gc = gy.contiguous(), wc = weight.contiguous();
  LayerNormGrads g{Tensor::empty(x.shape()), Tensor::zeros({width}), Tensor::zeros({width})};
  // Weight and bias gradients sum over rows: fixed blocks of rows, each summed on its
  // own and then added in block order, so the result does not depend on thread count.
  const int64_t block = 64;
  int64_t nblocks = (rows + block - 1) / block;
  Eigen::ArrayXXf gw_part = Eigen::ArrayXXf::Zero(width, nblocks);
  Eigen::ArrayXXf gb_part = Eigen::ArrayXXf::Zero(width, nblocks);
  const float *px = xc.data(), *pg = gc.data(), *pm = mean.data(), *ps = rstd.data();
  float* pgx = g.x.data();
  ConstArrayMap w(wc.data(), width);
  parallel_for(nblocks, std::max<int64_t>(1, row_grain(width) / block),
               [&](int64_t b0, int64_t b1) {
                 Eigen::ArrayXf xhat(width), gxhat(width);
                 for (int64_t blk = b0; blk < b1; ++blk) {
                   for (int64_t i = blk * block; i < std::min(rows, (blk + 1) * block); ++i) {
                     ConstArrayMap xr(px + i * width, width), gr(pg + i * width, width);
                     xhat = (xr - pm[i]) * ps[i];
                     gxhat = gr * w;
                     float mean_g = gxhat.sum() / width;
                     float mean_gx = (gxhat * xhat).sum() / width;
                     ArrayMap(pgx + i * width, width) = ps[i] * (gxhat - mean_g - xhat * mean_gx);
                     gw_part.col(blk) += gr * xhat;
                     gb_part.col(blk) += gr;
                   }
                 }
               });
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    g.weight.array() += gw_part.col(blk);
    g.bias.array() += gb_part.col(blk);
  }
  return g;
}

// ---- cross-entropy with logits, fused with its gradient ----
namespace {
void check_logits_and_labels(const char* op, const Tensor& logits, const Labels& labels) {
  if (logits.ndim() != 2)
    shape_error(op, "logits must be (B, C), got " + shape_str(logits.shape()));
  int64_t B = logits.shape()[0], C = logits.shape()[1];
  if (static_cast<int64_t>(labels.size()) != B)
    shape_error(op, logits.shape(), Shape{static_cast<int64_t>(labels.size())},
                "one label per row expected");
  if (B == 0) shape_error(op, "empty batch");
  for (int64_t i = 0; i < B; ++i)
    if (labels[i] < 0 || labels[i] >= C)
      shape_error(op, "label " + std::to_string(labels[i]) + " at row " + std::to_string(i) +
                          " outside [0, " + std::to_string(C) + ")");
}
}  // namespace

CrossEntropyResult cross_entropy(const Tensor& logits, const Labels& labels) {
  check_logits_and_labels("cross_entropy", logits, labels);
  int64_t B = logits.shape()[0], C = logits.shape()[1];
  Tensor lc = logits.contiguous();
  CrossEntropyResult r{0.0f, Tensor::empty({B, C})};
  std::vector<double> row_loss(B);
  const float* px = lc.data();
  float* pg = r.grad.data();
  const float inv_b = 1.0f / static_cast<float>(B);
  parallel_for(B, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      ConstArrayMap xr(px + i * C, C);
      ArrayMap gr(pg + i * C, C);
      float m = xr.maxCoeff();
      gr = (xr - m).exp();
      float s = gr.sum();
      row_loss[i] = static_cast<double>(m) + std::log(static_cast<double>(s)) - xr[labels[i]];
      gr *= inv_b / s;
      gr[labels[i]] -= inv_b;
    }
  });
  double total = 0.0;
  for (double v : row_loss) total += v;  // fixed order: independent of threads
  r.loss = static_cast<float>(total / B);
  return r;
}

RowScores score_rows(const Tensor& logits, const Labels& labels) {
  check_logits_and_labels("score_rows", logits, labels);
  int64_t B = logits.shape()[0], C = logits.shape()[1];
  Tensor lc = logits.contiguous();
  RowScores r{std::vector<double>(B), Labels(B)};
  const float* px = lc.data();
  parallel_for(B, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      ConstArrayMap xr(px + i * C, C);
      Eigen::Index best = 0;
      float m = xr.maxCoeff(&best);  // the first maximum: the lowest class on ties
      double s = (xr - m).exp().template cast<double>().sum();
      r.loss[i] = static_cast<double>(m) + std::log(s) - xr[labels[i]];
      r.argmax[i] = static_cast<int32_t>(best);
    }
  });
  return r;
}

}  // namespace dapa
