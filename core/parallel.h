// Threads: one OpenMP pool shared by our kernels and OpenBLAS (its OpenMP build).
// The count comes from DAPA_NUM_THREADS when set, else OpenMP's default, and can be
// changed with set_num_threads(). parallel_for splits a range into contiguous chunks
// only when each chunk gets at least `grain` items, so tiny loops stay serial.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace dapa {

int num_threads();
void set_num_threads(int n);

template <class F>
void parallel_for(int64_t n, int64_t grain, F&& body) {
  int64_t chunks = std::min<int64_t>(num_threads(), grain > 0 ? n / grain : n);
  if (chunks <= 1 || omp_in_parallel()) {
    if (n > 0) body(int64_t{0}, n);
    return;
  }
#pragma omp parallel for num_threads(static_cast <int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    body(begin, end);
  }
}

}  // namespace dapa
