// IDX reader and writer on zlib (gzread passes raw files through unchanged).
#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace dapa {

namespace {
struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DataError(path + ": " + what);
}

[[noreturn]] void corrupt(gzFile f, const std::string& path, const char* what) {
  int err = 0;
  fail(path, std::string("corrupt compressed data while reading ") + what + " (" +
                 gzerror(f, &err) + ")");
}

// Reads exactly n bytes or reports how many were there. gzread reports a corrupt
// stream (bad deflate data, or a CRC or length mismatch at its end) as -1.
void read_exact(gzFile f, const std::string& path, void* dst, size_t n, const char* what) {
  auto* p = static_cast<uint8_t*>(dst);
  size_t got = 0;
  while (got < n) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
    int r = gzread(f, p + got, chunk);
    if (r < 0) corrupt(f, path, what);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  if (got != n)
    fail(path, std::string("truncated: ") + what + " needs " + std::to_string(n) +
                   " bytes, file has " + std::to_string(got));
}

// The data grows as it arrives, geometrically from 1 MiB (steps of at most 64 MiB), so
// a header that claims more than the file holds costs a "truncated" error and at most
// twice what the file really has (or 1 MiB), not what the header claims.
constexpr uint64_t kFirstStep = uint64_t{1} << 20, kMaxStep = uint64_t{1} << 26;
constexpr uint64_t kMaxBytes = uint64_t{1} << 34;

std::string hex_byte(uint8_t b) {
  char s[8];
  std::snprintf(s, sizeof s, "0x%02x", b);
  return s;
}
}  // namespace

IdxArray read_idx(const std::string& path) {
  GzHandle f(gzopen(path.c_str(), "rb"));
  if (!f) fail(path, "cannot open (missing or unreadable)");
  uint8_t magic[4];
  read_exact(f.get(), path, magic, 4, "the IDX header");
  if (magic[0] != 0 || magic[1] != 0)
    fail(path, "not an IDX file: magic number starts with " + hex_byte(magic[0]) + ", " +
                   hex_byte(magic[1]) + " (expected 0x00, 0x00)");
  if (magic[2] != 0x08)
    fail(path, "IDX data type " + hex_byte(magic[2]) +
                   " is not supported (expected 0x08, unsigned byte)");
  int ndim = magic[3];
  if (ndim < 1 || ndim > 4)
    fail(path, "IDX header claims " + std::to_string(ndim) + " dimensions (expected 1 to 4)");
  IdxArray a;
  uint64_t total = 1;
  for (int i = 0; i < ndim; ++i) {
    uint8_t b[4];
    read_exact(f.get(), path, b, 4, "the IDX dimensions");
    uint32_t d = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    total *= d;
    if (d == 0 || total > kMaxBytes)
      fail(path, "IDX dimension " + std::to_string(i) + " = " + std::to_string(d) +
                     " is zero or absurdly large");
    a.shape.push_back(d);
  }
  for (uint64_t done = 0; done < total;) {
    uint64_t step = std::min(total - done, std::clamp(done, kFirstStep, kMaxStep));
    a.data.resize(done + step);
    read_exact(f.get(), path, a.data.data() + done, step, "the IDX data");
    done += step;
  }
  uint8_t extra;
  int r = gzread(f.get(), &extra, 1);
  if (r < 0) corrupt(f.get(), path, "the end of the data");
  if (r > 0) fail(path, "trailing bytes after the IDX data");
  return a;
}

void write_idx(const std::string& path, const IdxArray& a) {
  bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  GzHandle f(gzopen(path.c_str(), gz ? "wb" : "wbT"));
  if (!f) fail(path, "cannot create");
  uint8_t header[4] = {0, 0, 0x08, static_cast<uint8_t>(a.shape.size())};
  bool ok = gzwrite(f.get(), header, 4) == 4;
  for (int64_t d : a.shape) {
    uint8_t b[4] = {static_cast<uint8_t>(d >> 24), static_cast<uint8_t>(d >> 16),
                    static_cast<uint8_t>(d >> 8), static_cast<uint8_t>(d)};
    ok = ok && gzwrite(f.get(), b, 4) == 4;
  }
  ok = ok &&
       (a.data.empty() || gzwrite(f.get(), a.data.data(), static_cast<unsigned>(a.data.size())) ==
                              static_cast<int>(a.data.size()));
  ok = gzclose(f.release()) == Z_OK && ok;  // the last block is written on close
  if (!ok) fail(path, "write failed");
}

}  // namespace dapa
