// Tensor: float32, row-major, N-d, 64-byte aligned storage shared by views.
// Views (reshape of contiguous data, slice, transpose, permute) share storage and
// differ only in shape, strides and offset. Kernels want contiguous data: call
// contiguous(), which copies only when the layout needs it.
// xt() gives an xtensor adaptor (N-d expressions, broadcasting); matrix() an Eigen
// map of a contiguous 2-D tensor (compute kernels).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace dapa {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

// Thrown for every shape, index or argument error; the message names the
// operation and the shapes involved.
struct ShapeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
[[noreturn]] void shape_error(const std::string& op, const std::string& what);
[[noreturn]] void shape_error(const std::string& op, const Shape& a, const Shape& b,
                              const std::string& what);

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

class Tensor {
 public:
  Tensor() = default;  // undefined tensor: defined() is false

  static Tensor empty(const Shape& shape);
  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor ones(const Shape& shape) { return full(shape, 1.0f); }
  static Tensor from(const std::vector<float>& values, const Shape& shape);
  static Tensor scalar(float value) { return full({}, value); }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return shape_numel(shape_); }
  // Size of one axis; negative axes count from the end.
  int64_t size(int axis) const;
  int normalize_axis(int axis, const char* op) const;
  bool is_contiguous() const;
  bool same_storage(const Tensor& other) const { return storage_ == other.storage_; }
  // True when no other tensor (view or copy) shares this storage: safe to update in place.
  bool unique_storage() const { return storage_.use_count() == 1; }

  // Raw element pointer at the view's offset. Only meaningful for contiguous
  // tensors when used as a flat array.
  float* data() { return storage_.get() + offset_; }
  const float* data() const { return storage_.get() + offset_; }

  // Bounds-checked element access (tests, small bookkeeping; not for kernels).
  float at(std::initializer_list<int64_t> index) const;
  float& at(std::initializer_list<int64_t> index);
  float item() const;  // the single element of a one-element tensor

  // Views (share storage).
  Tensor reshape(const Shape& shape) const;  // one dim may be -1; copies if not contiguous
  Tensor slice(int axis, int64_t start, int64_t end) const;
  Tensor transpose(int a, int b) const;
  Tensor permute(const std::vector<int>& dims) const;
  Tensor squeeze(int axis) const;
  Tensor unsqueeze(int axis) const;

  // Copies.
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;
  void copy_from(const Tensor& src);  // same shape, any layouts
  void fill(float value);
  std::vector<float> to_vector() const;

  // Kernel views. matrix() needs a contiguous 2-D tensor; array() a contiguous one.
  MatrixMap matrix();
  ConstMatrixMap matrix() const;
  ArrayMap array();
  ConstArrayMap array() const;

 private:
  Tensor(std::shared_ptr<float> storage, Shape shape, Shape strides, int64_t offset);
  int64_t flat_index(std::initializer_list<int64_t> index) const;

  std::shared_ptr<float> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
};

// Integer class labels travel alongside tensors (cross-entropy targets).
using Labels = std::vector<int32_t>;

}  // namespace dapa
