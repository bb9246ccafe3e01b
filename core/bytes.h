// Plain values to bytes and back, for messages between processes (data-parallel
// training) and other in-memory records: a writer appending to a byte vector and a
// reader that refuses to run past the end. Same-machine-type peers only: values are
// copied in host byte order.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace dapa {

class ByteWriter {
 public:
  template <typename T>
  void put(const T& value) {
    const char* p = reinterpret_cast<const char*>(&value);
    bytes.insert(bytes.end(), p, p + sizeof value);
  }
  void put_raw(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    bytes.insert(bytes.end(), p, p + size);
  }
  // A length (int64) and the bytes.
  void put_bytes(const std::vector<char>& b) {
    put(static_cast<int64_t>(b.size()));
    put_raw(b.data(), b.size());
  }
  std::vector<char> bytes;
};

class ByteReader {
 public:
  // `what` names the record in errors ("a rank's part").
  ByteReader(const char* data, size_t size, std::string what)
      : p_(data), end_(data + size), what_(std::move(what)) {}
  explicit ByteReader(const std::vector<char>& b, std::string what)
      : ByteReader(b.data(), b.size(), std::move(what)) {}
  template <typename T>
  T get() {
    T value;
    std::memcpy(&value, need(sizeof value), sizeof value);
    return value;
  }
  // The next `size` bytes, in place.
  const char* need(size_t size) {
    if (static_cast<size_t>(end_ - p_) < size)
      throw std::invalid_argument(what_ + ": the bytes end early");
    const char* at = p_;
    p_ += size;
    return at;
  }
  std::vector<char> get_bytes() {
    auto size = get<int64_t>();
    if (size < 0) throw std::invalid_argument(what_ + ": a negative length");
    const char* at = need(static_cast<size_t>(size));
    return {at, at + size};
  }
  bool done() const { return p_ == end_; }

 private:
  const char *p_, *end_;
  std::string what_;
};

}  // namespace dapa
