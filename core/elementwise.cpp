// Broadcasting elementwise kernels and reductions; see kernels.h.
#include <algorithm>

#include "core/fast_math.h"
#include "core/kernels.h"
#include "core/map_kernels.h"
#include "core/parallel.h"
#include "core/xview.h"

#include <xtensor/xbroadcast.hpp>

namespace dapa {

namespace {
constexpr int64_t kGrain = 1 << 15;  // elements per thread before threading pays

// Does `small` broadcast against `big` only by repeating it along leading axes
// (e.g. a bias (C) against (B, T, C))? Then the result is big.numel()/small.numel()
// rows of small.numel() elements each.
bool is_trailing_block(const Shape& small, const Shape& big) {
  size_t lead = 0;
  while (lead < small.size() && small[lead] == 1) ++lead;
  size_t n = small.size() - lead;
  if (n > big.size()) return false;
  return std::equal(small.begin() + lead, small.end(), big.end() - n);
}

// One broadcasting binary kernel for all three ops: `f` works on Eigen arrays and on
// xtensor expressions alike.
template <class F>
Tensor binary(const Tensor& a, const Tensor& b, const char* op, F f) {
  Shape out_shape = broadcast_shape(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(out_shape);
  int64_t n = out.numel();
  if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
    const float *pa = a.data(), *pb = b.data();
    float* po = out.data();
    parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
      ConstArrayMap xa(pa + i0, i1 - i0), xb(pb + i0, i1 - i0);
      ArrayMap(po + i0, i1 - i0) = f(xa, xb);
    });
    return out;
  }
  bool a_full = a.shape() == out_shape && a.is_contiguous();
  bool b_full = b.shape() == out_shape && b.is_contiguous();
  if ((a_full && is_trailing_block(b.shape(), out_shape)) ||
      (b_full && is_trailing_block(a.shape(), out_shape))) {
    Tensor block = (a_full ? b : a).contiguous();
    const float* pfull = a_full ? a.data() : b.data();
    int64_t width = block.numel(), rows = width ? n / width : 0;
    ConstArrayMap xblock(block.data(), width);
    float* po = out.data();
    parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(width, 1)),
                 [&](int64_t r0, int64_t r1) {
                   for (int64_t r = r0; r < r1; ++r) {
                     ConstArrayMap xrow(pfull + r * width, width);
                     ArrayMap orow(po + r * width, width);
                     orow = a_full ? f(xrow, xblock) : f(xblock, xrow);
                   }
                 });
    return out;
  }
  auto xo = xview(out);
  xt::noalias(xo) = f(xview(a), xview(b));  // general broadcasting
  return out;
}
}  // namespace

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) shape_error(op, a, b, "shapes do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  return binary(a, b, "add", [](const auto& x, const auto& y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary(a, b, "sub", [](const auto& x, const auto& y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(a, b, "mul", [](const auto& x, const auto& y) { return x * y; });
}

Tensor scale(const Tensor& x, float s) {
  return map_flat(x, [s](auto in, auto out) { out = in * s; });
}

DAPA_VECTOR_CLONES void accumulate(float* __restrict acc, const float* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}

DAPA_VECTOR_CLONES double sum_of_squares(const float* x, int64_t n) {
  double lanes[8] = {};
  const int64_t whole = n - n % 8;
  for (int64_t i = 0; i < whole; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += static_cast<double>(x[i + l]) * x[i + l];
  for (int64_t i = whole; i < n; ++i) lanes[i - whole] += static_cast<double>(x[i]) * x[i];
  return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) +
         ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
}

DAPA_VECTOR_CLONES void add_bias_rows(float* __restrict y, const float* __restrict bias,
                                      const float* __restrict residual, int64_t rows, int64_t n) {
  if (!residual) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < n; ++i) y[r * n + i] += bias[i];
    return;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) y[r * n + i] = (y[r * n + i] + bias[i]) + residual[r * n + i];
}

DAPA_VECTOR_CLONES void accumulate_rows(float* __restrict acc, const float* __restrict x,
                                        int64_t ld, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) acc[i] += x[r * ld + i];
}

