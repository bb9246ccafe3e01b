// Thread-count control; see parallel.h.
#include "core/parallel.h"

#include <cblas.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace dapa {
namespace {
int& thread_count() {
  static int count = [] {
    int n = omp_get_max_threads();
    if (const char* env = std::getenv("DAPA_NUM_THREADS"); env && *env) {
      char* end = nullptr;
      long v = std::strtol(env, &end, 10);
      if (*end != '\0' || v < 1 || v > 1024)
        throw std::invalid_argument("DAPA_NUM_THREADS='" + std::string(env) +
                                    "': expected a whole number from 1 to 1024");
      n = static_cast<int>(v);
    }
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return n;
  }();
  return count;
}
}  // namespace

int num_threads() {
  return thread_count();
}

void set_num_threads(int n) {
  if (n < 1)
    throw std::invalid_argument("set_num_threads: expected at least 1, got " + std::to_string(n));
  thread_count() = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

}  // namespace dapa
