// IDX files (the MNIST family's format), gzip-compressed or raw: a big-endian header
// (two zero bytes, a type byte, the number of dimensions, then each dimension as a
// 32-bit integer) followed by the data. We read unsigned-byte files (type 0x08).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dapa {

struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct IdxArray {
  Shape shape;                // e.g. (N, H, W) for images, (N) for labels
  std::vector<uint8_t> data;  // row-major
};

// Throws DataError naming the file and what was expected on: a missing or unreadable
// file, a wrong magic number or type, an absurd header, truncated data, trailing bytes.
IdxArray read_idx(const std::string& path);

// Writes an unsigned-byte IDX file, gzip-compressed when the name ends in ".gz" (tests,
// and users making their own data sets).
void write_idx(const std::string& path, const IdxArray& array);

}  // namespace dapa
