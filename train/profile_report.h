// The per-op profile of `--benchmark-steps N --profile`: where a training step's time
// goes, each op against its own ceiling, measured in the same process: the sgemm peak for
// the matrix products (OpenBLAS's threaded 2048^3 sgemm) and the memory bandwidth for the
// rest (GB/s of a large copy, bytes read plus written; an op whose data stays in the
// caches can pass it).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "autograd/profile.h"

namespace dapa {

struct Ceilings {
  double sgemm_gflops = 0;  // best of 5 sgemm_square_openblas_threaded(2048)
  double copy_gbs = 0;      // best of a few 64 MB copies, in blocks over the threads
};
Ceilings measure_ceilings();

// A markdown table, one row per op or scope (most time first) and one for the time no
// op or scope accounts for: calls, forward and backward ms per step, share of the step,
// and what it reached against its ceiling.
std::string profile_table(const std::map<std::string, OpStats>& stats, int64_t steps,
                          double seconds, const Ceilings& ceilings);

}  // namespace dapa
