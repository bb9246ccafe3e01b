// HDF5 I/O for tensors, labels and attributes (HDF5 C++ API). Shared by checkpoints
// (nn/), DAPA tables (dapa/) and test fixtures. Every failure throws H5Error naming the
// file and the dataset, never a bare HDF5 stack dump.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace H5 {
class H5File;
}

namespace dapa {

struct H5Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class H5Store {
 public:
  enum class Mode { Read, Truncate };
  H5Store(const std::string& path, Mode mode);
  ~H5Store();
  H5Store(const H5Store&) = delete;
  H5Store& operator=(const H5Store&) = delete;

  const std::string& path() const { return path_; }
  bool exists(const std::string& name) const;  // dataset or group, nested names allowed
  std::vector<std::string> children(const std::string& group) const;

  Tensor read_tensor(const std::string& name) const;  // float32 (converted from any numeric)
  Labels read_labels(const std::string& name) const;  // int32 (converted)
  std::vector<uint8_t> read_bytes(const std::string& name, Shape* shape) const;
  Shape dataset_shape(const std::string& name) const;
  // Rows (first-axis entries) `rows` of an unsigned-byte dataset, in that order, into
  // out (rows.size() x row size bytes): one read, for streaming batches from disk.
  void read_rows(const std::string& name, const std::vector<int64_t>& rows, uint8_t* out) const;

  void write_tensor(const std::string& name, const Tensor& t);
  void write_doubles(const std::string& name, const std::vector<double>& values);  // 1-D float64
  std::vector<double> read_doubles(const std::string& name) const;
  void write_labels(const std::string& name, const Labels& labels);
  void write_bytes(const std::string& name, const std::vector<uint8_t>& data, const Shape& shape);

  // Attributes on the root group or any object.
  void write_attr(const std::string& object, const std::string& key, const std::string& value);
  void write_attr(const std::string& object, const std::string& key, double value);
  void write_attr(const std::string& object, const std::string& key,
                  const std::vector<double>& values);
  std::string read_attr_string(const std::string& object, const std::string& key) const;
  double read_attr_double(const std::string& object, const std::string& key) const;
  std::vector<double> read_attr_doubles(const std::string& object, const std::string& key) const;
  bool has_attr(const std::string& object, const std::string& key) const;

 private:
  std::string path_;
  std::unique_ptr<H5::H5File> file_;
};

// Writes an HDF5 file atomically: `fill` writes into a temporary file beside `path`,
// which then replaces `path` by rename. On any error the temporary is removed and
// whatever was at `path` before stays intact.
void write_h5_atomically(const std::string& path, const std::function<void(H5Store&)>& fill);
// The same for a text file (JSON outputs).
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace dapa
