// Fused multi-head self-attention on a qkv projection; see kernels.h. Each (batch,
// head) pair is independent: threads share them out (parallel_items), and every product is a
// strided sgemm straight on the qkv buffer (row stride 3C), so no head is ever permuted or copied.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/fast_math.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/parallel.h"

namespace dapa {

namespace {
struct Dims {
  int64_t B, T, C, H, D;
  bool causal;
  int64_t ld() const { return 3 * C; }  // qkv's row stride
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(D)); }
  // Head i = b H + h: where its queries start in qkv (keys C and values 2C further on),
  // and where its slice of a (B, T, C) tensor starts (row stride C).
  int64_t qkv_offset(int64_t i) const { return (i / H) * T * ld() + (i % H) * D; }
  int64_t out_offset(int64_t i) const { return (i / H) * T * C + (i % H) * D; }
  // The rows [r0, r1) of a head's products, f(r0, r1) per block: all T at once, or when
  // causal about 4 blocks (whole blocks of 16, for the row passes), so that a block's
  // products reach column r1 only: what its rows see. That skips most of the (T, T)
  // products' upper triangle, which is 0 for P and dS (T = 256: 10 of 16 blocks' work).
  template <class F>
  void row_blocks(F f) const {
    const int64_t rows = causal ? std::max(kSumLanes, lane_padded((T + 3) / 4)) : T;
    for (int64_t r0 = 0; r0 < T; r0 += rows) f(r0, std::min(T, r0 + rows));
  }
};

Dims attention_dims(const Tensor& qkv, int64_t heads, bool causal, const char* op) {
  if (qkv.ndim() != 3 || qkv.shape()[2] % 3 != 0)
    shape_error(op, "qkv must be (B, T, 3C), got " + shape_str(qkv.shape()));
  int64_t C = qkv.shape()[2] / 3;
  if (heads <= 0 || C % heads != 0)
    shape_error(op, "width " + std::to_string(C) + " does not split into " + std::to_string(heads) +
                        " heads");
  return {qkv.shape()[0], qkv.shape()[1], C, heads, C / heads, causal};
}

// The same for a backward, which also takes the output's gradient (B, T, C).
Dims backward_dims(const Tensor& gout, const Tensor& qkv, int64_t heads, bool causal,
                   const char* op) {
  Dims d = attention_dims(qkv, heads, causal, op);
  if (gout.shape() != Shape{d.B, d.T, d.C})
    shape_error(op, gout.shape(), qkv.shape(),
                "output gradient must be (B, T, C) for qkv (B, T, 3C)");
  return d;
}

// One head's scores s = scale Q K^T (T, T) at row stride lds, from its queries q in qkv;
// causal: per row block up to its last column, the rest left as it was.
void head_scores(const Dims& d, const float* q, float* s, int64_t lds) {
  const int64_t ld = d.ld();
  d.row_blocks([&](int64_t r0, int64_t r1) {
    sgemm(false, true, r1 - r0, r1, d.D, d.scale(), q + r0 * ld, ld, q + d.C, ld, 0.0f,
          s + r0 * lds, lds);
  });
}

// One head's output P V (T, D) into its slice `out` of (B, T, C); P has row stride ldp
// (causal: 0 past the diagonal, where a block's product does not reach).
void head_output(const Dims& d, const float* p, int64_t ldp, const float* q, float* out) {
  d.row_blocks([&](int64_t r0, int64_t r1) {
    sgemm(false, false, r1 - r0, d.D, r1, 1.0f, p + r0 * ldp, ldp, q + 2 * d.C, d.ld(), 0.0f,
          out + r0 * d.C, d.C);
  });
}

