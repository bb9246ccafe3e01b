// Transformer kernels: softmax, layer norm and the fused cross-entropy; see kernels.h.
// (Elementwise functions such as GELU live in functions.cpp.) Rows are independent, so
// threads split rows; per-row work is vectorised with Eigen arrays or plain loops over
// fast_math.h.
#include <array>
#include <cmath>
#include <string>
#include <vector>

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
namespace {
// One row of n (y aliases no input): y = (x - m) rstd w + b, m the row's mean and rstd 1 /
// sqrt(variance + eps). Sums in lane order (fast_math.h), so every clone gives the same bits; y
// holds x - m between the passes (its zero-padded tail adds nothing to the variance).
DAPA_VECTOR_CLONES void layer_norm_row(const float* __restrict x, const float* __restrict w,
                                       const float* __restrict b, float eps, int64_t n,
                                       float* __restrict y, float* mean, float* rstd) {
  const float m = lane_sum_of(x, n) / static_cast<float>(n);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] - m;
  const float var = lane_dot(y, y, n) / static_cast<float>(n);  // two-pass: no cancellation
  const float r = 1.0f / std::sqrt(var + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] * r * w[i] + b[i];
  *mean = m;
  *rstd = r;
}

// The row again from its mean m and rstd r: (x - m) rounded, then times r, times w, plus
// b, as layer_norm_row rounds them.
DAPA_VECTOR_CLONES void layer_norm_row_again(const float* __restrict x, const float* __restrict w,
                                             const float* __restrict b, int64_t n, float m, float r,
                                             float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * r * w[i] + b[i];
}

// One row's backward (no two pointers alias): xhat = (x - m) rstd, gxhat = g w (scratch, n each),
// gx = rstd (gxhat - mean(gxhat) - xhat mean(gxhat xhat)); adds g xhat to gw and g to gb.
DAPA_VECTOR_CLONES void layer_norm_row_backward(const float* __restrict x,
                                                const float* __restrict g,
                                                const float* __restrict w, float m, float rstd,
                                                int64_t n, float* __restrict xhat,
                                                float* __restrict gxhat, float* __restrict gx,
                                                float* __restrict gw, float* __restrict gb) {
  for (int64_t i = 0; i < n; ++i) {
    xhat[i] = (x[i] - m) * rstd;
    gxhat[i] = g[i] * w[i];
  }
  const std::array<float, 2> sums =
      lane_sums<2>(n, [&](int64_t i, int64_t count, LaneTerms<2>& terms) {
        Lanes16 h;
        load_lanes(terms[0], gxhat + i, count);
        load_lanes(h, xhat + i, count);
        terms[1] = terms[0];
        terms[1] *= h;
      });
  const float mean_g = sums[0] / static_cast<float>(n), mean_gx = sums[1] / static_cast<float>(n);
  for (int64_t i = 0; i < n; ++i) {
    gx[i] = rstd * (gxhat[i] - mean_g - xhat[i] * mean_gx);
    gw[i] += g[i] * xhat[i];
    gb[i] += g[i];
  }
}
}  // namespace

void check_layer_norm_shapes(const char* op, const Shape& x, const Tensor& weight,
                             const Tensor& bias) {
  const int64_t width = x.empty() ? 0 : x.back();
  if (x.empty() || weight.shape() != Shape{width} || bias.shape() != Shape{width})
    shape_error(op, x, weight.shape(), "weight and bias must be (C,) for input (..., C)");
}

namespace {
// Row i + ahead of x (rows of `width`, up to row `end`), about kPrefetchAhead floats on.
inline void prefetch_row_ahead(const float* x, int64_t width, int64_t i, int64_t end) {
  const int64_t ahead = std::max<int64_t>(1, kPrefetchAhead / width);
  if (i + ahead < end) prefetch_floats(x + (i + ahead) * width, width);
}
}  // namespace

