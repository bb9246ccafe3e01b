// BLIS, one of the candidate libraries for the small products (bench_gemm), loaded at run
// time: libblis exports the same BLAS and CBLAS symbols as OpenBLAS (sgemm_, cblas_sgemm),
// so one binary cannot link both; dlopen with RTLD_DEEPBIND keeps its symbols its own.
#pragma once

#include <cstdint>

namespace dapa {

// True when libblis.so.4 was found and loaded (then set to one thread).
bool blis_available();

// C(M, N) = op(A) op(B), row-major, through bli_sgemm; blis_available() must be true.
void blis_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const float* B, int64_t ldb, float* C, int64_t ldc);

}  // namespace dapa