// One head's backward around its softmax P (T, T), given dL/dout `go` (T, D) at row
// stride ldgo: out = P V: dV = P^T dOut, dP = dOut V^T into g; softmax_backward(g) turns
// dP into dL/dS in place, up to the factor ds_scale; S = s Q K^T: dQ = dS K, dK = dS^T Q.
// gq: the head's slice of dL/dqkv. P and g are (T, T) at row stride ldt. Causal: a block
// of keys [c0, c1) is seen by rows c0.. only (dV, dK), a block of rows [r0, r1) sees keys
// ..r1 only (dP, dQ); softmax_backward leaves g 0 past each row's pass.
template <class SoftmaxBackward>
void head_backward(const Dims& d, const float* q, const float* go, int64_t ldgo, const float* p,
                   float* gq, float* g, int64_t ldt, float ds_scale,
                   SoftmaxBackward softmax_backward) {
  const int64_t ld = d.ld(), T = d.T, D = d.D;
  d.row_blocks([&](int64_t c0, int64_t c1) {
    sgemm(true, false, c1 - c0, D, T - c0, 1.0f, p + c0 * ldt + c0, ldt, go + c0 * ldgo, ldgo, 0.0f,
          gq + 2 * d.C + c0 * ld, ld);
  });
  d.row_blocks([&](int64_t r0, int64_t r1) {
    sgemm(false, true, r1 - r0, r1, D, 1.0f, go + r0 * ldgo, ldgo, q + 2 * d.C, ld, 0.0f,
          g + r0 * ldt, ldt);
  });
  softmax_backward(g);
  d.row_blocks([&](int64_t r0, int64_t r1) {
    sgemm(false, false, r1 - r0, D, r1, ds_scale, g + r0 * ldt, ldt, q + d.C, ld, 0.0f,
          gq + r0 * ld, ld);
  });
  d.row_blocks([&](int64_t c0, int64_t c1) {
    sgemm(true, false, c1 - c0, D, T - c0, ds_scale, g + c0 * ldt + c0, ldt, q + c0 * ld, ld, 0.0f,
          gq + d.C + c0 * ld, ld);
  });
}

// y = x with row r times s[r], for a (rows, cols) block at row strides ldx and ldy (y
// may be x).
DAPA_VECTOR_CLONES void scale_rows(const float* x, int64_t ldx, const float* s, float* y,
                                   int64_t ldy, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * ldy + c] = x[r * ldx + c] * s[r];
}

// One head's output with table values e (T, T): (e V) / S row by row, S = 1 / inverse_sum.
void table_head_output(const Dims& d, const float* e, const float* q, const float* inverse_sum,
                       float* out) {
  head_output(d, e, d.T, q, out);
  scale_rows(out, d.C, inverse_sum, out, d.C, d.T, d.D);
}

// The entries row r of a head sees: all T, or r + 1 when causal; and where a row starts
// when the visible entries are packed row after row (keep_scores).
struct VisibleRows {
  int64_t T;
  bool causal;
  int64_t per_head() const { return causal ? T * (T + 1) / 2 : T * T; }
  int64_t row_start(int64_t r) const { return causal ? r * (r + 1) / 2 : r * T; }
  int64_t row_length(int64_t r) const { return causal ? r + 1 : T; }
};

// One head's scores for the exact softmax, (T, T) at row stride Tp = T padded to whole
// blocks of 16: what a row does not see (past T, and past the row when causal) holds
// -inf up to the row's last whole block, so every row pass (pass(r) entries) runs on
// whole blocks with no scalar tail, the maximum passes over the padding, and its exps
// are 0. The padding past T is written once; the product writes T columns only.
struct PaddedScores {
  VisibleRows rows;
  int64_t Tp;
  std::vector<float> s;
  explicit PaddedScores(VisibleRows r)
      : rows(r), Tp(lane_padded(r.T)), s(r.T * Tp, -std::numeric_limits<float>::infinity()) {}
  int64_t pass(int64_t r) const { return lane_padded(rows.row_length(r)); }
  float* row(int64_t r) { return s.data() + r * Tp; }
  // One head's scores scale Q K^T, hiding what causal rows do not see.
  void compute(const Dims& d, const float* q) {
    head_scores(d, q, s.data(), Tp);
    if (!rows.causal) return;
    for (int64_t r = 0; r < rows.T; ++r)
      std::fill(row(r) + rows.row_length(r), row(r) + std::min(pass(r), rows.T),
                -std::numeric_limits<float>::infinity());
  }
};

// The table softmax, per row of n visible entries:
//   z_j = s_j - max_i s_i, e_j = exp(z_j) by the table (floored at 0), S = sum_j e_j,
//   p_j = e_j / S.
// Neither forward nor backward forms P: out = P V = diag(1/S) (E V) scales a (T, D)
// product instead of the (T, T) probabilities, and backward takes dV = E^T (dOut / S),
// g' = (dOut / S) V^T = dL/dp / S. The forward saves the max, 1/S and the argmax per row;
// backward forms the scores again and shifts them by the saved max (the same bits as z).
// From g', per row (dot = sum_i dL/dp_i p_i = sum_i g'_i e_i):
//   dL/dz_j = (dL/dp_j - dot) / S e'(z_j) = (g'_j - dot / S) e'(z_j);
//   dL/ds_j = dL/dz_j - [j = argmax] sum_i dL/dz_i: the max shift has a gradient, since a
//   table, unlike exp, is not shift-invariant. The score scale is the products' alpha.
// This turns g' into dL/dz in place. The argmax is the first entry with z = 0, the one
// the forward's max took (subtract_row_max; saved per row). Past a causal row's visible entries e
// and e' are 0 (never written), so a pass may run on to the row's whole blocks (lane_padded): the
// products there add nothing, and g ends 0.
DAPA_VECTOR_CLONES void exp_row_backward(const float* e, const float* de, float inverse_sum,
                                         int64_t argmax, float* g, int64_t n) {
  const float dot_over_sum = lane_dot(g, e, n) * inverse_sum;
  // dL/dz in place, summed in the same pass for the max shift's gradient.
  const float dz_sum = lane_sum(n, [&](int64_t i, int64_t count, LaneTerms<1>& terms) {
    Lanes16& dz = terms[0];
    Lanes16 dei;
    load_lanes(dz, g + i, count);
    load_lanes(dei, de + i, count);
    dz -= dot_over_sum;
    dz *= dei;
    store_lanes(dz, g + i, count);
  });
  g[argmax] -= dz_sum;
}

