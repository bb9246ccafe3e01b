// Tensor storage, views and copies. See tensor.h.
#include "core/tensor.h"

#include "core/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <sstream>

namespace dapa {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

void shape_error(const std::string& op, const std::string& what) {
  throw ShapeError(op + ": " + what);
}

void shape_error(const std::string& op, const Shape& a, const Shape& b, const std::string& what) {
  throw ShapeError(op + ": " + what + " (got " + shape_str(a) + " and " + shape_str(b) + ")");
}

namespace {
constexpr size_t kAlign = 64;

std::shared_ptr<float> allocate(int64_t n) {
  // Round up so that the whole block is a multiple of the alignment (aligned_alloc rule)
  // and never zero bytes.
  size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float);
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  return std::shared_ptr<float>(static_cast<float*>(tensor_alloc(bytes)),
                                [bytes](float* q) { tensor_free(q, bytes); });
}

void check_shape(const Shape& shape, const char* op) {
  for (int64_t d : shape)
    if (d < 0) shape_error(op, "negative dimension in shape " + shape_str(shape));
}
}  // namespace

Tensor::Tensor(std::shared_ptr<float> storage, Shape shape, Shape strides, int64_t offset)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset) {}

Tensor Tensor::empty(const Shape& shape) {
  check_shape(shape, "Tensor::empty");
  return Tensor(allocate(shape_numel(shape)), shape, contiguous_strides(shape), 0);
}

Tensor Tensor::zeros(const Shape& shape) {
  return full(shape, 0.0f);
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  std::fill(t.data(), t.data() + t.numel(), value);
  return t;
}

Tensor Tensor::from(const std::vector<float>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    shape_error("Tensor::from",
                std::to_string(values.size()) + " values do not fill shape " + shape_str(shape));
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

int Tensor::normalize_axis(int axis, const char* op) const {
  int n = ndim();
  int a = axis < 0 ? axis + n : axis;
  if (a < 0 || a >= n)
    shape_error(op,
                "axis " + std::to_string(axis) + " out of range for shape " + shape_str(shape_));
  return a;
}

int64_t Tensor::size(int axis) const {
  return shape_[normalize_axis(axis, "Tensor::size")];
}

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != expect) return false;
    expect *= shape_[i];
  }
  return true;
}

int64_t Tensor::flat_index(std::initializer_list<int64_t> index) const {
  if (static_cast<int>(index.size()) != ndim())
    shape_error("Tensor::at", "index of rank " + std::to_string(index.size()) + " for shape " +
                                  shape_str(shape_));
  int64_t off = offset_;
  int i = 0;
  for (int64_t v : index) {
    if (v < 0 || v >= shape_[i])
      shape_error("Tensor::at", "index " + std::to_string(v) + " out of range on axis " +
                                    std::to_string(i) + " of shape " + shape_str(shape_));
    off += v * strides_[i++];
  }
  return off;
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  return storage_.get()[flat_index(index)];
}
float& Tensor::at(std::initializer_list<int64_t> index) {
  return storage_.get()[flat_index(index)];
}

float Tensor::item() const {
  if (numel() != 1) shape_error("Tensor::item", "needs one element, shape is " + shape_str(shape_));
  return *data();
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) shape_error("reshape", shape_, shape, "more than one -1");
      infer = static_cast<int>(i);
    } else if (out[i] < 0) {
      shape_error("reshape", shape_, shape, "negative dimension");
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel() % known != 0)
      shape_error("reshape", shape_, shape, "cannot infer the -1 dimension");
    out[infer] = numel() / known;
  }
  if (shape_numel(out) != numel()) shape_error("reshape", shape_, out, "element counts differ");
  Tensor base = is_contiguous() ? *this : contiguous();
  return Tensor(base.storage_, out, contiguous_strides(out), base.offset_);
}

Tensor Tensor::slice(int axis, int64_t start, int64_t end) const {
  int a = normalize_axis(axis, "slice");
  if (start < 0 || end > shape_[a] || start > end)
    shape_error("slice", "range [" + std::to_string(start) + ", " + std::to_string(end) +
                             ") invalid on axis " + std::to_string(axis) + " of shape " +
                             shape_str(shape_));
  Tensor t = *this;
  t.shape_[a] = end - start;
  t.offset_ += start * strides_[a];
  return t;
}

