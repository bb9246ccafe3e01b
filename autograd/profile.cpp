// The per-op profile; see profile.h.
#include "autograd/profile.h"

#include <chrono>
#include <cstring>

namespace dapa {

namespace {
bool on = false;
double mark = 0;
std::map<std::string, OpStats> stats;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Forward FLOPs of the products: 2 per multiply-add. A product's output (.., N) takes
// K = the first input's last extent per element (linear, activation_linear, norm_linear: x (.., K)
// and W (N, K); matmul and bmm: a (.., M, K) untransposed, which is how the models call
// them). Attention on qkv (B, T, 3C): scores and weighted values, 2 B T^2 C each (a
// causal head computes the full square too); attention_linear adds its product on the
// output (B, T, N), K = C.
double product_flops(const char* op, const std::vector<Shape>& in, const Shape& out) {
  if (in.empty() || in[0].empty()) return 0;
  for (const char* p : {"linear", "activation_linear", "norm_linear", "matmul", "bmm"})
    if (std::strcmp(op, p) == 0) return 2.0 * static_cast<double>(numel_of(out)) * in[0].back();
  const bool projected = std::strcmp(op, "attention_linear") == 0;
  if ((projected || std::strcmp(op, "attention") == 0) && in[0].size() == 3) {
    double B = in[0][0], T = in[0][1], C = in[0][2] / 3.0;
    return 4.0 * B * T * T * C + (projected ? 2.0 * static_cast<double>(numel_of(out)) * C : 0.0);
  }
  return 0;
}
// Elements a forward reads and writes: its inputs and its output, except for views
// (reshape: none) and slices (what they copy, read and written).
double traffic_elements(const char* op, const std::vector<Shape>& in, const Shape& out) {
  if (std::strcmp(op, "reshape") == 0) return 0;
  if (std::strcmp(op, "slice") == 0) return 2.0 * static_cast<double>(numel_of(out));
  double elements = static_cast<double>(numel_of(out));
  for (const Shape& shape : in) elements += static_cast<double>(numel_of(shape));
  return elements;
}
}  // namespace

void set_profiling(bool enable) {
  on = enable;
  mark = now();
}
bool profiling() {
  return on;
}
void profile_mark() {
  mark = now();
}
const std::map<std::string, OpStats>& op_profile() {
  return stats;
}
void reset_op_profile() {
  stats.clear();
  mark = now();
}

void profile_forward(const char* op, const std::vector<Shape>& inputs, const Shape& out) {
  const double t = now();
  OpStats& s = stats[op];
  s.forward_s += t - mark;
  s.calls += 1;
  s.forward_flops += product_flops(op, inputs, out);
  s.forward_bytes += 4.0 * traffic_elements(op, inputs, out);
  mark = now();  // the bookkeeping above is nobody's forward
}

void profile_backward(const char* op, double seconds) {
  stats[op].backward_s += seconds;
}

ProfileScope::ProfileScope(const char* name) : name_(name), start_(on ? now() : 0) {}
ProfileScope::~ProfileScope() {
  if (!on) return;
  const double t = now();
  OpStats& s = stats[name_];
  s.forward_s += t - start_;
  s.calls += 1;
  mark = t;
}

double profile_clock() {
  return now();
}

}  // namespace dapa