void add_inplace(Tensor& acc, const Tensor& x) {
  if (acc.shape() != x.shape()) shape_error("add_inplace", acc.shape(), x.shape(), "shapes differ");
  Tensor xc = x.contiguous();
  float* pa = acc.array().data();
  const float* px = xc.data();
  parallel_for(acc.numel(), kGrain,
               [&](int64_t i0, int64_t i1) { accumulate(pa + i0, px + i0, i1 - i0); });
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (broadcast_shape(x.shape(), shape, "broadcast_to") != shape)
    shape_error("broadcast_to", x.shape(), shape, "input does not broadcast to the target");
  Tensor out = Tensor::empty(shape);
  auto xo = xview(out);
  xt::noalias(xo) = xt::broadcast(xview(x), std::vector<size_t>(shape.begin(), shape.end()));
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x.contiguous();
  if (broadcast_shape(shape, x.shape(), "sum_to") != x.shape())
    shape_error("sum_to", x.shape(), shape, "target does not broadcast to the input");
  Tensor xc = x.contiguous();
  Tensor out = Tensor::zeros(shape);
  if (is_trailing_block(shape, x.shape())) {  // reduce leading axes: column sums
    // Fixed blocks of rows summed on their own, then added in block order: threaded,
    // and the same result for any thread count.
    int64_t width = out.numel(), rows = width ? xc.numel() / width : 0;
    const int64_t block = 256;
    int64_t nblocks = (rows + block - 1) / block;
    Eigen::ArrayXXf partial = Eigen::ArrayXXf::Zero(width, nblocks);  // a column per block
    const float* px = xc.data();
    parallel_for(nblocks, std::max<int64_t>(1, kGrain / (block * std::max<int64_t>(width, 1))),
                 [&](int64_t b0, int64_t b1) {
                   for (int64_t b = b0; b < b1; ++b)
                     accumulate_rows(partial.col(b).data(), px + b * block * width, width,
                                     std::min(rows, (b + 1) * block) - b * block, width);
                 });
    for (int64_t b = 0; b < nblocks; ++b) accumulate(out.data(), partial.col(b).data(), width);
    return out;
  }
  // General case: walk x and accumulate into out through zero strides on reduced axes.
  int nd = xc.ndim();
  size_t lead = nd - shape.size();
  Shape ostride(nd, 0), ostr = contiguous_strides(shape);
  for (size_t i = 0; i < shape.size(); ++i) ostride[lead + i] = shape[i] == 1 ? 0 : ostr[i];
  std::vector<int64_t> idx(nd, 0);
  const float* px = xc.data();
  float* po = out.data();
  int64_t off = 0;
  for (int64_t i = 0; i < xc.numel(); ++i) {
    po[off] += px[i];
    for (int d = nd - 1; d >= 0; --d) {  // odometer increment
      off += ostride[d];
      if (++idx[d] < xc.shape()[d]) break;
      off -= ostride[d] * idx[d];
      idx[d] = 0;
    }
  }
  return out;
}

Tensor sum(const Tensor& x, int axis, bool keepdim) {
  int a = x.normalize_axis(axis, "sum");
  Tensor xc = x.contiguous();
  int64_t outer = 1, inner = 1, n = x.shape()[a];
  for (int i = 0; i < a; ++i) outer *= x.shape()[i];
  for (int i = a + 1; i < x.ndim(); ++i) inner *= x.shape()[i];
  Shape out_shape = x.shape();
  if (keepdim)
    out_shape[a] = 1;
  else
    out_shape.erase(out_shape.begin() + a);
  Tensor out = Tensor::zeros(out_shape);
  const float* px = xc.data();
  float* po = out.data();
  parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(n * inner, 1)),
               [&](int64_t o0, int64_t o1) {
                 for (int64_t o = o0; o < o1; ++o) {
                   ArrayMap acc(po + o * inner, inner);
                   for (int64_t j = 0; j < n; ++j)
                     acc += ConstArrayMap(px + (o * n + j) * inner, inner);
                 }
               });
  return out;
}

Tensor mean(const Tensor& x, int axis, bool keepdim) {
  int64_t n = x.shape()[x.normalize_axis(axis, "mean")];
  Tensor s = sum(x, axis, keepdim);
  if (n > 0) s.array() *= 1.0f / static_cast<float>(n);
  return s;
}

double sum_all(const Tensor& x) {
  Tensor xc = x.contiguous();
  return xc.array().cast<double>().sum();
}

}  // namespace dapa
