// Tensor storage, views, copies and shape errors.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/tensor.h"

namespace dapa {
namespace {

Tensor iota(const Shape& s) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i);
  return t;
}

TEST(Tensor, StorageIs64ByteAligned) {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t = Tensor::empty({n});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u) << n;
  }
}

TEST(Tensor, RowMajorStridesAndAt) {
  Tensor t = iota({2, 3, 4});
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_FLOAT_EQ(t.at({1, 2, 3}), 23.0f);
  EXPECT_FLOAT_EQ(t.at({0, 1, 0}), 4.0f);
  EXPECT_TRUE(t.is_contiguous());
}

TEST(Tensor, ReshapeSharesStorageAndInfersDim) {
  Tensor t = iota({2, 3, 4});
  Tensor r = t.reshape({6, -1});
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_TRUE(r.same_storage(t));
  r.at({5, 3}) = -1.0f;
  EXPECT_FLOAT_EQ(t.at({1, 2, 3}), -1.0f);
}

TEST(Tensor, TransposeIsAViewAndContiguousCopies) {
  Tensor t = iota({2, 3});
  Tensor tt = t.transpose(0, 1);
  EXPECT_TRUE(tt.same_storage(t));
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_FLOAT_EQ(tt.at({2, 1}), t.at({1, 2}));
  Tensor c = tt.contiguous();
  EXPECT_FALSE(c.same_storage(t));
  EXPECT_EQ(c.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Tensor, SliceIsAViewWithOffset) {
  Tensor t = iota({4, 3});
  Tensor s = t.slice(0, 1, 3);
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_TRUE(s.same_storage(t));
  EXPECT_FLOAT_EQ(s.at({0, 0}), 3.0f);
  Tensor cols = t.slice(1, 1, 2);  // strided column view
  EXPECT_FALSE(cols.is_contiguous());
  EXPECT_EQ(cols.to_vector(), (std::vector<float>{1, 4, 7, 10}));
  cols.fill(0.0f);
  EXPECT_FLOAT_EQ(t.at({2, 1}), 0.0f);
  EXPECT_FLOAT_EQ(t.at({2, 2}), 8.0f);
}

TEST(Tensor, PermuteReorders4D) {
  Tensor t = iota({2, 3, 4, 5});
  Tensor p = t.permute({0, 2, 1, 3}).contiguous();
  EXPECT_EQ(p.shape(), (Shape{2, 4, 3, 5}));
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t d = 0; d < 5; ++d) ASSERT_EQ(p.at({a, b, c, d}), t.at({a, c, b, d}));
}

TEST(Tensor, ReshapeOfNonContiguousCopies) {
  Tensor t = iota({2, 3}).transpose(0, 1);
  Tensor r = t.reshape({6});
  EXPECT_EQ(r.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Tensor, SqueezeUnsqueeze) {
  Tensor t = iota({2, 3});
  EXPECT_EQ(t.unsqueeze(1).shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(t.unsqueeze(-1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(t.unsqueeze(0).squeeze(0).shape(), (Shape{2, 3}));
  EXPECT_THROW(t.squeeze(0), ShapeError);
}

TEST(Tensor, ErrorsNameTheOperationAndShapes) {
  Tensor t = iota({2, 3});
  try {
    t.reshape({4, 2});
    FAIL() << "reshape to the wrong size must throw";
  } catch (const ShapeError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("reshape"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(2, 3)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(4, 2)"), std::string::npos) << msg;
  }
  EXPECT_THROW(t.at({2, 0}), ShapeError);
  EXPECT_THROW(t.at({0}), ShapeError);
  EXPECT_THROW(t.slice(1, 2, 5), ShapeError);
  EXPECT_THROW(t.permute({0, 0}), ShapeError);
  EXPECT_THROW(t.reshape({-1, -1}), ShapeError);
  EXPECT_THROW(Tensor::empty({2, -3}), ShapeError);
  EXPECT_THROW(Tensor::from({1, 2, 3}, {2, 2}), ShapeError);
  EXPECT_THROW(t.transpose(0, 1).matrix(), ShapeError);
  EXPECT_THROW(t.item(), ShapeError);
}

TEST(Tensor, EigenMatrixMapSeesTheData) {
  Tensor t = iota({2, 3});
  auto m = t.matrix();
  EXPECT_FLOAT_EQ(m(1, 2), 5.0f);
  m(0, 1) = 42.0f;
  EXPECT_FLOAT_EQ(t.at({0, 1}), 42.0f);
}

// The peak resident set is this program's own: it grows past anything touched, and a
// program started by a larger process does not report that process's peak (Linux keeps
// getrusage's ru_maxrss across execve): this binary, started again from here after
// touching 256 MiB more than its peak so far, runs PeakOfAFreshProgram below, which
// writes its own peak to a file. Where the binary cannot be started again (qemu-user
// runs it: its execve of /proc/self/exe starts the emulator), no file appears, and the
// check is skipped.
TEST(Allocator, PeakResidentSetIsThisProgramsOwn) {
  const int64_t before = peak_rss_bytes();
  ASSERT_GT(before, 0);
  const int64_t touched = before + (int64_t{256} << 20);
  std::vector<char> big(static_cast<size_t>(touched), 1);
  EXPECT_GE(peak_rss_bytes(), touched - (int64_t{4} << 20)) << "bytes";
  const std::string out = ::testing::TempDir() + "/fresh_peak.txt";
  std::remove(out.c_str());
  std::string filter = "--gtest_filter=Allocator.PeakOfAFreshProgram";
  std::string flag = "DAPA_TEST_FRESH_PEAK=" + out;
  char* argv[] = {const_cast<char*>("/proc/self/exe"), filter.data(), nullptr};
  char* envp[] = {flag.data(), nullptr};
  pid_t child = 0;
  if (posix_spawn(&child, "/proc/self/exe", nullptr, nullptr, argv, envp) == 0) {
    int status = 0;
    waitpid(child, &status, 0);
  }
  int64_t fresh = -1;
  if (!(std::ifstream(out) >> fresh)) GTEST_SKIP() << "this binary cannot be started again here";
  EXPECT_LT(fresh, int64_t{200} << 20) << "bytes: the started program's own peak";
  EXPECT_EQ(big[big.size() / 2], 1);
}

TEST(Allocator, PeakOfAFreshProgram) {
  const char* out = std::getenv("DAPA_TEST_FRESH_PEAK");
  if (!out) GTEST_SKIP() << "run by PeakResidentSetIsThisProgramsOwn";
  std::ofstream(out) << peak_rss_bytes();
}

}  // namespace
}  // namespace dapa