DAPA_VECTOR_CLONES float row_sum(const float* e, int64_t n) {
  return lane_sum_of(e, n);
}

// The row pass length for row r: its visible entries, or on to its whole blocks when
// the row is shorter than T (causal), not past T.
int64_t row_pass(const VisibleRows& rows, int64_t r) {
  const int64_t n = rows.row_length(r);
  return n < rows.T ? std::min(lane_padded(n), rows.T) : n;
}

// e = exp(z) (and de = exp'(z) unless null) over one head's (T, T) scores at row stride
// T: all in one run when every entry is visible (the table's loops keep its registers),
// else row by row over the visible entries, leaving the rest of e and de as they are.
void exp_of_head(const RowFunction& exp, const VisibleRows& rows, const float* z, float* e,
                 float* de) {
  auto run = [&](int64_t at, int64_t n) {
    de ? exp.value_and_derivative(z + at, e + at, de + at, n) : exp.value(z + at, e + at, n);
  };
  if (!rows.causal) return run(0, rows.T * rows.T);
  for (int64_t r = 0; r < rows.T; ++r) run(r * rows.T, rows.row_length(r));
}

// z -= m over a row of n: the max shift of both directions (backward shifts by the
// forward's saved maximum), one loop, so the same z to the bit.
DAPA_VECTOR_CLONES void subtract(float* z, float m, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] -= m;
}

// z -= max(z) over a row of n; returns the maximum and its first index, where z is now 0
// (the entry the max shift's gradient goes to; n - 1 if there is none: a row of NaN).
DAPA_VECTOR_CLONES MaxAt subtract_row_max(float* z, int64_t n) {
  const MaxAt m = lane_argmax(z, n);
  subtract(z, m.max, n);
  return m;
}

}  // namespace

// The exps are a plain loop (vectorised at the clone's width; rows padded with -inf to
// whole blocks of 16, the attention's scratch PaddedScores, leave it no scalar tail:
// exp(-inf) is 0), then summed in lane_sum's order and scaled.
DAPA_VECTOR_CLONES SoftmaxRowStats softmax_row(const float* x, float* y, int64_t n) {
  const float m = lane_max(x, n);
  for (int64_t i = 0; i < n; ++i) y[i] = fast_exp<false>(x[i] - m);  // x[i] <= m
  const float inverse = 1.0f / lane_sum_of(y, n);
  for (int64_t i = 0; i < n; ++i) y[i] *= inverse;
  return {m, inverse};
}

namespace {
// The probabilities of softmax_row again, from the same scores and its statistics: the
// same operations in the same order, so the same bits, in one pass.
DAPA_VECTOR_CLONES void softmax_row_again(const float* x, SoftmaxRowStats stats, float* y,
                                          int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fast_exp<false>(x[i] - stats.max) * stats.inverse_sum;
}
}  // namespace

DAPA_VECTOR_CLONES void softmax_row_backward(const float* y, const float* g, float* gx, int64_t n,
                                             float scale) {
  const float dot = lane_dot(g, y, n);
  for (int64_t i = 0; i < n; ++i) gx[i] = scale * y[i] * (g[i] - dot);
}

DAPA_VECTOR_CLONES float normalize_exp_row(const float* e, float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = std::max(e[i], 0.0f);  // NaN stays
  const float inverse = 1.0f / lane_sum_of(p, n);
  for (int64_t i = 0; i < n; ++i) p[i] *= inverse;
  return inverse;
}

