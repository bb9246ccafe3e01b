// Fuzzing helpers: the input as an in-memory file (memfd) that the readers open by path
// like any other file, so each harness drives the real entry point, and the rule every
// harness applies: a clean error (a std::exception from our readers) is the expected
// outcome for bad input; anything else (a crash, a sanitizer report, a leak, an exception
// of another type) is a finding.
#pragma once

#include <H5Fpublic.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace dapa::fuzz {

class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) : fd_(::memfd_create("fuzz-input", MFD_CLOEXEC)) {
    if (fd_ < 0) throw std::logic_error("memfd_create failed");
    for (size_t done = 0; done < size;) {
      ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) throw std::logic_error("memfd write failed");
      done += static_cast<size_t>(n);
    }
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

// After each input, every HDF5 object our readers opened must be closed again: the count
// of open HDF5 identifiers returns to what it was before the first input (the HDF5 C++
// library holds some of its own for good).
class OpenObjectCheck {
 public:
  OpenObjectCheck() {
    static const ssize_t first = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    baseline_ = first;
  }
  ~OpenObjectCheck() {
    ssize_t now = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (now != baseline_) {
      std::fprintf(stderr, "fuzz: %zd HDF5 objects left open (baseline %zd)\n", now, baseline_);
      std::abort();
    }
  }

 private:
  ssize_t baseline_;
};

// Runs `body`; our readers' errors (std::runtime_error, std::invalid_argument, ...) are
// the expected result of bad input and are swallowed.
template <class F>
void expect_clean(F&& body) {
  try {
    body();
  } catch (const std::exception&) {
  }
}

}  // namespace dapa::fuzz
