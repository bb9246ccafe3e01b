// Where a training step's time goes, op by op (--profile with --benchmark-steps). Off by
// default: then record() and backward() pay one branch each.
//
// An op's forward is computed before record() sees it, so the forward time charged to an
// op is the time since the previous mark: the previous op's record, the end of a backward
// pass, or a ProfileScope. That includes whatever glue ran in between (views, reshapes
// of the module code), which is where it belongs in a per-op account. Each node's
// backward is timed around its call and the accumulation of its gradients. Work outside
// the tape (loading a batch, the optimizer) is charged to named scopes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dapa {

struct OpStats {
  double forward_s = 0, backward_s = 0;
  int64_t calls = 0;
  // The forward's matrix-product FLOPs (linear, activation_linear, matmul, bmm,
  // attention; 0 for the rest) and the bytes it reads and writes (float32; reshape, a
  // view, none). The report takes a backward's products as twice the forward's.
  double forward_flops = 0, forward_bytes = 0;
};

void set_profiling(bool on);
bool profiling();
// Starts the clock for the next op's forward.
void profile_mark();
// The statistics since the last reset, by op or scope name.
const std::map<std::string, OpStats>& op_profile();
void reset_op_profile();

// Called by record() and backward() (autograd/tape.cpp) when profiling.
void profile_forward(const char* op, const std::vector<Shape>& inputs, const Shape& out);
void profile_backward(const char* op, double seconds);
double profile_clock();  // seconds on the steady clock

// Charges the time from construction to destruction to `name` (as a forward time).
class ProfileScope {
 public:
  explicit ProfileScope(const char* name);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  const char* name_;
  double start_;
};

}  // namespace dapa
