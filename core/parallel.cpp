// Thread-count control; see parallel.h.
#include "core/parallel.h"

#include <cblas.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace dapa {
namespace {
int& thread_count() {
  static int count = [] {
    int n = std::min(omp_get_max_threads(), max_threads());
    if (const char* env = std::getenv("DAPA_NUM_THREADS"); env && *env) {
      char* end = nullptr;
      long v = std::strtol(env, &end, 10);
      if (*end != '\0' || v < 1 || v > max_threads())
        throw std::invalid_argument(
            "DAPA_NUM_THREADS='" + std::string(env) + "': expected a whole number from 1 to " +
            std::to_string(max_threads()) + " (the CPUs this process may use)");
      n = static_cast<int>(v);
    }
    omp_set_num_threads(n);
    // OpenBLAS never threads by itself: sgemm tiles products over our threads (gemm.cpp).
    openblas_set_num_threads(1);
    return n;
  }();
  return count;
}
}  // namespace

int max_threads() {
  static const int cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    int n = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    return std::max(n > 0 ? n : omp_get_num_procs(), 1);
  }();
  return cpus;
}

int num_threads() {
  return thread_count();
}

void set_num_threads(int n) {
  if (n < 1 || n > max_threads())
    throw std::invalid_argument("threads: expected 1 to " + std::to_string(max_threads()) +
                                " (the CPUs this process may use), got " + std::to_string(n));
  thread_count() = n;
  omp_set_num_threads(n);
}

namespace {
double wall_seconds() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double cpu_seconds() {  // all threads of the process
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Idle time so far, in CPU-seconds, of the CPUs this process may run on (/proc/stat's
// idle + iowait of each), or -1 where that cannot be read.
double idle_cpu_seconds() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return -1;
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return -1;
  char line[512];
  unsigned long long idle_jiffies = 0;
  bool any = false;
  while (std::fgets(line, sizeof line, f)) {
    int cpu = -1;
    unsigned long long user, nice, sys, idle, iowait;
    if (std::sscanf(line, "cpu%d %llu %llu %llu %llu %llu", &cpu, &user, &nice, &sys, &idle,
                    &iowait) == 6 &&
        cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &mask))
      idle_jiffies += idle + iowait, any = true;
  }
  std::fclose(f);
  long ticks = sysconf(_SC_CLK_TCK);
  return any && ticks > 0 ? static_cast<double>(idle_jiffies) / static_cast<double>(ticks) : -1;
}

// Steps before the governor judges (allocations settle), the probe intervals on one
// thread, the CPU share below which N threads are suspected of stalling, and the margin
// a probe must win by.
constexpr int64_t kWarmupSteps = 3, kFirstInterval = 16, kLongestInterval = 256;
constexpr double kStallShare = 0.8, kWinMargin = 0.85;
// On one thread, N threads are only worth timing again when the other CPUs were this
// idle (in cores, averaged over recent steps): under a busy loop they are not, and a
// probe would cost a whole stalled step for nothing.
constexpr double kIdleToProbe = 0.5;
}  // namespace

ThreadGovernor::ThreadGovernor(int threads)
    : most_(threads), chosen_(threads), running_(threads), interval_(kFirstInterval) {
  set_num_threads(threads);
}

void ThreadGovernor::begin_step() {
  int want = probing_ ? (chosen_ == 1 ? most_ : 1) : chosen_;
  if (want != running_) set_num_threads(want);
  running_ = want;
  wall_start_ = wall_seconds();
  cpu_start_ = cpu_seconds();
  idle_start_ = idle_cpu_seconds();
}

void ThreadGovernor::end_step() {
  double wall = wall_seconds() - wall_start_, cpu = cpu_seconds() - cpu_start_;
  double idle_now = idle_cpu_seconds();
  // Idle cores during the step (unknown: as if idle, so that probes go on as before).
  double idle =
      idle_start_ >= 0 && idle_now >= 0 && wall > 0 ? (idle_now - idle_start_) / wall : most_;
  idle_cores_ = steps_ == 0 ? idle : 0.75 * idle_cores_ + 0.25 * idle;
  ++steps_;
  if (most_ == 1 || steps_ <= kWarmupSteps) return;
  if (probing_) {
    probing_ = false;
    if (wall < kWinMargin * chosen_seconds_) {  // the other count is clearly faster
      chosen_ = running_;
      chosen_seconds_ = wall;
      interval_ = kFirstInterval;
      ++switches_;
    } else {
      interval_ = std::min(2 * interval_, kLongestInterval);
    }
    next_probe_ = steps_ + interval_;
    return;
  }
  chosen_seconds_ = chosen_seconds_ == 0 ? wall : 0.75 * chosen_seconds_ + 0.25 * wall;
  bool stalling = chosen_ > 1 && cpu < kStallShare * wall * chosen_;
  bool room = chosen_ == 1 && idle_cores_ >= kIdleToProbe;
  if (steps_ >= next_probe_ && (stalling || room)) probing_ = true;
}

}  // namespace dapa
