// Matrix products. Routed to OpenBLAS sgemm (OpenMP build), and on x86-64 the large ones
// to oneDNN's sgemm (DAPA_ONEDNN) and the small ones to libxsmm's JIT kernels
// (DAPA_LIBXSMM): Eigen's own GEMM, compiled without -march=native, is SSE-only and far
// below these libraries' runtime-dispatched AVX2/AVX-512 (x86) and NEON (ARM) kernels;
// see docs/design.md.
#pragma once

#include <functional>

#include "core/tensor.h"

namespace dapa {

// C(M, N) = alpha * op(A) op(B) + beta * C, row-major, op = transpose when ta/tb.
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// c (n, n) = a b on OpenBLAS's own threads (this process's count): the machine's peak
// product, as bench_gemm's peak row, which the per-op profile rates products against.
// sgemm() keeps OpenBLAS at one thread and tiles itself, for the same bits at any count.
void sgemm_square_openblas_threaded(int64_t n, const float* a, const float* b, float* c);

// Work on a product's rows while they are in cache. A product tiled by output rows calls
// before(r0, rows) on the tile's thread just ahead of the tile's product (forming the
// rows of A it reads, when A is not transposed, or of C it accumulates on) and
// after(r0, rows) just behind it (working on the rows of C it wrote); other products call
// them over all M rows, in pieces, before and after the whole product. So both must work
// on any split into row ranges alike, and must not start a parallel region of their own.
// Either may be empty.
struct RowWork {
  std::function<void(int64_t r0, int64_t rows)> before, after;
};

// 2-D: a (M, K) or (K, M) when ta; b (K, N) or (N, K) when tb -> (M, N).
Tensor matmul(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false);
// c = op(a) op(b) + beta * c (c must be contiguous and of the right shape), with work on
// c's rows around the product when given.
void matmul_into(const Tensor& a, const Tensor& b, bool ta, bool tb, float beta, Tensor& c,
                 const RowWork* work = nullptr);

// Batched 3-D: a (Bt, M, K), b (Bt, K, N) -> (Bt, M, N), transposes per matrix.
// The batch is spread over threads, each running a single-threaded sgemm.
Tensor bmm(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false);

// Checks the shapes of a linear layer: x (..., in), weight (out, in), bias (out) when
// given; throws ShapeError naming `op` and the shapes.
void check_linear_shapes(const char* op, const Shape& x, const Shape& weight, const Shape* bias);

// The linear layer y = x W^T + b on 2-D views: x (R, in), W (out, in), b (out) or
// undefined. Shared by the autograd ops that contain a linear layer. work.before may
// form x's rows just before the product reads them. With `residual` (R, out, contiguous),
// y = residual + (x W^T + b), added to each tile of y behind its product (after
// work.after): the same bits as adding it afterwards, without another pass over memory.
Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const RowWork& work = {}, const Tensor& residual = Tensor());
struct LinearGrads {
  Tensor x, weight, bias;  // each computed only when asked for
};
LinearGrads linear_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, bool need_x,
                            bool need_weight, bool need_bias);

}  // namespace dapa
