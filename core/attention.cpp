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
  int64_t ld() const { return 3 * C; }  // qkv's row stride
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(D)); }
  // Head i = b H + h: where its queries start in qkv (keys C and values 2C further on),
  // and where its slice of a (B, T, C) tensor starts (row stride C).
  int64_t qkv_offset(int64_t i) const { return (i / H) * T * ld() + (i % H) * D; }
  int64_t out_offset(int64_t i) const { return (i / H) * T * C + (i % H) * D; }
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

// The same for a backward, which also takes the output's gradient (B, T, C).
Dims backward_dims(const Tensor& gout, const Tensor& qkv, int64_t heads, const char* op) {
  Dims d = attention_dims(qkv, heads, op);
  if (gout.shape() != Shape{d.B, d.T, d.C})
    shape_error(op, gout.shape(), qkv.shape(),
                "output gradient must be (B, T, C) for qkv (B, T, 3C)");
  return d;
}

// One head's scores s = scale Q K^T (T, T), from its queries q in qkv.
void head_scores(const Dims& d, const float* q, float* s) {
  sgemm(false, true, d.T, d.T, d.D, d.scale(), q, d.ld(), q + d.C, d.ld(), 0.0f, s, d.T);
}

// One head's output P V (T, D) into its slice `out` of (B, T, C).
void head_output(const Dims& d, const float* p, const float* q, float* out) {
  sgemm(false, false, d.T, d.D, d.T, 1.0f, p, d.T, q + 2 * d.C, d.ld(), 0.0f, out, d.C);
}

// One head's backward around its softmax P (T, T), given dL/dout `go` (row stride C):
// out = P V: dV = P^T dOut, dP = dOut V^T into g; softmax_backward(g) turns dP into
// dL/dscores in place; S = s Q K^T: dQ = dS K, dK = dS^T Q. gq: the head's slice of
// dL/dqkv.
template <class SoftmaxBackward>
void head_backward(const Dims& d, const float* q, const float* go, const float* p, float* gq,
                   float* g, SoftmaxBackward softmax_backward) {
  const int64_t ld = d.ld();
  sgemm(true, false, d.T, d.D, d.T, 1.0f, p, d.T, go, d.C, 0.0f, gq + 2 * d.C, ld);
  sgemm(false, true, d.T, d.T, d.D, 1.0f, go, d.C, q + 2 * d.C, ld, 0.0f, g, d.T);
  softmax_backward(g);
  sgemm(false, false, d.T, d.D, d.T, 1.0f, g, d.T, q + d.C, ld, 0.0f, gq, ld);
  sgemm(true, false, d.T, d.D, d.T, 1.0f, g, d.T, q, ld, 0.0f, gq + d.C, ld);
}

// The entries row r of a head sees: all T, or r + 1 when causal; and where a row starts
// when the visible entries are packed row after row (visible_scores).
struct VisibleRows {
  int64_t T;
  bool causal;
  int64_t per_head() const { return causal ? T * (T + 1) / 2 : T * T; }
  int64_t row_start(int64_t r) const { return causal ? r * (r + 1) / 2 : r * T; }
  int64_t row_length(int64_t r) const { return causal ? r + 1 : T; }
  // fn(at, n) over a head's visible entries as runs of (T, T) positions: the whole head
  // at once (long runs vectorise best), or each causal row's visible part (the masked
  // half costs nothing).
  template <class Fn>
  void for_each_run(Fn fn) const {
    if (!causal) return fn(int64_t{0}, T * T);
    for (int64_t r = 0; r < T; ++r) fn(r * T, r + 1);
  }
};

