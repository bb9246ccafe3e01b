// Fused DAPA kernel; see kernel.h. The segment of x is the number of breakpoints at or
// below it, counted without branches over a chunk of elements at a time (vectorised
// compares), then each element gathers its line's coefficients.
#include "dapa/kernel.h"

#include <stdexcept>
#include <string>

#include "core/parallel.h"

namespace dapa {

namespace {
constexpr int64_t kChunk = 256;
constexpr int64_t kGrain = 1 << 15;

// seg[i] = #{j : breakpoints[j] <= x[i]} for n <= kChunk elements.
void segments_of(const TableKernel& t, const float* x, int64_t n, int32_t* seg) {
  for (int64_t i = 0; i < n; ++i) seg[i] = 0;
  for (float b : t.breakpoints)
    for (int64_t i = 0; i < n; ++i) seg[i] += x[i] >= b ? 1 : 0;
}

// Runs body(x_chunk, n, seg, offset) over the flat data in chunks, threaded.
template <class F>
void for_chunks(const TableKernel& t, const float* x, int64_t total, F body) {
  parallel_for((total + kChunk - 1) / kChunk, kGrain / kChunk, [&](int64_t c0, int64_t c1) {
    int32_t seg[kChunk];
    for (int64_t c = c0; c < c1; ++c) {
      int64_t off = c * kChunk, n = std::min(kChunk, total - off);
      segments_of(t, x + off, n, seg);
      body(n, seg, off);
    }
  });
}
}  // namespace

TableKernel::TableKernel(const PiecewiseLinear& table) : mode(table.mode) {
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
}

Tensor table_forward(const TableKernel& t, const Tensor& x_in, std::vector<uint8_t>* index) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  if (index) index->resize(x.numel());
  const float* px = x.data();
  float* py = y.data();
  for_chunks(t, px, x.numel(), [&](int64_t n, const int32_t* seg, int64_t off) {
    for (int64_t i = 0; i < n; ++i)
      py[off + i] = t.slope[seg[i]] * px[off + i] + t.intercept[seg[i]];
    if (index)
      for (int64_t i = 0; i < n; ++i) (*index)[off + i] = static_cast<uint8_t>(seg[i]);
  });
  return y;
}

Tensor table_backward_from_index(const TableKernel& t, const std::vector<uint8_t>& index,
                                 const Tensor& gy_in) {
  Tensor gy = gy_in.contiguous();
  if (static_cast<int64_t>(index.size()) != gy.numel())
    shape_error("table_backward_from_index", "index holds " + std::to_string(index.size()) +
                                                 " entries for a gradient of " +
                                                 std::to_string(gy.numel()));
  Tensor gx = Tensor::empty(gy.shape());
  const float* pg = gy.data();
  float* px = gx.data();
  parallel_for(gy.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) px[i] = pg[i] * t.slope[index[i]];
  });
  return gx;
}

ValueAndDerivative table_value_and_derivative(const TableKernel& t, const Tensor& x_in) {
  Tensor x = x_in.contiguous();
  ValueAndDerivative r{Tensor::empty(x.shape()), Tensor::empty(x.shape())};
  const float* px = x.data();
  float *pv = r.value.data(), *pd = r.derivative.data();
  bool fitted = t.mode == DerivativeMode::Fitted;
  for_chunks(t, px, x.numel(), [&](int64_t n, const int32_t* seg, int64_t off) {
    for (int64_t i = 0; i < n; ++i) {
      float v = px[off + i];
      int32_t k = seg[i];
      pv[off + i] = t.slope[k] * v + t.intercept[k];
      pd[off + i] = fitted ? t.dslope[k] * v + t.dintercept[k] : t.slope[k];
    }
  });
  return r;
}

Tensor table_backward(const TableKernel& t, const Tensor& x, const Tensor& gy) {
  if (x.shape() != gy.shape()) shape_error("table_backward", x.shape(), gy.shape(), "differ");
  return mul(gy, table_value_and_derivative(t, x).derivative);
}

}  // namespace dapa
