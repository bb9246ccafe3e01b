// The tensor allocator (core/allocator.h): best fit among free blocks, splitting and
// merging, whole free segments given back, and a repeated allocation pattern (a training
// step) holding no more memory after its first round.
#include <gtest/gtest.h>

#include <vector>

#include "core/allocator.h"

namespace dapa {
namespace {

// Sizes in units of 128 KiB: well above the smallest cached block (64 KiB), and a step
// of the pattern test takes 132 MiB, which a 32-bit process (armhf) can spare.
constexpr size_t kUnit = size_t{128} << 10;

char* take(size_t bytes) {
  return static_cast<char*>(tensor_alloc(bytes));
}

// Bytes held from the system: in use and cached.
int64_t held() {
  AllocatorStats s = allocator_stats();
  return s.live_bytes + s.cached_bytes;
}

// Each test starts with no whole free segment cached, so that no block of another test
// is a better fit.
class SegmentAllocator : public ::testing::Test {
 protected:
  void SetUp() override { release_cached_memory(); }
  void TearDown() override { release_cached_memory(); }
};

TEST_F(SegmentAllocator, SplitsAFreeBlockAndMergesThePiecesBack) {
  const int64_t cached0 = allocator_stats().cached_bytes;
  char* a = take(40 * kUnit);
  tensor_free(a, 40 * kUnit);
  EXPECT_EQ(allocator_stats().cached_bytes, cached0 + static_cast<int64_t>(40 * kUnit));
  char* b = take(10 * kUnit);  // the front of the free block
  char* c = take(30 * kUnit);  // what was left of it
  EXPECT_EQ(b, a);
  EXPECT_EQ(c, a + 10 * kUnit);
  EXPECT_EQ(allocator_stats().cached_bytes, cached0);
  tensor_free(b, 10 * kUnit);
  tensor_free(c, 30 * kUnit);  // merges with b's block on its left
  char* d = take(40 * kUnit);  // so the whole run is one block again
  EXPECT_EQ(d, a);
  tensor_free(d, 40 * kUnit);
}

TEST_F(SegmentAllocator, TakesTheSmallestFreeBlockThatFits) {
  char* big = take(48 * kUnit);
  char* small = take(36 * kUnit);
  tensor_free(big, 48 * kUnit);
  tensor_free(small, 36 * kUnit);
  char* x = take(35 * kUnit);
  EXPECT_EQ(x, small);
  char* y = take(40 * kUnit);
  EXPECT_EQ(y, big);
  tensor_free(x, 35 * kUnit);
  tensor_free(y, 40 * kUnit);
}

TEST_F(SegmentAllocator, GivesBackOnlyWholeFreeSegments) {
  char* a = take(44 * kUnit);
  char* b = take(52 * kUnit);
  tensor_free(a, 44 * kUnit);
  char* part = take(20 * kUnit);  // a's segment stays partly in use
  ASSERT_EQ(part, a);
  tensor_free(b, 52 * kUnit);
  const int64_t before = held();
  release_cached_memory();
  EXPECT_EQ(held(), before - static_cast<int64_t>(52 * kUnit));
  tensor_free(part, 20 * kUnit);
}

// A step's pattern in miniature: activations saved through the forward, then a
// backward whose gradients have other sizes than the blocks it frees. After the first
// round every request is met from what the round before freed.
TEST_F(SegmentAllocator, ARepeatedStepHoldsNoMoreAfterItsFirstRound) {
  auto step = [] {
    std::vector<std::pair<char*, size_t>> saved;
    for (int layer = 0; layer < 4; ++layer)
      for (size_t mb : {33, 99, 132}) saved.push_back({take(mb * kUnit), mb * kUnit});
    for (int layer = 3; layer >= 0; --layer) {
      // A 132-unit activation goes; a 99-unit and a 33-unit gradient come in its place.
      auto [act, act_bytes] = saved[layer * 3 + 2];
      tensor_free(act, act_bytes);
      char* g1 = take(99 * kUnit);
      char* g2 = take(33 * kUnit);
      tensor_free(g1, 99 * kUnit);
      tensor_free(g2, 33 * kUnit);
      for (int i : {0, 1}) tensor_free(saved[layer * 3 + i].first, saved[layer * 3 + i].second);
    }
  };
  step();
  const int64_t after_first = held();
  EXPECT_EQ(after_first, allocator_stats().cached_bytes + allocator_stats().live_bytes);
  for (int round = 0; round < 3; ++round) {
    step();
    EXPECT_EQ(held(), after_first) << "round " << round + 2;
  }
  // The gradients fitted in the freed activations: nothing beyond the forward's
  // 4 x (33 + 99 + 132) units was ever taken from the system.
  EXPECT_LE(after_first - allocator_stats().live_bytes,
            static_cast<int64_t>(4 * 264 * kUnit) + (int64_t{1} << 20));
}

TEST_F(SegmentAllocator, SmallBlocksCountAsLive) {
  const int64_t live0 = allocator_stats().live_bytes;
  void* p = tensor_alloc(1000);
  EXPECT_GE(allocator_stats().live_bytes, live0 + 1000);
  tensor_free(p, 1000);
  EXPECT_EQ(allocator_stats().live_bytes, live0);
}

}  // namespace
}  // namespace dapa
