// Core-internal helpers for elementwise kernels: apply a chunk function over the flat,
// contiguous data of one or two tensors, threaded when the size pays for it. The chunk
// function gets Eigen maps, so it can use vectorised Eigen array expressions or plain
// loops over .data().
#pragma once

#include "core/kernels.h"
#include "core/parallel.h"

namespace dapa {

constexpr int64_t kElementwiseGrain = 1 << 15;  // elements per thread before threading pays

// Passes over data that left the caches long ago (a layer's activations saved in the
// forward, the residual stream and its gradient) ask for what they read about 2 KiB
// ahead: the hardware's prefetcher stops at every 4 KiB boundary, and GELU's passes
// waited on a quarter of their loads without this (docs/results.md).
constexpr int64_t kPrefetchAhead = 512;  // floats
// Asks for x[0, n) to be brought into cache, one request per 64-byte line.
inline void prefetch_floats(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) __builtin_prefetch(x + i);
}

// out = f(x) chunk by chunk: f(ConstArrayMap in, ArrayMap out).
template <class F>
Tensor map_flat(const Tensor& x, F f) {
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape());
  const float* px = xc.data();
  float* po = out.data();
  parallel_for(out.numel(), kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    f(ConstArrayMap(px + i0, i1 - i0), ArrayMap(po + i0, i1 - i0));
  });
  return out;
}

// gx = f(x, gy) for elementwise backward kernels: f(in, grad, out).
template <class F>
Tensor map_flat2(const Tensor& x, const Tensor& gy, const char* op, F f) {
  if (x.shape() != gy.shape()) shape_error(op, x.shape(), gy.shape(), "x and grad differ");
  Tensor xc = x.contiguous(), gc = gy.contiguous();
  Tensor out = Tensor::empty(x.shape());
  const float *px = xc.data(), *pg = gc.data();
  float* po = out.data();
  parallel_for(out.numel(), kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    f(ConstArrayMap(px + i0, i1 - i0), ConstArrayMap(pg + i0, i1 - i0), ArrayMap(po + i0, i1 - i0));
  });
  return out;
}

// f(x) and f'(x) together: f(in, value, derivative).
template <class F>
ValueAndDerivative map_value_and_derivative(const Tensor& x, F f) {
  Tensor xc = x.contiguous();
  ValueAndDerivative r{Tensor::empty(x.shape()), Tensor::empty(x.shape())};
  const float* px = xc.data();
  float *pv = r.value.data(), *pd = r.derivative.data();
  parallel_for(xc.numel(), kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    f(ConstArrayMap(px + i0, i1 - i0), ArrayMap(pv + i0, i1 - i0), ArrayMap(pd + i0, i1 - i0));
  });
  return r;
}

}  // namespace dapa
