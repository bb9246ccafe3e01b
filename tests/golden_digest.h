// Bit-exact golden outputs across machines: a test feeds the bytes of what it computed
// into a GoldenDigest section by section (64-bit FNV-1a each) and compares the lines with
// a committed file written on x86-64. The same test runs under qemu for other CPUs
// (armhf, aarch64; x86-64 without AVX-512 or AVX2), on the same file. DAPA_WRITE_GOLDEN=1
// rewrites the file instead (only when the arithmetic changes on purpose).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "test_util.h"

namespace dapa::test {

class GoldenDigest {
 public:
  void put(const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) hash_ = (hash_ ^ static_cast<const uint8_t*>(p)[i]) * kPrime;
    bytes_ += n;
  }
  // Ends a section: one line "name bytes hash".
  void section(const std::string& name) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash_));
    lines_ += name + " " + std::to_string(bytes_) + " " + hex + "\n";
    hash_ = kOffset;
    bytes_ = 0;
  }
  const std::string& lines() const { return lines_; }

 private:
  static constexpr uint64_t kOffset = 1469598103934665603ull, kPrime = 1099511628211ull;
  uint64_t hash_ = kOffset;
  size_t bytes_ = 0;
  std::string lines_;
};

// Compares the digest lines with tests/golden/<file>, or rewrites it under DAPA_WRITE_GOLDEN.
inline void expect_golden_digest(const GoldenDigest& digest, const std::string& file) {
  std::string path = golden_path(file);
  if (std::getenv("DAPA_WRITE_GOLDEN")) {
    std::ofstream(path) << digest.lines();
    GTEST_SKIP() << "wrote " << path;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string golden((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(digest.lines(), golden);
}

}  // namespace dapa::test