namespace {
// Checks backward's saved row statistics against the qkv they came from.
void check_row_statistics(const Dims& d, const Tensor& row_max, const Tensor& inverse_sum,
                          const Tensor& qkv, const char* op) {
  for (const Tensor* t : {&row_max, &inverse_sum})
    if (t->shape() != Shape{d.B, d.H, d.T})
      shape_error(op, t->shape(), qkv.shape(),
                  "row statistics must be (B, heads, T) for qkv (B, T, 3C)");
}
}  // namespace

AttentionResult attention(const Tensor& qkv_in, int64_t heads, bool causal) {
  Dims d = attention_dims(qkv_in, heads, causal, "attention");
  VisibleRows rows{d.T, causal};
  Tensor qkv = qkv_in.contiguous();
  AttentionResult r{Tensor::empty({d.B, d.T, d.C}), Tensor::empty({d.B, d.H, d.T}),
                    Tensor::empty({d.B, d.H, d.T})};
  parallel_items(d.B * d.H, [&](const auto& next) {
    PaddedScores s(rows);
    // p: (T, Tp), one head's probabilities. Causal: row r attends to positions 0..r only;
    // the rest of its probabilities are 0 (exps of -inf, or never written), which also
    // zeroes their gradients in backward (dS = P * (...)).
    std::vector<float> p(d.T * s.Tp, 0.0f);
    for (int64_t i; (i = next()) >= 0;) {
      const float* q = qkv.data() + d.qkv_offset(i);
      s.compute(d, q);
      for (int64_t row = 0; row < d.T; ++row) {
        const int64_t at = i * d.T + row;
        const SoftmaxRowStats stats = softmax_row(s.row(row), p.data() + row * s.Tp, s.pass(row));
        r.row_max.data()[at] = stats.max;
        r.inverse_sum.data()[at] = stats.inverse_sum;
      }
      head_output(d, p.data(), s.Tp, q, r.out.data() + d.out_offset(i));
    }
  });
  return r;
}

Tensor attention_backward(const Tensor& gout_in, const Tensor& qkv_in, const Tensor& row_max_in,
                          const Tensor& inverse_sum_in, int64_t heads, bool causal,
                          Tensor* out_again) {
  const char* op = "attention_backward";
  Dims d = backward_dims(gout_in, qkv_in, heads, causal, op);
  check_row_statistics(d, row_max_in, inverse_sum_in, qkv_in, op);
  VisibleRows rows{d.T, causal};
  Tensor qkv = qkv_in.contiguous(), gout = gout_in.contiguous();
  Tensor row_max = row_max_in.contiguous(), inverse_sum = inverse_sum_in.contiguous();
  Tensor gqkv = Tensor::empty(qkv.shape());
  if (out_again) *out_again = Tensor::empty(gout.shape());
  const float scale = d.scale();
  parallel_items(d.B * d.H, [&](const auto& next) {
    // One head's probabilities p, formed again as the forward formed them, and dL/dscores
    // gs: (T, Tp) each, 0 past what a row sees (the padding stays finite: 0 times a finite
    // dot).
    PaddedScores s(rows);
    const int64_t Tp = s.Tp;
    std::vector<float> p(d.T * Tp, 0.0f), gs(d.T * Tp, 0.0f);
    for (int64_t i; (i = next()) >= 0;) {
      const float* q = qkv.data() + d.qkv_offset(i);
      s.compute(d, q);
      for (int64_t row = 0; row < d.T; ++row) {
        const int64_t at = i * d.T + row;
        softmax_row_again(s.row(row), {row_max.data()[at], inverse_sum.data()[at]},
                          p.data() + row * Tp, s.pass(row));
      }
      if (out_again) head_output(d, p.data(), Tp, q, out_again->data() + d.out_offset(i));
      head_backward(d, q, gout.data() + d.out_offset(i), d.C, p.data(),
                    gqkv.data() + d.qkv_offset(i), gs.data(), Tp, 1.0f, [&](float* g) {
                      for (int64_t row = 0; row < d.T; ++row) {  // times the score scale
                        float* gr = g + row * Tp;
                        const int64_t n = s.pass(row);
                        softmax_row_backward(p.data() + row * Tp, gr, gr, n, scale);
                        if (n < d.T) std::fill(gr + n, gr + d.T, 0.0f);
                      }
                    });
    }
  });
  return gqkv;
}