// The backward of a softmax whose exp is a table e, per row of n visible entries:
//   p_j = e'_j / S with e'_j = max(e(z_j), 0), S = sum e', z_j = s_j - max_i s_i;
//   dL/de'_j = (g_j - sum_i g_i p_i) / S;  dL/dz_j = that * e'(z_j) where e(z_j) > 0;
//   dL/ds_j = dL/dz_j - [j = argmax] sum_i dL/dz_i (the max shift: a table is not
//   shift-invariant like exp, so it has a gradient), times the score scale.
// First, from the table's value e and derivative de: p, and de turned into
// [e > 0] de / S in place; returns the argmax, the first entry with z = 0 (the one the
// forward's max took).
int64_t exp_row_probabilities(const float* z, const float* e, float* de, float* p, int64_t n) {
  const float inverse = normalize_exp_row(e, p, n);
  ArrayMap der(de, n);
  der = (ConstArrayMap(e, n) > 0.0f).select(der * inverse, 0.0f);
  int64_t argmax = 0;
  while (argmax < n - 1 && z[argmax] != 0.0f) ++argmax;
  return argmax;
}

// Then g = dL/dp in, dL/ds out, in place.
void exp_row_backward(const float* p, const float* de, int64_t argmax, float* g, int64_t n,
                      float scale) {
  ConstArrayMap pr(p, n), der(de, n);
  ArrayMap gr(g, n);
  const float dot = (gr * pr).sum();
  gr = (gr - dot) * der;
  g[argmax] -= gr.sum();
  gr *= scale;
}

}  // namespace

AttentionResult attention(const Tensor& qkv_in, int64_t heads, bool causal) {
  Dims d = attention_dims(qkv_in, heads, "attention");
  VisibleRows rows{d.T, causal};
  Tensor qkv = qkv_in.contiguous();
  AttentionResult r{Tensor::empty({d.B, d.T, d.C}), Tensor::empty({d.B, d.H, d.T, d.T})};
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* q = qkv.data() + d.qkv_offset(i);
      float* p = r.probs.data() + i * d.T * d.T;  // p: (T, T)
      head_scores(d, q, p);
      // Causal: row r attends to positions 0..r only; the rest of its probabilities are 0,
      // which also zeroes their gradients in backward (dS = P * (...)).
      for (int64_t row = 0; row < d.T; ++row) {
        int64_t n = rows.row_length(row);
        softmax_row(p + row * d.T, p + row * d.T, n);
        std::fill(p + row * d.T + n, p + (row + 1) * d.T, 0.0f);
      }
      head_output(d, p, q, r.out.data() + d.out_offset(i));
    }
  });
  return r;
}

Tensor attention_backward(const Tensor& gout_in, const Tensor& qkv_in, const Tensor& probs,
                          int64_t heads) {
  Dims d = backward_dims(gout_in, qkv_in, heads, "attention_backward");
  Tensor qkv = qkv_in.contiguous(), gout = gout_in.contiguous();
  Tensor gqkv = Tensor::empty(qkv.shape());
  const float scale = d.scale();
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> gs(d.T * d.T);  // dL/dscores for one head
    for (int64_t i = i0; i < i1; ++i) {
      const float* p = probs.data() + i * d.T * d.T;
      head_backward(d, qkv.data() + d.qkv_offset(i), gout.data() + d.out_offset(i), p,
                    gqkv.data() + d.qkv_offset(i), gs.data(), [&](float* g) {
                      // P = softmax(S): dS = P * (dP - rowsum(dP * P)), times the scale.
                      for (int64_t row = 0; row < d.T; ++row) {
                        ConstArrayMap pr(p + row * d.T, d.T);
                        ArrayMap gr(g + row * d.T, d.T);
                        gr = scale * pr * (gr - (gr * pr).sum());
                      }
                    });
    }
  });
  return gqkv;
}

