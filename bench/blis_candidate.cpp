// See blis_candidate.h. Only this file sees blis.h: it carries BLIS's own cblas.h.
#include "bench/blis_candidate.h"

#include <blis.h>
#include <dlfcn.h>

namespace dapa {
namespace {
struct Blis {
  decltype(&bli_sgemm) sgemm = nullptr;
  Blis() {
    void* lib = dlopen("libblis.so.4", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!lib) return;
    auto set_threads = reinterpret_cast<decltype(&bli_thread_set_num_threads)>(
        dlsym(lib, "bli_thread_set_num_threads"));
    sgemm = reinterpret_cast<decltype(&bli_sgemm)>(dlsym(lib, "bli_sgemm"));
    if (set_threads) set_threads(1);  // the products run one per thread, as ours
  }
};

const Blis& blis() {
  static const Blis loaded;
  return loaded;
}
}  // namespace

bool blis_available() {
  return blis().sgemm != nullptr;
}

void blis_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const float* B, int64_t ldb, float* C, int64_t ldc) {
  float one = 1.0f, zero = 0.0f;
  // Row-major: row stride ld, column stride 1; BLIS takes any strides.
  blis().sgemm(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, M,
               N, K, &one, const_cast<float*>(A), lda, 1, const_cast<float*>(B), ldb, 1, &zero, C,
               ldc, 1);
}

}  // namespace dapa
