// HDF5 I/O for tensors, labels and attributes (HDF5 C++ API). Shared by checkpoints
// (nn/), DAPA tables (dapa/), data sets (data/) and test fixtures.
// - Every HDF5 call runs behind one error boundary: any failure, from a missing name to
//   a corrupt file, throws H5Error naming the file and what was being read or written.
// - Nothing from the file is trusted before it is checked: an attribute read as a scalar
//   must hold exactly one value of the right class; a dataset's declared size must be
//   backed by the bytes the file actually stores before memory is allocated for it.
// - Datasets are written chunked with HDF5's Fletcher-32 checksum filter (verified on
//   every read, so flipped bytes are reported, not used), in the 1.8+ file format whose
//   metadata carries checksums too. Files without checksums still load.
// - Files are written whole by our own checked write and fsync (HDF5 builds them in
//   memory): a write that fails (disk full, file-size limit) throws, and
//   write_h5_atomically leaves the previous file intact.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/tensor.h"

namespace H5 {
class Attribute;
class H5File;
class PredType;
}  // namespace H5

namespace dapa {

struct H5Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RowSource;  // h5.cpp

class H5Store {
 public:
  // Truncate builds the file in memory; close() writes it to `path` (write_h5_atomically
  // is the way to use it). A Truncate store destroyed without close() writes nothing.
  enum class Mode { Read, Truncate };
  H5Store(const std::string& path, Mode mode);
  // Opens an HDF5 file image held in memory (read only): fuzzing and tests. `name` is
  // what error messages call it.
  H5Store(const std::string& name, const void* image, size_t size);
  ~H5Store();
  H5Store(const H5Store&) = delete;
  H5Store& operator=(const H5Store&) = delete;

  const std::string& path() const { return path_; }
  // Closes the file; a Truncate store writes it out here, throwing H5Error or FileError
  // if any of that fails (disk full, file-size limit). Later calls do nothing.
  void close();
  bool exists(const std::string& name) const;  // dataset or group, nested names allowed
  std::vector<std::string> children(const std::string& group) const;

  Tensor read_tensor(const std::string& name) const;  // float32 (converted from any numeric)
  Labels read_labels(const std::string& name) const;  // int32 (converted)
  std::vector<uint8_t> read_bytes(const std::string& name, Shape* shape) const;
  Shape dataset_shape(const std::string& name) const;
  // The element type as numpy spells it ("uint8", "int32", "float32", ...), or "other".
  std::string dataset_type(const std::string& name) const;
  // Rows (first-axis entries) `rows` of an unsigned-byte dataset, in that order, into
  // out (rows.size() x row size bytes), for streaming batches from disk. The dataset is
  // opened and checked on the first call for its name and kept open for the next ones.
  void read_rows(const std::string& name, const std::vector<int64_t>& rows, uint8_t* out) const;

  void write_tensor(const std::string& name, const Tensor& t);
  void write_doubles(const std::string& name, const std::vector<double>& values);  // 1-D float64
  std::vector<double> read_doubles(const std::string& name) const;
  void write_labels(const std::string& name, const Labels& labels);
  void write_u16(const std::string& name, const std::vector<uint16_t>& values);  // 1-D uint16
  void write_bytes(const std::string& name, const std::vector<uint8_t>& data, const Shape& shape);

  // Attributes on the root group or any object.
  void write_attr(const std::string& object, const std::string& key, const std::string& value);
  void write_attr(const std::string& object, const std::string& key, double value);
  void write_attr(const std::string& object, const std::string& key,
                  const std::vector<double>& values);
  std::string read_attr_string(const std::string& object, const std::string& key) const;
  double read_attr_double(const std::string& object, const std::string& key) const;
  // A whole number in [min, max] (a NaN, fraction or out-of-range value is an error).
  int64_t read_attr_int(const std::string& object, const std::string& key, int64_t min,
                        int64_t max) const;
  std::vector<double> read_attr_doubles(const std::string& object, const std::string& key) const;
  bool has_attr(const std::string& object, const std::string& key) const;

 private:
  void write_dataset(const std::string& name, const H5::PredType& file_type,
                     const H5::PredType& mem_type, const void* data, const Shape& shape);
  void write_attr(const std::string& object, const std::string& key, int64_t type, const void* data,
                  const Shape& shape);
  std::vector<double> read_attr_doubles(const std::string& object, const std::string& key,
                                        int64_t min_values, int64_t max_values) const;
  H5::Attribute attribute(const std::string& object, const std::string& key) const;

  std::string path_;
  std::unique_ptr<H5::H5File> file_;
  bool writing_ = false;
  // read_rows's open datasets by name (checked once; closed before the file).
  mutable std::map<std::string, std::unique_ptr<RowSource>> row_sources_;
};

// Writes an HDF5 file atomically (core/atomic_file.h): `fill` writes into a temporary
// file beside `path`, which is closed (checked), synced and then renamed over `path`. On
// any error the temporary is removed and whatever was at `path` before stays intact.
void write_h5_atomically(const std::string& path, const std::function<void(H5Store&)>& fill);

}  // namespace dapa
