// The processes of a data-parallel run and the few collectives it needs, on MPI (Open
// MPI; the DAPA_MPI build option) when the program was started by mpirun, else a world
// of one process in which every collective returns at once. Every wait is bounded
// (set_timeout): a rank that died or hangs ends the job with a message rather than a
// hang. Collectives take a `what` ("the step's gradients") for that message.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dapa::comm {

// Starts MPI when built with it and launched by mpirun (or another MPI launcher);
// otherwise the world is this process alone. Call once, first thing in main().
void init(int* argc, char*** argv);
void finalize();  // at a normal exit of every rank
bool built_with_mpi();

int rank();
int size();
int local_size();  // ranks on this machine (threads per rank default to cores / this)

// The longest wait for the other ranks in any collective, in seconds (default 600).
void set_timeout(double seconds);

// Every rank's bytes, in rank order (sizes may differ between ranks).
std::vector<std::vector<char>> allgather(const std::vector<char>& mine, const char* what);
// data = the elementwise sum over ranks (MPI's reduction order: not reproducible).
void allreduce_sum(float* data, int64_t n, const char* what);
// Exchanges that overlap with computation. start_allgather begins gathering every
// rank's n floats into all (size() * n floats, rank r's from r n) and returns at once;
// progress() lets MPI move the started exchanges along (Open MPI moves non-blocking
// collectives only inside MPI calls); finish_exchanges() waits for all of them, bounded
// like every collective. Every rank must start the same exchanges in the same order, and
// mine and all must stay alive and untouched until finish_exchanges() returns.
void start_allgather(const float* mine, int64_t n, float* all, const char* what);
void progress();
void finish_exchanges();
// Rank 0's bytes on every rank.
void broadcast(std::vector<char>& bytes, const char* what);

// Ends every rank of the job after a failure on this one (MPI_Abort); exits plainly
// without MPI.
[[noreturn]] void abort(int code);

// An error every rank reports together, so the job can end normally: rank 0 prints it.
struct AgreedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Runs f on every rank, then makes the ranks agree: if f threw on any rank, every rank
// throws AgreedError with the first failing rank's message ("rank 1: ..." when that is
// not rank 0). A failure must not leave the other ranks waiting in a collective.
void agree(const std::function<void()>& f);

}  // namespace dapa::comm
