// Fused multi-head self-attention on a qkv projection; see kernels.h. Each (batch,
// head) pair is independent: threads split them, and every product is a strided sgemm
// straight on the qkv buffer (row stride 3C), so no head is ever permuted or copied.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/fast_math.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/parallel.h"

namespace dapa {

namespace {
struct Dims {
  int64_t B, T, C, H, D;
};

Dims attention_dims(const Tensor& qkv, int64_t heads, const char* op) {
  if (qkv.ndim() != 3 || qkv.shape()[2] % 3 != 0)
    shape_error(op, "qkv must be (B, T, 3C), got " + shape_str(qkv.shape()));
  int64_t C = qkv.shape()[2] / 3;
  if (heads <= 0 || C % heads != 0)
    shape_error(op, "width " + std::to_string(C) + " does not split into " + std::to_string(heads) +
                        " heads");
  return {qkv.shape()[0], qkv.shape()[1], C, heads, C / heads};
}

// The entries row r of a head sees: all T, or r + 1 when causal; and where a row starts
// when the visible entries are packed row after row (attention_shifted_scores).
struct VisibleRows {
  int64_t T;
  bool causal;
  int64_t per_head() const { return causal ? T * (T + 1) / 2 : T * T; }
  int64_t row_start(int64_t r) const { return causal ? r * (r + 1) / 2 : r * T; }
  int64_t row_length(int64_t r) const { return causal ? r + 1 : T; }
};

// One row of the backward of a softmax whose exp is a table e, in place on g (dL/dp in, dL/ds out):
//   p_j = e'_j / S with e'_j = max(e(z_j), 0), S = sum e', z_j = s_j - max_i s_i.
//   dL/de'_j = (g_j - sum_i g_i p_i) / S;  dL/dz_j = that * e'(z_j) where e(z_j) > 0;
//   dL/ds_j = dL/dz_j - [j = argmax] sum_i dL/dz_i (the max shift: a table is not
//   shift-invariant like exp, so it has a gradient), times the score scale.
// The argmax is the first entry with z = 0, the one the forward's max took.
void softmax_from_exp_row_backward(const float* z, const float* e, const float* de, const float* p,
                                   float* g, int64_t n, float scale) {
  ConstArrayMap er(e, n), der(de, n), pr(p, n);
  ArrayMap gr(g, n);
  const float sum = er.max(0.0f).sum();
  const float dot = (gr * pr).sum();
  gr = (er > 0.0f).select((gr - dot) * (der / sum), 0.0f);
  const float total = gr.sum();
  int64_t argmax = 0;
  while (argmax < n - 1 && z[argmax] != 0.0f) ++argmax;
  g[argmax] -= total;
  gr *= scale;
}

}  // namespace

AttentionResult attention(const Tensor& qkv_in, int64_t heads, bool causal) {
  Dims d = attention_dims(qkv_in, heads, "attention");
  Tensor qkv = qkv_in.contiguous();
  AttentionResult r{Tensor::empty({d.B, d.T, d.C}), Tensor::empty({d.B, d.H, d.T, d.T})};
  const float scale = 1.0f / std::sqrt(static_cast<float>(d.D));
  const int64_t ld = 3 * d.C;
  const float* base = qkv.data();
  float *out = r.out.data(), *probs = r.probs.data();
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t b = i / d.H, h = i % d.H;
      const float* q = base + b * d.T * ld + h * d.D;  // q: (T, D), row stride 3C
      const float* k = q + d.C;
      const float* v = q + 2 * d.C;
      float* p = probs + i * d.T * d.T;  // p: (T, T)
      sgemm(false, true, d.T, d.T, d.D, scale, q, ld, k, ld, 0.0f, p, d.T);
      // Causal: row r attends to positions 0..r only; the rest of its probabilities are 0,
      // which also zeroes their gradients in backward (dS = P * (...)).
      for (int64_t r = 0; r < d.T; ++r) {
        int64_t n = causal ? r + 1 : d.T;
        softmax_row(p + r * d.T, p + r * d.T, n);
        std::fill(p + r * d.T + n, p + (r + 1) * d.T, 0.0f);
      }
      sgemm(false, false, d.T, d.D, d.T, 1.0f, p, d.T, v, ld, 0.0f, out + b * d.T * d.C + h * d.D,
            d.C);  // out head h: (T, D), row stride C
    }
  });
  return r;
}

