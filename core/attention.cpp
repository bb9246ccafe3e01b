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

}  // namespace dapa
