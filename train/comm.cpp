// The processes of a data-parallel run; see comm.h. Collectives are MPI's non-blocking
// ones, polled until done or until the timeout, so that no rank waits forever.
#include "train/comm.h"

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#ifdef DAPA_HAVE_MPI
// The C API only: the deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace dapa::comm {

namespace {
int g_rank = 0, g_size = 1, g_local_size = 1;
#ifdef DAPA_HAVE_MPI
bool g_mpi = false;  // MPI_Init was called
#endif
std::string g_program = "dapa";  // the executable's name, for the timeout message
double g_timeout = 600;
#ifdef DAPA_HAVE_MPI
struct Started {
  MPI_Request request;
  const char* what;
};
std::vector<Started> g_started;  // start_allgather's exchanges, in the order started
#endif

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

#ifdef DAPA_HAVE_MPI
// Polls `request` until it completes; past the timeout, says which collective the rank
// waited in and ends the job (MPI_Abort: every rank, with mpirun's own notice).
void wait(MPI_Request& request, const char* what) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  for (int spins = 0;; ++spins) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (waited > g_timeout) {
      // (A new line first: rank 0's progress line has none.)
      std::fprintf(stderr,
                   "%s%s: rank %d: no answer from the other ranks within %.0f s while exchanging "
                   "%s (a rank died or hangs; see --mpi-timeout); ending the job. The last "
                   "checkpoint is intact.\n",
                   g_rank == 0 ? "\n" : "", g_program.c_str(), g_rank, g_timeout, what);
      std::fflush(nullptr);
      MPI_Abort(MPI_COMM_WORLD, 4);
    }
    // Spin first (a step's exchange is short), then leave the core to the others.
    if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

int checked_count(int64_t n, const char* what) {
  if (n > INT_MAX)
    throw std::runtime_error(std::string("exchanging ") + what + ": " + std::to_string(n) +
                             " elements are more than one MPI message holds");
  return static_cast<int>(n);
}
#endif
}  // namespace

bool built_with_mpi() {
#ifdef DAPA_HAVE_MPI
  return true;
#else
  return false;
#endif
}

void init(int* argc, char*** argv) {
  // Started by a launcher: Open MPI's mpirun, or a PMI/PMIx one (MPICH, Slurm).
  const bool launched =
      std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
  if (*argc > 0) {
    g_program = (*argv)[0];
    g_program = g_program.substr(g_program.find_last_of('/') + 1);
  }
  if (!launched) return;
#ifdef DAPA_HAVE_MPI
  MPI_Init(argc, argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
  g_mpi = true;
#else
  (void)argc, (void)argv;
  if (env_int("OMPI_COMM_WORLD_SIZE", 1) > 1 || env_int("PMI_SIZE", 1) > 1) {
    std::fprintf(stderr,
                 "started by an MPI launcher, but this build has no MPI (install libopenmpi-dev "
                 "and rebuild: the DAPA_MPI option); every process would train alone\n");
    std::exit(2);
  }
#endif
}

void finalize() {
#ifdef DAPA_HAVE_MPI
  if (g_mpi) MPI_Finalize();
  g_mpi = false;
#endif
}

int rank() {
  return g_rank;
}
int size() {
  return g_size;
}
int local_size() {
  return g_local_size;
}
void set_timeout(double seconds) {
  g_timeout = seconds;
}

std::vector<std::vector<char>> allgather(const std::vector<char>& mine, const char* what) {
  if (g_size == 1) return {mine};
  std::vector<std::vector<char>> all(g_size);
#ifndef DAPA_HAVE_MPI
  (void)what;
#else
  int64_t my_size = static_cast<int64_t>(mine.size());
  std::vector<int64_t> sizes(g_size);
  MPI_Request request;
  MPI_Iallgather(&my_size, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, MPI_COMM_WORLD, &request);
  wait(request, what);
  std::vector<int> counts(g_size), offsets(g_size);
  int64_t total = 0;
  for (int r = 0; r < g_size; ++r) {
    offsets[r] = checked_count(total, what);
    counts[r] = checked_count(sizes[r], what);
    total += sizes[r];
  }
  std::vector<char> flat(static_cast<size_t>(checked_count(total, what)));
  MPI_Iallgatherv(mine.data(), counts[g_rank], MPI_BYTE, flat.data(), counts.data(), offsets.data(),
                  MPI_BYTE, MPI_COMM_WORLD, &request);
  wait(request, what);
  for (int r = 0; r < g_size; ++r)
    all[r].assign(flat.begin() + offsets[r], flat.begin() + offsets[r] + counts[r]);
#endif
  return all;
}

void allreduce_sum(float* data, int64_t n, const char* what) {
  if (g_size == 1) return;
#ifdef DAPA_HAVE_MPI
  MPI_Request request;
  MPI_Iallreduce(MPI_IN_PLACE, data, checked_count(n, what), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                 &request);
  wait(request, what);
#else
  (void)data, (void)n, (void)what;
#endif
}

void start_allgather(const float* mine, int64_t n, float* all, const char* what) {
  if (g_size == 1) {
    std::memcpy(all, mine, static_cast<size_t>(n) * sizeof(float));
    return;
  }
#ifdef DAPA_HAVE_MPI
  Started started{MPI_REQUEST_NULL, what};
  const int count = checked_count(n, what);
  checked_count(n * g_size, what);
  MPI_Iallgather(mine, count, MPI_FLOAT, all, count, MPI_FLOAT, MPI_COMM_WORLD, &started.request);
  g_started.push_back(started);
#else
  (void)what;
#endif
}

void progress() {
#ifdef DAPA_HAVE_MPI
  for (Started& s : g_started) {
    int done = 0;
    if (s.request != MPI_REQUEST_NULL) MPI_Test(&s.request, &done, MPI_STATUS_IGNORE);
  }
#endif
}

void finish_exchanges() {
#ifdef DAPA_HAVE_MPI
  for (Started& s : g_started)
    if (s.request != MPI_REQUEST_NULL) wait(s.request, s.what);
  g_started.clear();
#endif
}

void broadcast(std::vector<char>& bytes, const char* what) {
  if (g_size == 1) return;
#ifdef DAPA_HAVE_MPI
  int64_t n = static_cast<int64_t>(bytes.size());
  MPI_Request request;
  MPI_Ibcast(&n, 1, MPI_INT64_T, 0, MPI_COMM_WORLD, &request);
  wait(request, what);
  bytes.resize(static_cast<size_t>(n));
  MPI_Ibcast(bytes.data(), checked_count(n, what), MPI_BYTE, 0, MPI_COMM_WORLD, &request);
  wait(request, what);
#else
  (void)bytes, (void)what;
#endif
}

void abort(int code) {
  std::fflush(nullptr);
#ifdef DAPA_HAVE_MPI
  if (g_mpi && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

void agree(const std::function<void()>& f) {
  std::string message;
  try {
    f();
  } catch (const std::bad_alloc&) {
    message = "out of memory (try a smaller --batch)";
  } catch (const std::exception& e) {
    message = e.what();
    if (message.empty()) message = "failed";
  }
  if (g_size == 1) {
    if (!message.empty()) throw AgreedError(message);
    return;
  }
  std::vector<char> mine(message.begin(), message.end());
  std::vector<std::vector<char>> all = allgather(mine, "whether every rank is ready");
  for (int r = 0; r < g_size; ++r)
    if (!all[r].empty())
      throw AgreedError((r == 0 ? "" : "rank " + std::to_string(r) + ": ") +
                        std::string(all[r].begin(), all[r].end()));
}

}  // namespace dapa::comm
