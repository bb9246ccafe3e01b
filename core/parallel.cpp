// Thread-count control; see parallel.h.
#include "core/parallel.h"

#include <cblas.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
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
    openblas_set_num_threads(n);
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
  openblas_set_num_threads(n);
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

// Steps before the governor judges (allocations settle), the probe intervals on one
// thread, the CPU share below which N threads are suspected of stalling, and the margin
// a probe must win by.
constexpr int64_t kWarmupSteps = 3, kFirstInterval = 16, kLongestInterval = 256;
constexpr double kStallShare = 0.8, kWinMargin = 0.85;
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
}

void ThreadGovernor::end_step() {
  double wall = wall_seconds() - wall_start_, cpu = cpu_seconds() - cpu_start_;
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
  if (steps_ >= next_probe_ && (stalling || chosen_ == 1)) probing_ = true;
}

}  // namespace dapa