Tensor attention_backward(const Tensor& gout_in, const Tensor& qkv_in, const Tensor& probs,
                          int64_t heads) {
  Dims d = attention_dims(qkv_in, heads, "attention_backward");
  if (gout_in.shape() != Shape{d.B, d.T, d.C})
    shape_error("attention_backward", gout_in.shape(), qkv_in.shape(),
                "output gradient must be (B, T, C) for qkv (B, T, 3C)");
  Tensor qkv = qkv_in.contiguous(), gout = gout_in.contiguous();
  Tensor gqkv = Tensor::empty(qkv.shape());
  const float scale = 1.0f / std::sqrt(static_cast<float>(d.D));
  const int64_t ld = 3 * d.C;
  const float *base = qkv.data(), *gbase = gout.data(), *pbase = probs.data();
  float* gq_base = gqkv.data();
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> gs(d.T * d.T);  // dL/dscores for one head
    for (int64_t i = i0; i < i1; ++i) {
      int64_t b = i / d.H, h = i % d.H, off = b * d.T * ld + h * d.D;
      const float *q = base + off, *k = q + d.C, *v = q + 2 * d.C;
      const float* go = gbase + b * d.T * d.C + h * d.D;  // (T, D), row stride C
      const float* p = pbase + i * d.T * d.T;
      float *gq = gq_base + off, *gk = gq + d.C, *gv = gq + 2 * d.C;
      // out = P V:  dV = P^T dOut,  dP = dOut V^T.
      sgemm(true, false, d.T, d.D, d.T, 1.0f, p, d.T, go, d.C, 0.0f, gv, ld);
      sgemm(false, true, d.T, d.T, d.D, 1.0f, go, d.C, v, ld, 0.0f, gs.data(), d.T);
      // P = softmax(S): dS = P * (dP - rowsum(dP * P)), times the scale of S = s Q K^T.
      for (int64_t r = 0; r < d.T; ++r) {
        ConstArrayMap pr(p + r * d.T, d.T);
        ArrayMap gr(gs.data() + r * d.T, d.T);
        gr = scale * pr * (gr - (gr * pr).sum());
      }
      // S = Q K^T:  dQ = dS K,  dK = dS^T Q.
      sgemm(false, false, d.T, d.D, d.T, 1.0f, gs.data(), d.T, k, ld, 0.0f, gq, ld);
      sgemm(true, false, d.T, d.D, d.T, 1.0f, gs.data(), d.T, q, ld, 0.0f, gk, ld);
    }
  });
  return gqkv;
}

AttentionResult attention_with_exp(const Tensor& qkv_in, int64_t heads, bool causal,
                                   const RowFunction& exp) {
  Dims d = attention_dims(qkv_in, heads, "attention_with_exp");
  VisibleRows pk{d.T, causal};
  Tensor qkv = qkv_in.contiguous();
  AttentionResult r{Tensor::empty({d.B, d.T, d.C}), Tensor::empty({d.B, d.H, d.T, d.T})};
  const float scale = 1.0f / std::sqrt(static_cast<float>(d.D));
  const int64_t ld = 3 * d.C;
  const float* base = qkv.data();
  float *out = r.out.data(), *probs = r.probs.data();
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t b = i / d.H, h = i % d.H;
      const float* q = base + b * d.T * ld + h * d.D;  // q, k, v: (T, D), row stride 3C
      float* p = probs + i * d.T * d.T;                // p: (T, T)
      sgemm(false, true, d.T, d.T, d.D, scale, q, ld, q + d.C, ld, 0.0f, p, d.T);
      for (int64_t row = 0; row < d.T; ++row) {
        int64_t n = pk.row_length(row);
        ArrayMap z(p + row * d.T, n);
        z -= z.maxCoeff();
        exp.value(z.data(), z.data(), n);
        normalize_exp_row(z.data(), n);
        std::fill(p + row * d.T + n, p + (row + 1) * d.T, 0.0f);
      }
      sgemm(false, false, d.T, d.D, d.T, 1.0f, p, d.T, q + 2 * d.C, ld, 0.0f,
            out + b * d.T * d.C + h * d.D, d.C);  // out head h: (T, D), row stride C
    }
  });
  return r;
}

