// Threads: one OpenMP pool shared by our kernels and OpenBLAS (its OpenMP build).
// The count comes from DAPA_NUM_THREADS when set, else OpenMP's default (at most the
// CPUs this process may use), and can be changed with set_num_threads(). parallel_for splits a
// range into contiguous chunks only when each chunk gets at least `grain` items, so tiny loops stay
// serial.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace dapa {

int num_threads();
// 1 to max_threads(): more threads than CPUs never speeds up this compute-bound work,
// and OpenBLAS's per-thread buffers can exhaust a limited address space.
void set_num_threads(int n);
// The CPUs this process may run on (its affinity mask).
int max_threads();

// Load-adaptive thread count for a loop of similar steps (training). With N threads,
// every parallel region waits for its slowest thread; when another process takes one
// of the cores, the thread sharing it is descheduled for milliseconds at a time and
// every region stalls on it (measured: vit-nano at 2 threads fell to 0.55-0.65x of 1
// thread with one core busy). The governor watches the process's CPU share of each step
// (CPU time / (wall time x threads); OpenMP's spinning threads keep it near 1 on a quiet
// machine) and, when it drops, times a step with one thread against N and keeps the
// faster; on one thread it times N again at growing intervals, but only once the other
// CPUs show idle time again (/proc/stat), to return when the load is gone. Results do not depend on
// the thread count (every kernel partitions by shape alone), so switching changes no bits: a run
// stays reproducible.
class ThreadGovernor {
 public:
  explicit ThreadGovernor(int threads);  // the most threads to use
  void begin_step();                     // sets this step's thread count
  void end_step();                       // times it; may choose the other count
  int threads() const { return running_; }
  int switches() const { return switches_; }

 private:
  int most_, chosen_, running_;
  bool probing_ = false;
  int64_t steps_ = 0, next_probe_ = 0, interval_ = 0;
  int switches_ = 0;
  double chosen_seconds_ = 0;  // running mean of the chosen count's step time
  double wall_start_ = 0, cpu_start_ = 0, idle_start_ = -1;
  double idle_cores_ = 0;  // running mean of the idle CPUs (cores) during a step
};

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