TableAttentionResult attention_with_exp(const Tensor& qkv_in, int64_t heads, bool causal,
                                        const RowFunction& exp, bool keep_scores) {
  Dims d = attention_dims(qkv_in, heads, causal, "attention_with_exp");
  VisibleRows rows{d.T, causal};
  Tensor qkv = qkv_in.contiguous();
  TableAttentionResult r{Tensor::empty({d.B, d.T, d.C}), Tensor::empty({d.B, d.H, d.T}),
                         Tensor::empty({d.B, d.H, d.T}),
                         std::vector<int32_t>(static_cast<size_t>(d.B * d.H * d.T)),
                         keep_scores ? Tensor::empty({d.B * d.H * rows.per_head()}) : Tensor()};
  parallel_items(d.B * d.H, [&](const auto& next) {
    // One head's shifted scores z and table values e: (T, T) each.
    std::vector<float> z(d.T * d.T), e(d.T * d.T, 0.0f);
    for (int64_t i; (i = next()) >= 0;) {
      const float* q = qkv.data() + d.qkv_offset(i);
      float* inverse_sum = r.inverse_sum.data() + i * d.T;  // (T), saved, as row_max, argmax
      head_scores(d, q, z.data(), d.T);
      for (int64_t row = 0; row < d.T; ++row) {
        const int64_t n = rows.row_length(row), at = i * d.T + row;
        const MaxAt m = subtract_row_max(z.data() + row * d.T, n);
        r.row_max.data()[at] = m.max;
        r.argmax[at] = static_cast<int32_t>(m.at);
        if (keep_scores)
          std::copy_n(z.data() + row * d.T, n,
                      r.visible_z.data() + i * rows.per_head() + rows.row_start(row));
      }
      exp_of_head(exp, rows, z.data(), e.data(), nullptr);
      for (int64_t row = 0; row < d.T; ++row)
        inverse_sum[row] = 1.0f / row_sum(e.data() + row * d.T, row_pass(rows, row));
      table_head_output(d, e.data(), q, inverse_sum, r.out.data() + d.out_offset(i));
    }
  });
  return r;
}

Tensor attention_with_exp_backward(const Tensor& gout_in, const Tensor& qkv_in,
                                   const Tensor& row_max_in, const Tensor& inverse_sum_in,
                                   const std::vector<int32_t>& argmax, int64_t heads, bool causal,
                                   const RowFunction& exp, Tensor* out_again) {
  const char* op = "attention_with_exp_backward";
  Dims d = backward_dims(gout_in, qkv_in, heads, causal, op);
  check_row_statistics(d, row_max_in, inverse_sum_in, qkv_in, op);
  if (static_cast<int64_t>(argmax.size()) != d.B * d.H * d.T)
    shape_error(op, "argmax holds " + std::to_string(argmax.size()) +
                        " rows, not B heads T = " + std::to_string(d.B * d.H * d.T));
  VisibleRows rows{d.T, causal};
  Tensor qkv = qkv_in.contiguous(), gout = gout_in.contiguous();
  Tensor row_max = row_max_in.contiguous(), inverse_sum = inverse_sum_in.contiguous();
  Tensor gqkv = Tensor::empty(qkv.shape());
  if (out_again) *out_again = Tensor::empty(gout.shape());
  parallel_items(d.B * d.H, [&](const auto& next) {
    // One head's shifted scores z, table values e, derivatives de and dL/dscores: (T, T)
    // each; and dOut / S (T, D).
    std::vector<float> z(d.T * d.T), e(d.T * d.T, 0.0f), de(d.T * d.T, 0.0f), gs(d.T * d.T);
    std::vector<float> gout_over_sum(d.T * d.D);
    for (int64_t i; (i = next()) >= 0;) {
      const float* q = qkv.data() + d.qkv_offset(i);
      const float* inv = inverse_sum.data() + i * d.T;
      head_scores(d, q, z.data(), d.T);  // z = s - max as the forward shifted it: the same bits
      for (int64_t row = 0; row < d.T; ++row)
        subtract(z.data() + row * d.T, row_max.data()[i * d.T + row], rows.row_length(row));
      exp_of_head(exp, rows, z.data(), e.data(), de.data());
      if (out_again) table_head_output(d, e.data(), q, inv, out_again->data() + d.out_offset(i));
      scale_rows(gout.data() + d.out_offset(i), d.C, inv, gout_over_sum.data(), d.D, d.T, d.D);
      head_backward(d, q, gout_over_sum.data(), d.D, e.data(), gqkv.data() + d.qkv_offset(i),
                    gs.data(), d.T, d.scale(), [&](float* g) {
                      for (int64_t row = 0; row < d.T; ++row) {
                        const int64_t at = row * d.T, m = row_pass(rows, row);
                        exp_row_backward(e.data() + at, de.data() + at, inv[row],
                                         argmax[i * d.T + row], g + at, m);
                        std::fill(g + at + m, g + at + d.T, 0.0f);
                      }
                    });
    }
  });
  return gqkv;
}

}  // namespace dapa
