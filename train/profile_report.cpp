// The per-op profile table; see profile_report.h.
#include "train/profile_report.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/gemm.h"
#include "core/parallel.h"
#include "core/tensor.h"

namespace dapa {

namespace {
template <class F>
double best_seconds(int repeats, F&& f) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

std::string format(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}
}  // namespace

Ceilings measure_ceilings() {
  Ceilings c;
  constexpr int64_t n = 2048;
  std::vector<float> a(n * n, 1.0f), b(n * n, 1.0f), y(n * n);
  auto product = [&] { sgemm_square_openblas_threaded(n, a.data(), b.data(), y.data()); };
  product();                                                          // warm-up
  c.sgemm_gflops = 2.0 * n * n * n / best_seconds(5, product) / 1e9;  // this machine drifts
  // 64 MB each way: beyond the caches of these CPUs, and within a Zynq board's memory.
  constexpr int64_t words = int64_t{1} << 24;
  std::vector<float> from(words, 1.0f), to(words, 0.0f);
  constexpr int64_t block = int64_t{1} << 16;  // copied in blocks over the threads, as ops run
  auto copy = [&] {
    parallel_for(words / block, 1, [&](int64_t b0, int64_t b1) {
      std::memcpy(to.data() + b0 * block, from.data() + b0 * block,
                  static_cast<size_t>((b1 - b0) * block) * sizeof(float));
    });
  };
  copy();
  const double t = best_seconds(3, copy);
  c.copy_gbs = 2.0 * words * sizeof(float) / t / 1e9;
  return c;
}

std::string profile_table(const std::map<std::string, OpStats>& stats, int64_t steps,
                          double seconds, const Ceilings& ceilings) {
  std::vector<std::pair<std::string, OpStats>> rows(stats.begin(), stats.end());
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
    return x.second.forward_s + x.second.backward_s > y.second.forward_s + y.second.backward_s;
  });
  const double per_step = 1e3 / static_cast<double>(steps);
  std::string out =
      "| op | calls per step | forward ms | backward ms | share of step | reached | of ceiling "
      "|\n|---|---|---|---|---|---|---|\n";
  double accounted = 0;
  for (const auto& [name, s] : rows) {
    const double total = s.forward_s + s.backward_s;
    accounted += total;
    // Products: forward and backward (twice the forward's products: the gradients of both
    // operands). The rest: the forward's traffic (inputs and output) over its time; a
    // backward's traffic depends on what the op saved, so it is not rated.
    std::string reached = "-", share = "-";
    if (s.forward_flops > 0) {
      const double gflops = 3.0 * s.forward_flops / total / 1e9;
      reached = format("%.1f GFLOP/s", gflops);
      share = format("%.0f%% of sgemm", 100.0 * gflops / ceilings.sgemm_gflops);
    } else if (s.forward_bytes > 0 && s.forward_s > 0) {
      const double gbs = s.forward_bytes / s.forward_s / 1e9;
      reached = format("%.1f GB/s forward", gbs);
      share = format("%.0f%% of copy", 100.0 * gbs / ceilings.copy_gbs);
    }
    out += "| " + name + " | " + format("%.1f", static_cast<double>(s.calls) / steps) + " | " +
           format("%.2f", s.forward_s * per_step) + " | " +
           format("%.2f", s.backward_s * per_step) + " | " +
           format("%.1f%%", 100.0 * total / seconds) + " | " + reached + " | " + share + " |\n";
  }
  out += "| (not in any op) | - | " + format("%.2f", (seconds - accounted) * per_step) + " | - | " +
         format("%.1f%%", 100.0 * (seconds - accounted) / seconds) + " | - | - |\n";
  out += "\nstep " + format("%.2f", seconds * per_step) + " ms; ceilings measured in this " +
         "process: sgemm " + format("%.0f", ceilings.sgemm_gflops) +
         " GFLOP/s (OpenBLAS, 2048^3), copy " + format("%.1f", ceilings.copy_gbs) +
         " GB/s (64 MB, read + write; an op above it ran from the caches)\n";
  return out;
}

}  // namespace dapa