void layer_norm_rows(const float* x, const float* w, const float* b, float eps, int64_t width,
                     int64_t r0, int64_t rows, float* y, float* mean, float* rstd) {
  for (int64_t i = r0; i < r0 + rows; ++i) {
    prefetch_row_ahead(x, width, i, r0 + rows);
    layer_norm_row(x + i * width, w, b, eps, width, y + i * width, mean + i, rstd + i);
  }
}

void layer_norm_rows_again(const float* x, const float* w, const float* b, int64_t width,
                           int64_t r0, int64_t rows, const float* mean, const float* rstd,
                           float* y) {
  for (int64_t i = r0; i < r0 + rows; ++i) {
    prefetch_row_ahead(x, width, i, r0 + rows);
    layer_norm_row_again(x + i * width, w, b, width, mean[i], rstd[i], y + i * width);
  }
}

LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  const Rows shape = rows_of(x, "layer_norm");
  const int64_t rows = shape.rows, width = shape.width;
  check_layer_norm_shapes("layer_norm", x.shape(), weight, bias);
  Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = bias.contiguous();
  LayerNormResult r{Tensor::empty(x.shape()), Tensor::empty({rows}), Tensor::empty({rows})};
  parallel_for(rows, row_grain(width), [&](int64_t r0, int64_t r1) {
    layer_norm_rows(xc.data(), wc.data(), bc.data(), eps, width, r0, r1 - r0, r.y.data(),
                    r.mean.data(), r.rstd.data());
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
  Eigen::ArrayXXf gw_part = Eigen::ArrayXXf::Zero(width, nblocks);  // (width, blocks) each
  Eigen::ArrayXXf gb_part = Eigen::ArrayXXf::Zero(width, nblocks);
  const float *px = xc.data(), *pg = gc.data(), *pm = mean.data(), *ps = rstd.data();
  parallel_for(
      nblocks, std::max<int64_t>(1, row_grain(width) / block), [&](int64_t b0, int64_t b1) {
        std::vector<float> xhat(width), gxhat(width);
        for (int64_t blk = b0; blk < b1; ++blk)
          for (int64_t i = blk * block; i < std::min(rows, (blk + 1) * block); ++i) {
            prefetch_row_ahead(px, width, i, rows);
            prefetch_row_ahead(pg, width, i, rows);
            layer_norm_row_backward(px + i * width, pg + i * width, wc.data(), pm[i], ps[i], width,
                                    xhat.data(), gxhat.data(), g.x.data() + i * width,
                                    &gw_part(0, blk), &gb_part(0, blk));
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
      // -log softmax(x)[label] = max + log(sum of exp(x - max)) - x[label]; the gradient
      // row (softmax(x) - onehot) / B.
      const float* xr = px + i * C;
      float* gr = pg + i * C;
      const SoftmaxRowStats st = softmax_row(xr, gr, C);
      row_loss[i] = static_cast<double>(st.max) - std::log(static_cast<double>(st.inverse_sum)) -
                    xr[labels[i]];
      ArrayMap(gr, C) *= inv_b;
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

DAPA_VECTOR_CLONES void adamw_update(float* __restrict w, float* __restrict m, float* __restrict v,
                                     const float* __restrict g, int64_t n, const AdamWStep& s) {
  const float b1 = s.beta1, b2 = s.beta2, c1 = 1.0f - s.beta1, c2 = 1.0f - s.beta2;
  const float lr = s.lr, eps = s.eps, bc1 = s.bc1, bc2 = s.bc2, decay = s.decay;
  for (int64_t i = 0; i < n; ++i) {
    const float wi = w[i] * decay;  // times 1 is exact: no decay
    const float mi = b1 * m[i] + c1 * g[i];
    const float vi = b2 * v[i] + c2 * (g[i] * g[i]);
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - lr * (mi / bc1) / (std::sqrt(vi / bc2) + eps);
  }
}

}  // namespace dapa
