// Threads: one OpenMP pool shared by our kernels and OpenBLAS (its OpenMP build).
// The count comes from DAPA_NUM_THREADS when set, else OpenMP's default (at most the
// CPUs this process may use), and can be changed with set_num_threads(). parallel_for splits a
// range into contiguous chunks only when each chunk gets at least `grain` items, so tiny loops stay
// serial.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

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

// Items 0..n-1 that cost alike, each run exactly once, for loops of many (the attention's
// (batch, head) pairs): worker(next) runs once per thread and calls next() until it
// returns -1. Thread t first takes its own share [n t / N, n (t + 1) / N) front to back,
// as parallel_for would (the rows an earlier region over the same range left in its
// caches), then items from the back of the share with the most left. A fixed split waits
// for its slowest thread; threads do not run alike (measured on a 2-vCPU AMD EPYC: the
// thread on CPU 0 took 10-25% longer over the same heads, whichever thread it was), and
// here the faster one takes over the other's last items. Which thread runs an item never
// changes what the item computes.
template <class Worker>
void parallel_items(int64_t n, Worker&& worker) {
  const int64_t threads = std::min<int64_t>(num_threads(), n);
  if (threads <= 1 || omp_in_parallel() || n > int64_t{0xffffffff}) {  // see Share
    int64_t i = 0;
    if (n > 0) worker([&]() -> int64_t { return i < n ? i++ : -1; });
    return;
  }
  // Each share's unclaimed items [front, back) in one word (front high, back low), so the
  // owner (front) and a thief (back) claim with one compare-and-swap each.
  struct alignas(64) Share {
    std::atomic<uint64_t> range;
  };
  std::unique_ptr<Share[]> shares(new Share[static_cast<size_t>(threads)]);
  auto pack = [](uint64_t front, uint64_t back) { return front << 32 | back; };
  auto front_of = [](uint64_t range) { return range >> 32; };
  auto back_of = [](uint64_t range) { return range & 0xffffffffu; };
  for (int64_t t = 0; t < threads; ++t)
    shares[t].range.store(pack(n * t / threads, n * (t + 1) / threads), std::memory_order_relaxed);
  // An item from share t, from its front or back; -1 when it is empty.
  auto claim = [&](int64_t t, bool front) -> int64_t {
    uint64_t r = shares[t].range.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t f = front_of(r), b = back_of(r);
      if (f >= b) return -1;
      const uint64_t next = front ? pack(f + 1, b) : pack(f, b - 1);
      if (shares[t].range.compare_exchange_weak(r, next, std::memory_order_relaxed))
        return static_cast<int64_t>(front ? f : b - 1);
    }
  };
#pragma omp parallel num_threads(static_cast <int>(threads))
  {
    const int64_t self = omp_get_thread_num();
    worker([&]() -> int64_t {
      if (int64_t i = claim(self, true); i >= 0) return i;
      for (;;) {  // the share with the most items left, until none has any
        int64_t victim = -1;
        uint64_t most = 0;
        for (int64_t t = 0; t < threads; ++t) {
          const uint64_t r = shares[t].range.load(std::memory_order_relaxed);
          if (back_of(r) > front_of(r) && back_of(r) - front_of(r) > most)
            most = back_of(r) - front_of(r), victim = t;
        }
        if (victim < 0) return -1;
        if (int64_t i = claim(victim, false); i >= 0) return i;
      }
    });
  }
}

}  // namespace dapa