Tensor Tensor::transpose(int a, int b) const {
  std::vector<int> dims(ndim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[normalize_axis(a, "transpose")], dims[normalize_axis(b, "transpose")]);
  return permute(dims);
}

Tensor Tensor::permute(const std::vector<int>& dims) const {
  if (static_cast<int>(dims.size()) != ndim())
    shape_error("permute",
                "needs " + std::to_string(ndim()) + " dims for shape " + shape_str(shape_));
  std::vector<bool> seen(ndim(), false);
  Tensor t = *this;
  for (int i = 0; i < ndim(); ++i) {
    int d = normalize_axis(dims[i], "permute");
    if (seen[d]) shape_error("permute", "repeated axis " + std::to_string(dims[i]));
    seen[d] = true;
    t.shape_[i] = shape_[d];
    t.strides_[i] = strides_[d];
  }
  return t;
}

Tensor Tensor::squeeze(int axis) const {
  int a = normalize_axis(axis, "squeeze");
  if (shape_[a] != 1)
    shape_error("squeeze", "axis " + std::to_string(axis) + " has size " +
                               std::to_string(shape_[a]) + " in shape " + shape_str(shape_));
  Tensor t = *this;
  t.shape_.erase(t.shape_.begin() + a);
  t.strides_.erase(t.strides_.begin() + a);
  return t;
}

Tensor Tensor::unsqueeze(int axis) const {
  int n = ndim() + 1;
  int a = axis < 0 ? axis + n : axis;
  if (a < 0 || a >= n) shape_error("unsqueeze", "axis out of range for shape " + shape_str(shape_));
  Tensor t = *this;
  int64_t st = a < ndim() ? strides_[a] * shape_[a] : 1;
  t.shape_.insert(t.shape_.begin() + a, 1);
  t.strides_.insert(t.strides_.begin() + a, st);
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor t = empty(shape_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.shape_ != shape_) shape_error("copy_from", shape_, src.shape_, "shapes differ");
  if (is_contiguous() && src.is_contiguous()) {
    std::memcpy(data(), src.data(), sizeof(float) * numel());
    return;
  }
  // Strided copy: walk all axes but the last with an odometer, copy the last with
  // both strides (a transposed source has a non-unit inner stride).
  int nd = ndim();
  if (numel() == 0) return;
  if (nd == 0) {
    *data() = *src.data();
    return;
  }
  int64_t inner = shape_[nd - 1], ds = strides_[nd - 1], ss = src.strides_[nd - 1];
  int64_t rows = numel() / inner;
  std::vector<int64_t> idx(nd, 0);
  float* d = data();
  const float* s = src.data();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < inner; ++i) d[i * ds] = s[i * ss];
    for (int ax = nd - 2; ax >= 0; --ax) {
      d += strides_[ax];
      s += src.strides_[ax];
      if (++idx[ax] < shape_[ax]) break;
      d -= strides_[ax] * shape_[ax];
      s -= src.strides_[ax] * shape_[ax];
      idx[ax] = 0;
    }
  }
}

void Tensor::fill(float value) {
  if (is_contiguous()) {
    std::fill(data(), data() + numel(), value);
  } else {
    copy_from(full(shape_, value));
  }
}

std::vector<float> Tensor::to_vector() const {
  Tensor c = contiguous();
  return std::vector<float>(c.data(), c.data() + c.numel());
}

MatrixMap Tensor::matrix() {
  if (ndim() != 2 || !is_contiguous())
    shape_error("Tensor::matrix", "needs a contiguous 2-D tensor, got " + shape_str(shape_));
  return MatrixMap(data(), shape_[0], shape_[1]);
}

ConstMatrixMap Tensor::matrix() const {
  if (ndim() != 2 || !is_contiguous())
    shape_error("Tensor::matrix", "needs a contiguous 2-D tensor, got " + shape_str(shape_));
  return ConstMatrixMap(data(), shape_[0], shape_[1]);
}

ArrayMap Tensor::array() {
  if (!is_contiguous()) shape_error("Tensor::array", "needs a contiguous tensor");
  return ArrayMap(data(), numel());
}

ConstArrayMap Tensor::array() const {
  if (!is_contiguous()) shape_error("Tensor::array", "needs a contiguous tensor");
  return ConstArrayMap(data(), numel());
}

}  // namespace dapa
