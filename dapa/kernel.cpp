// Fused DAPA kernel: the portable loops, the choice of instruction set, and the tensor
// entry points; see kernel.h. The vector loops are in kernel_x86.cpp.
#include "dapa/kernel.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/parallel.h"
#include "dapa/kernel_isa.h"

namespace dapa {

namespace isa {
namespace {
constexpr int64_t kChunk = 256;

// seg[i] = #{j : breakpoints[j] <= x[i]} for n <= kChunk elements, counted without
// branches (the compiler vectorises the inner loop).
void segments_of(const TableKernel& t, const float* x, int64_t n, int32_t* seg) {
  for (int64_t i = 0; i < n; ++i) seg[i] = 0;
  for (float b : t.breakpoints)
    for (int64_t i = 0; i < n; ++i) seg[i] += x[i] >= b ? 1 : 0;
}

void eval_portable(const TableKernel& t, const float* x, int64_t n, float* y, uint8_t* index,
                   float* d) {
  int32_t seg[kChunk];
  float clamped[kChunk];
  bool fitted = t.mode == DerivativeMode::Fitted;
  for (int64_t off = 0; off < n; off += kChunk) {
    int64_t m = std::min(kChunk, n - off);
    const float* xs = x + off;
    if (t.bounded) {
      for (int64_t i = 0; i < m; ++i) clamped[i] = std::clamp(xs[i], t.domain_lo, t.domain_hi);
      xs = clamped;
    }
    segments_of(t, xs, m, seg);
    // The value before the floor: with floor_at_zero, the derivative is 0 where it is not
    // positive (NaN included, as the vector loops' ordered compare).
    auto line = [&](int64_t i) { return t.slope[seg[i]] * xs[i] + t.intercept[seg[i]]; };
    auto floored = [&](int64_t i) { return t.floor_at_zero && !(line(i) > 0.0f); };
    if (y)
      for (int64_t i = 0; i < m; ++i) y[off + i] = floored(i) ? 0.0f : line(i);
    if (index)
      for (int64_t i = 0; i < m; ++i) index[off + i] = static_cast<uint8_t>(seg[i]);
    if (d)
      for (int64_t i = 0; i < m; ++i)
        d[off + i] = (t.bounded && xs[i] != x[off + i]) || floored(i)
                         ? 0.0f  // outside the domain, or floored
                     : fitted ? t.dslope[seg[i]] * xs[i] + t.dintercept[seg[i]]
                              : t.slope[seg[i]];
  }
}

void index_backward_portable(const TableKernel& t, const uint8_t* index, const float* g, int64_t n,
                             float* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = g[i] * t.slope[index[i]];
}
}  // namespace

Kernels portable() {
  return {"portable", 0, eval_portable, index_backward_portable};
}
}  // namespace isa

namespace {
constexpr int64_t kGrain = 1 << 15;

std::vector<isa::Kernels> available() {
  std::vector<isa::Kernels> k;
#ifdef DAPA_X86_KERNELS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) k.push_back(isa::avx512());
  if (__builtin_cpu_supports("avx2")) k.push_back(isa::avx2());
#endif
  k.push_back(isa::portable());
  return k;
}

isa::Kernels& chosen() {
  static isa::Kernels k = available().front();
  return k;
}

// The loops for this table: the chosen instruction set if its registers hold the table.
const isa::Kernels& kernels_for(const TableKernel& t) {
  static const isa::Kernels fallback = isa::portable();
  const isa::Kernels& k = chosen();
  return t.lut_size > 0 && t.lut_size <= k.max_lut ? k : fallback;
}
}  // namespace

std::string table_kernel_isa() {
  return chosen().name;
}

void set_table_kernel_isa(const std::string& name) {
  for (const isa::Kernels& k : available())
    if (name == k.name) {
      chosen() = k;
      return;
    }
  throw std::invalid_argument("table kernel: instruction set '" + name +
                              "' is unknown or not supported by this CPU");
}

TableKernel::TableKernel(const PiecewiseLinear& table, bool floor_at_zero)
    : mode(table.mode), floor_at_zero(floor_at_zero) {
  table.validate();
  if (table.segments() > 256)
    throw std::invalid_argument("the fused kernel takes at most 256 segments, got " +
                                std::to_string(table.segments()));
  breakpoints.assign(table.breakpoints.begin(), table.breakpoints.end());
  for (size_t i = 1; i < breakpoints.size(); ++i)
    if (!(breakpoints[i] > breakpoints[i - 1]))
      throw std::invalid_argument("breakpoints " + std::to_string(i - 1) + " and " +
                                  std::to_string(i) + " coincide in float32");
  slope.assign(table.slope.begin(), table.slope.end());
  intercept.assign(table.intercept.begin(), table.intercept.end());
  dslope.assign(table.dslope.begin(), table.dslope.end());
  dintercept.assign(table.dintercept.begin(), table.dintercept.end());
  bounded = table.bounded();
  domain_lo = static_cast<float>(table.domain_lo), domain_hi = static_cast<float>(table.domain_hi);
  int n = table.segments();
  lut_size = n <= 16 ? 16 : n <= 32 ? 32 : 0;
  for (int j = 0; j < 32; ++j) {
    int k = std::min(j, n - 1);
    lut_b[j] = j < n - 1 ? breakpoints[j] : NAN;
    lut_slope[j] = slope[k], lut_intercept[j] = intercept[k];
    lut_dslope[j] = dslope[k], lut_dintercept[j] = dintercept[k];
  }
}

namespace {
// body(i0, i1) over [0, n), threaded, split only at multiples of kBlock: the vector loops
// handle a run's last few elements apart from the rest, so a split that moved with the
// thread count would change which elements take which path, and the last bits with it.
template <class F>
void blocked(int64_t n, F&& body) {
  constexpr int64_t kBlock = 1024;
  parallel_for((n + kBlock - 1) / kBlock, kGrain / kBlock,
               [&](int64_t b0, int64_t b1) { body(b0 * kBlock, std::min(n, b1 * kBlock)); });
}

// The table on one run of n elements, in this thread.
void eval_run(const TableKernel& t, const float* x, int64_t n, float* y, uint8_t* index, float* d) {
  kernels_for(t).eval(t, x, n, y, index, d);
}

// Runs the table over contiguous x, threaded, into whichever of y (values), index
// (segments) and d (derivatives) are given.
void evaluate(const TableKernel& t, const Tensor& x, float* y, uint8_t* index, float* d) {
  const float* px = x.data();
  blocked(x.numel(), [&](int64_t i0, int64_t i1) {
    eval_run(t, px + i0, i1 - i0, y ? y + i0 : nullptr, index ? index + i0 : nullptr,
             d ? d + i0 : nullptr);
  });
}
}  // namespace

void run_rows(const TableKernel& t, const float* x, float* y, float* dy, int64_t n) {
  eval_run(t, x, n, y, nullptr, dy);
}

Tensor table_forward(const TableKernel& t, const Tensor& x_in, std::vector<uint8_t>* index) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  if (index) index->resize(x.numel());
  evaluate(t, x, y.data(), index ? index->data() : nullptr, nullptr);
  return y;
}

