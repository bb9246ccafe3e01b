// Layout kernels: concat, split, permute; see kernels.h.
#include <cstring>
#include <string>

#include "core/kernels.h"

namespace dapa {

namespace {
// x viewed as (outer, shape[axis] * inner): concat/split move whole contiguous blocks.
int64_t outer_of(const Shape& s, int axis) {
  int64_t n = 1;
  for (int i = 0; i < axis; ++i) n *= s[i];
  return n;
}
int64_t inner_of(const Shape& s, int axis) {
  int64_t n = 1;
  for (size_t i = axis + 1; i < s.size(); ++i) n *= s[i];
  return n;
}
}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) shape_error("concat", "needs at least one tensor");
  int a = xs[0].normalize_axis(axis, "concat");
  Shape out_shape = xs[0].shape();
  out_shape[a] = 0;
  for (const Tensor& x : xs) {
    Shape s = x.shape(), ref = xs[0].shape();
    s[a] = ref[a] = 0;
    if (x.ndim() != xs[0].ndim() || s != ref)
      shape_error("concat", xs[0].shape(), x.shape(),
                  "shapes must match except on axis " + std::to_string(axis));
    out_shape[a] += x.shape()[a];
  }
  Tensor out = Tensor::empty(out_shape);
  int64_t outer = outer_of(out_shape, a), inner = inner_of(out_shape, a);
  int64_t out_row = out_shape[a] * inner, col = 0;
  for (const Tensor& x : xs) {
    Tensor xc = x.contiguous();
    int64_t block = x.shape()[a] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out.data() + o * out_row + col, xc.data() + o * block, sizeof(float) * block);
    col += block;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis) {
  int a = x.normalize_axis(axis, "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) shape_error("split", "negative size " + std::to_string(s));
    total += s;
  }
  if (total != x.shape()[a])
    shape_error("split", "sizes add up to " + std::to_string(total) + " but axis " +
                             std::to_string(axis) + " of " + shape_str(x.shape()) + " has " +
                             std::to_string(x.shape()[a]));
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(x.slice(a, start, start + s).contiguous());
    start += s;
  }
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  return x.permute(dims).clone();
}

std::vector<int> inverse_permutation(const std::vector<int>& dims) {
  std::vector<int> inv(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    int d = dims[i] < 0 ? dims[i] + static_cast<int>(dims.size()) : dims[i];
    inv[d] = static_cast<int>(i);
  }
  return inv;
}

}  // namespace dapa

namespace dapa {

// ---- embedding: a gather of rows, and its scatter-add ----
Tensor embedding(const Tensor& table_in, const Labels& ids, const Shape& ids_shape) {
  if (table_in.ndim() != 2)
    shape_error("embedding", "table must be (rows, C), got " + shape_str(table_in.shape()));
  if (shape_numel(ids_shape) != static_cast<int64_t>(ids.size()))
    shape_error("embedding",
                std::to_string(ids.size()) + " ids for an id shape of " + shape_str(ids_shape));
  Tensor table = table_in.contiguous();
  const int64_t rows = table.shape()[0], C = table.shape()[1];
  for (int32_t id : ids)
    if (id < 0 || id >= rows)
      shape_error("embedding",
                  "id " + std::to_string(id) + " outside [0, " + std::to_string(rows) + ")");
  Shape out_shape = ids_shape;
  out_shape.push_back(C);
  Tensor out = Tensor::empty(out_shape);  // out: (..., C)
  const float* src = table.data();
  float* dst = out.data();
  for (size_t i = 0; i < ids.size(); ++i)
    std::memcpy(dst + i * C, src + static_cast<int64_t>(ids[i]) * C, C * sizeof(float));
  return out;
}

Tensor embedding_backward(const Tensor& gout_in, const Labels& ids, int64_t rows) {
  const int64_t n = static_cast<int64_t>(ids.size());
  if (gout_in.ndim() < 1 || n == 0 || gout_in.numel() % n != 0)
    shape_error("embedding_backward",
                "gradient " + shape_str(gout_in.shape()) + " for " + std::to_string(n) + " ids");
  Tensor gout = gout_in.contiguous();
  const int64_t C = gout.numel() / n;
  Tensor g = Tensor::zeros({rows, C});  // g: (rows, C)
  // In index order, so that repeated ids sum the same way every time.
  for (int64_t i = 0; i < n; ++i)
    ArrayMap(g.data() + static_cast<int64_t>(ids[i]) * C, C) +=
        ConstArrayMap(gout.data() + i * C, C);
  return g;
}

}  // namespace dapa
