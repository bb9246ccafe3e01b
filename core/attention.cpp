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

// One head's output P V (T, D) into its slice `out` of (B, T, C); P has row stride ldp.
void head_output(const Dims& d, const float* p, int64_t ldp, const float* q, float* out) {
  sgemm(false, false, d.T, d.D, d.T, 1.0f, p, ldp, q + 2 * d.C, d.ld(), 0.0f, out, d.C);
}

// One head's backward around its softmax P (T, T), given dL/dout `go` (row stride C):
// out = P V: dV = P^T dOut, dP = dOut V^T into g; softmax_backward(g) turns dP into
// dL/dscores in place; S = s Q K^T: dQ = dS K, dK = dS^T Q. gq: the head's slice of
// dL/dqkv. P and g have row stride ldp.
template <class SoftmaxBackward>
void head_backward(const Dims& d, const float* q, const float* go, const float* p, int64_t ldp,
                   float* gq, float* g, SoftmaxBackward softmax_backward) {
  const int64_t ld = d.ld();
  sgemm(true, false, d.T, d.D, d.T, 1.0f, p, ldp, go, d.C, 0.0f, gq + 2 * d.C, ld);
  sgemm(false, true, d.T, d.T, d.D, 1.0f, go, d.C, q + 2 * d.C, ld, 0.0f, g, ldp);
  softmax_backward(g);
  sgemm(false, false, d.T, d.D, d.T, 1.0f, g, ldp, q + d.C, ld, 0.0f, gq, ld);
  sgemm(true, false, d.T, d.D, d.T, 1.0f, g, ldp, q, ld, 0.0f, gq + d.C, ld);
}

// The entries row r of a head sees: all T, or r + 1 when causal; and where a row starts
// when the visible entries are packed row after row (visible_scores).
struct VisibleRows {
  int64_t T;
  bool causal;
  int64_t per_head() const { return causal ? T * (T + 1) / 2 : T * T; }
  int64_t row_start(int64_t r) const { return causal ? r * (r + 1) / 2 : r * T; }
  int64_t row_length(int64_t r) const { return causal ? r + 1 : T; }
};

// The table softmax keeps each head's probabilities (and, in backward, its derivative
// factors and dL/dscores) at a row stride of T rounded up to whole lane_sum blocks, with
// 0 in the entries past a row's visible ones: the row loops then run over whole blocks,
// vectorised, with no scalar tail, and the zeros change no sum (lane_padded).
//
// The backward of a softmax whose exp is a table e, per row of n visible entries:
//   p_j = e'_j / S with e'_j = max(e(z_j), 0), S = sum e', z_j = s_j - max_i s_i;
//   dL/de'_j = (g_j - sum_i g_i p_i) / S;  dL/dz_j = that * e'(z_j) where e(z_j) > 0;
//   dL/ds_j = dL/dz_j - [j = argmax] sum_i dL/dz_i (the max shift: a table is not
//   shift-invariant like exp, so it has a gradient), times the score scale.
// normalize_exp_row gives p again and d = [e > 0] e'(z) scale / S; then this turns
// g = dL/dp into dL/ds in place over a padded row (d = 0 past the visible entries, so
// g ends 0 there). The argmax is the first entry with z = 0, the one the forward's max
// took (first_zero).
DAPA_VECTOR_CLONES void exp_row_backward(const float* p, const float* d, int64_t argmax, float* g,
                                         int64_t n) {
  const float dot = lane_sum(n, [&](int64_t i) { return g[i] * p[i]; });
  g[argmax] -= lane_sum(n, [&](int64_t i) { return g[i] = (g[i] - dot) * d[i]; });
}

// z -= max(z) over a row of n.
DAPA_VECTOR_CLONES void subtract_row_max(float* z, int64_t n) {
  const float m = lane_max(z, n);
  for (int64_t i = 0; i < n; ++i) z[i] -= m;
}

DAPA_VECTOR_CLONES int64_t first_zero(const float* z, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {  // whole blocks: a vector compare to a bit mask each
    int32_t zeros = 0;
    // Not unrolled: GCC 12 vectorises this loop, but not the 16 statements of its unrolling.
#pragma GCC unroll 1
    for (int32_t l = 0; l < 16; ++l) zeros |= (z[i + l] == 0.0f) << l;
    if (zeros) return i + __builtin_ctz(static_cast<uint32_t>(zeros));
  }
  while (i < n - 1 && z[i] != 0.0f) ++i;
  return i;
}

}  // namespace