Tensor table_backward_from_index(const TableKernel& t, const std::vector<uint8_t>& index,
                                 const Tensor& gy_in) {
  if (t.bounded || t.floor_at_zero)
    throw std::invalid_argument(
        "table_backward_from_index: the derivative of a bounded or floored table also "
        "depends on whether x was inside the domain or the value above 0; use table_backward");
  Tensor gy = gy_in.contiguous();
  if (static_cast<int64_t>(index.size()) != gy.numel())
    shape_error("table_backward_from_index", "index holds " + std::to_string(index.size()) +
                                                 " entries for a gradient of " +
                                                 std::to_string(gy.numel()));
  Tensor gx = Tensor::empty(gy.shape());
  const float* pg = gy.data();
  float* px = gx.data();
  const isa::Kernels& k = kernels_for(t);
  blocked(gy.numel(), [&](int64_t i0, int64_t i1) {
    k.index_backward(t, index.data() + i0, pg + i0, i1 - i0, px + i0);
  });
  return gx;
}

ValueAndDerivative table_value_and_derivative(const TableKernel& t, const Tensor& x_in) {
  Tensor x = x_in.contiguous();
  ValueAndDerivative r{Tensor::empty(x.shape()), Tensor::empty(x.shape())};
  evaluate(t, x, r.value.data(), nullptr, r.derivative.data());
  return r;
}

Tensor table_backward(const TableKernel& t, const Tensor& x_in, const Tensor& gy) {
  if (x_in.shape() != gy.shape()) shape_error("table_backward", x_in.shape(), gy.shape(), "differ");
  Tensor x = x_in.contiguous();
  Tensor d = Tensor::empty(x.shape());  // only the derivative: the values are not needed
  evaluate(t, x, nullptr, nullptr, d.data());
  return mul(gy, d);
}

}  // namespace dapa
