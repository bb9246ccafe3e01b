// xtensor adaptors over a Tensor's storage: N-d strided views for expressions
// (broadcasting, strided copies). Kept out of tensor.h so that only the files
// that build xtensor expressions pay for its templates.
#pragma once

#include <xtensor/xadapt.hpp>
#include <xtensor/xnoalias.hpp>

#include "core/tensor.h"

namespace dapa {

// Span of storage elements a view touches, starting at its offset (strides are >= 0).
inline size_t view_extent(const Tensor& t) {
  size_t extent = 1;
  for (int i = 0; i < t.ndim(); ++i)
    if (t.shape()[i] > 0) extent += static_cast<size_t>((t.shape()[i] - 1) * t.strides()[i]);
  return extent;
}

template <class T>
auto xview_impl(T* data, const Tensor& t) {
  std::vector<size_t> shape(t.shape().begin(), t.shape().end());
  std::vector<std::ptrdiff_t> strides(t.strides().begin(), t.strides().end());
  return xt::adapt(data, view_extent(t), xt::no_ownership(), shape, strides);
}

inline auto xview(Tensor& t) {
  return xview_impl(t.data(), t);
}
inline auto xview(const Tensor& t) {
  return xview_impl(t.data(), t);
}

}  // namespace dapa