Tensor attention_with_exp_backward(const Tensor& gout_in, const Tensor& qkv_in, const Tensor& probs,
                                   int64_t heads, bool causal, const RowFunction& exp) {
  Dims d = attention_dims(qkv_in, heads, "attention_with_exp_backward");
  if (gout_in.shape() != Shape{d.B, d.T, d.C})
    shape_error("attention_with_exp_backward", gout_in.shape(), qkv_in.shape(),
                "output gradient must be (B, T, C) for qkv (B, T, 3C)");
  VisibleRows pk{d.T, causal};
  Tensor qkv = qkv_in.contiguous(), gout = gout_in.contiguous();
  Tensor gqkv = Tensor::empty(qkv.shape());
  const float scale = 1.0f / std::sqrt(static_cast<float>(d.D));
  const int64_t ld = 3 * d.C;
  const float *base = qkv.data(), *gbase = gout.data(), *pbase = probs.data();
  float* gq_base = gqkv.data();
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    // One head's scores (then z), dL/dscores, and the table's value and derivative per row.
    std::vector<float> z(d.T * d.T), gs(d.T * d.T), e(d.T), de(d.T);
    for (int64_t i = i0; i < i1; ++i) {
      int64_t b = i / d.H, h = i % d.H, off = b * d.T * ld + h * d.D;
      const float *q = base + off, *k = q + d.C, *v = q + 2 * d.C;
      const float* go = gbase + b * d.T * d.C + h * d.D;  // (T, D), row stride C
      const float* p = pbase + i * d.T * d.T;
      float *gq = gq_base + off, *gk = gq + d.C, *gv = gq + 2 * d.C;
      sgemm(false, true, d.T, d.T, d.D, scale, q, ld, k, ld, 0.0f, z.data(), d.T);
      // out = P V:  dV = P^T dOut,  dP = dOut V^T.
      sgemm(true, false, d.T, d.D, d.T, 1.0f, p, d.T, go, d.C, 0.0f, gv, ld);
      sgemm(false, true, d.T, d.T, d.D, 1.0f, go, d.C, v, ld, 0.0f, gs.data(), d.T);
      for (int64_t r = 0; r < d.T; ++r) {
        int64_t n = pk.row_length(r);
        ArrayMap zr(z.data() + r * d.T, n);
        zr -= zr.maxCoeff();
        exp.value_and_derivative(zr.data(), e.data(), de.data(), n);
        softmax_from_exp_row_backward(zr.data(), e.data(), de.data(), p + r * d.T,
                                      gs.data() + r * d.T, n, scale);
        std::fill(gs.data() + r * d.T + n, gs.data() + (r + 1) * d.T, 0.0f);
      }
      // S = Q K^T:  dQ = dS K,  dK = dS^T Q.
      sgemm(false, false, d.T, d.D, d.T, 1.0f, gs.data(), d.T, k, ld, 0.0f, gq, ld);
      sgemm(true, false, d.T, d.D, d.T, 1.0f, gs.data(), d.T, q, ld, 0.0f, gk, ld);
    }
  });
  return gqkv;
}

Tensor attention_shifted_scores(const Tensor& qkv_in, int64_t heads, bool causal) {
  Dims d = attention_dims(qkv_in, heads, "attention_shifted_scores");
  VisibleRows pk{d.T, causal};
  Tensor qkv = qkv_in.contiguous();
  Tensor z = Tensor::empty({d.B * d.H * pk.per_head()});
  const float scale = 1.0f / std::sqrt(static_cast<float>(d.D));
  const int64_t ld = 3 * d.C;
  const float* base = qkv.data();
  float* zbase = z.data();
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> s(d.T * d.T);  // s: (T, T), one head's scores
    for (int64_t i = i0; i < i1; ++i) {
      int64_t b = i / d.H, h = i % d.H;
      const float* q = base + b * d.T * ld + h * d.D;  // q, k: (T, D), row stride 3C
      sgemm(false, true, d.T, d.T, d.D, scale, q, ld, q + d.C, ld, 0.0f, s.data(), d.T);
      for (int64_t r = 0; r < d.T; ++r) {
        int64_t n = pk.row_length(r);
        ConstArrayMap row(s.data() + r * d.T, n);
        ArrayMap(zbase + i * pk.per_head() + pk.row_start(r), n) = row - row.maxCoeff();
      }
    }
  });
  return z;
}

}  // namespace dapa