DAPA_VECTOR_CLONES void softmax_row(const float* x, float* y, int64_t n) {
  const float m = lane_max(x, n);
  for (int64_t i = 0; i < n; ++i) y[i] = fast_exp(x[i] - m);
  const float inverse = 1.0f / lane_sum(n, [&](int64_t i) { return y[i]; });
  for (int64_t i = 0; i < n; ++i) y[i] *= inverse;
}

DAPA_VECTOR_CLONES void softmax_row_backward(const float* y, const float* g, float* gx, int64_t n,
                                             float scale) {
  const float dot = lane_sum(n, [&](int64_t i) { return g[i] * y[i]; });
  for (int64_t i = 0; i < n; ++i) gx[i] = scale * y[i] * (g[i] - dot);
}

DAPA_VECTOR_CLONES float normalize_exp_row(const float* e, float* p, int64_t n, float* d,
                                           float d_scale) {
  const float inverse = 1.0f / lane_sum(n, [&](int64_t i) { return std::max(e[i], 0.0f); });
  const float d_factor = inverse * d_scale;
  if (d)
    for (int64_t i = 0; i < n; ++i) {
      d[i] = e[i] > 0.0f ? d[i] * d_factor : 0.0f;  // before p: e may be p
      p[i] = std::max(e[i], 0.0f) * inverse;
    }
  else
    for (int64_t i = 0; i < n; ++i) p[i] = std::max(e[i], 0.0f) * inverse;
  return inverse;
}

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
      head_output(d, p, d.T, q, r.out.data() + d.out_offset(i));
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
      head_backward(d, qkv.data() + d.qkv_offset(i), gout.data() + d.out_offset(i), p, d.T,
                    gqkv.data() + d.qkv_offset(i), gs.data(), [&](float* g) {
                      for (int64_t row = 0; row < d.T; ++row)  // times the score scale
                        softmax_row_backward(p + row * d.T, g + row * d.T, g + row * d.T, d.T,
                                             scale);
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
  const int64_t ldp = lane_padded(d.T);
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> p(d.T * ldp, 0.0f);  // p: (T, T) at row stride ldp, one head's
    for (int64_t i = i0; i < i1; ++i) {
      const float* q = qkv.data() + d.qkv_offset(i);
      float* z = r.z.data() + i * d.T * d.T;  // z: (T, T), saved for backward
      head_scores(d, q, z);
      for (int64_t row = 0; row < d.T; ++row) {  // masked entries: 0 in z and p
        const int64_t n = rows.row_length(row);
        float* zr = z + row * d.T;
        subtract_row_max(zr, n);
        std::fill(zr + n, zr + d.T, 0.0f);
        exp.value(zr, p.data() + row * ldp, n);
        normalize_exp_row(p.data() + row * ldp, p.data() + row * ldp, lane_padded(n));
      }
      head_output(d, p.data(), ldp, q, r.out.data() + d.out_offset(i));
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
  const int64_t ldp = lane_padded(d.T);
  parallel_for(d.B * d.H, 1, [&](int64_t i0, int64_t i1) {
    // One head's probabilities, derivative factors d (exp_row_backward) and dL/dscores:
    // (T, T) each at row stride ldp, 0 past each row's visible entries.
    std::vector<float> p(d.T * ldp, 0.0f), de(d.T * ldp, 0.0f), gs(d.T * ldp, 0.0f);
    std::vector<int64_t> argmax(d.T);
    for (int64_t i = i0; i < i1; ++i) {
      const float* zh = z.data() + i * d.T * d.T;
      for (int64_t row = 0; row < d.T; ++row) {  // the forward's probabilities again
        const int64_t n = rows.row_length(row);
        float *pr = p.data() + row * ldp, *dr = de.data() + row * ldp;
        exp.value_and_derivative(zh + row * d.T, pr, dr, n);
        normalize_exp_row(pr, pr, lane_padded(n), dr, scale);
        argmax[row] = first_zero(zh + row * d.T, n);
      }
      head_backward(d, qkv.data() + d.qkv_offset(i), gout.data() + d.out_offset(i), p.data(), ldp,
                    gqkv.data() + d.qkv_offset(i), gs.data(), [&](float* g) {
                      for (int64_t row = 0; row < d.T; ++row) {
                        const int64_t n = rows.row_length(row), at = row * ldp;
                        exp_row_backward(p.data() + at, de.data() + at, argmax[row], g + at,
                                         lane_padded(n));
                        std::fill(g + at + std::min(lane_padded(n), d.T), g + at + d.T, 0.0f);
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