TableAttentionResult attention_with_exp(const Tensor& qkv_in, int64_t heads, bool causal,
                                        const RowFunction& exp) {
  Dims d = attention_dims(qkv_in, heads, "attention_with_exp");
  VisibleRows rows{d.T, causal};
  Tensor qkv = qkv_in.contiguous();
  TableAttentionResult r{Tensor::empty({d.B, d.T, d.C}), Tensor::empty({d.B, d.H, d.T, d.T})};
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> p(d.T * d.T);  // p: (T, T), one head's probabilities
    for (int64_t i = i0; i < i1; ++i) {
      const float* q = qkv.data() + d.qkv_offset(i);
      float* z = r.z.data() + i * d.T * d.T;  // z: (T, T), saved for backward
      head_scores(d, q, z);
      for (int64_t row = 0; row < d.T; ++row) {
        const int64_t n = rows.row_length(row), at = row * d.T;
        ArrayMap zr(z + at, n);
        zr -= zr.maxCoeff();
        std::fill(z + at + n, z + at + d.T, 0.0f);
      }
      rows.for_each_run([&](int64_t at, int64_t n) { exp.value(z + at, p.data() + at, n); });
      for (int64_t row = 0; row < d.T; ++row) {  // masked entries: 0
        const int64_t n = rows.row_length(row), at = row * d.T;
        normalize_exp_row(p.data() + at, p.data() + at, n);
        std::fill(p.data() + at + n, p.data() + at + d.T, 0.0f);
      }
      head_output(d, p.data(), q, r.out.data() + d.out_offset(i));
    }
  });
  return r;
}

Tensor attention_with_exp_backward(const Tensor& gout_in, const Tensor& qkv_in, const Tensor& z_in,
                                   int64_t heads, bool causal, const RowFunction& exp) {
  Dims d = backward_dims(gout_in, qkv_in, heads, "attention_with_exp_backward");
  if (z_in.shape() != Shape{d.B, d.H, d.T, d.T})
    shape_error("attention_with_exp_backward", z_in.shape(), qkv_in.shape(),
                "scores must be (B, heads, T, T) for qkv (B, T, 3C)");
  VisibleRows rows{d.T, causal};
  Tensor qkv = qkv_in.contiguous(), gout = gout_in.contiguous(), z = z_in.contiguous();
  Tensor gqkv = Tensor::empty(qkv.shape());
  const float scale = d.scale();
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    // One head's table values and derivatives, probabilities and dL/dscores: (T, T) each.
    std::vector<float> e(d.T * d.T), de(d.T * d.T), p(d.T * d.T, 0.0f), gs(d.T * d.T);
    std::vector<int64_t> argmax(d.T);
    for (int64_t i = i0; i < i1; ++i) {
      const float* zh = z.data() + i * d.T * d.T;
      rows.for_each_run([&](int64_t at, int64_t n) {
        exp.value_and_derivative(zh + at, e.data() + at, de.data() + at, n);
      });
      for (int64_t row = 0; row < d.T; ++row) {  // the forward's probabilities again
        const int64_t n = rows.row_length(row), at = row * d.T;
        argmax[row] =
            exp_row_probabilities(zh + at, e.data() + at, de.data() + at, p.data() + at, n);
      }
      head_backward(d, qkv.data() + d.qkv_offset(i), gout.data() + d.out_offset(i), p.data(),
                    gqkv.data() + d.qkv_offset(i), gs.data(), [&](float* g) {
                      for (int64_t row = 0; row < d.T; ++row) {
                        int64_t n = rows.row_length(row), at = row * d.T;
                        exp_row_backward(p.data() + at, de.data() + at, argmax[row], g + at, n,
                                         scale);
                        std::fill(g + at + n, g + at + d.T, 0.0f);
                      }
                    });
    }
  });
  return gqkv;
}

Tensor visible_scores(const Tensor& z_in, bool causal) {
  if (z_in.ndim() != 4 || z_in.shape()[2] != z_in.shape()[3])
    shape_error("visible_scores",
                "scores must be (B, heads, T, T), got " + shape_str(z_in.shape()));
  Tensor z = z_in.contiguous();
  const int64_t T = z.shape()[2], heads = z.shape()[0] * z.shape()[1];
  VisibleRows pk{T, causal};
  Tensor packed = Tensor::empty({heads * pk.per_head()});
  for (int64_t i = 0; i < heads; ++i)
    for (int64_t r = 0; r < T; ++r)
      std::copy_n(z.data() + (i * T + r) * T, pk.row_length(r),
                  packed.data() + i * pk.per_head() + pk.row_start(r));
  return packed;
}

}  // namespace dapa
