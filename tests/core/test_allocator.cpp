// The tensor allocator (core/allocator.h): best fit among free blocks, splitting and
// merging, whole free segments given back, and a repeated allocation pattern (a training
// step) holding no more memory after its first round.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/allocator.h"

namespace dapa {
namespace {

// Sizes in units of 2 MiB, a huge page (segments of a unit or more start on one). A step
// of the pattern test takes 64 MiB, which a 32-bit process (armhf) can spare.
constexpr size_t kUnit = size_t{2} << 20;

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
  char* a = take(4 * kUnit);
  tensor_free(a, 4 * kUnit);
  EXPECT_EQ(allocator_stats().cached_bytes, cached0 + static_cast<int64_t>(4 * kUnit));
  char* b = take(kUnit);      // the front of the free block
  char* c = take(3 * kUnit);  // what was left of it
  EXPECT_EQ(b, a);
  EXPECT_EQ(c, a + kUnit);
  EXPECT_EQ(allocator_stats().cached_bytes, cached0);
  tensor_free(b, kUnit);
  tensor_free(c, 3 * kUnit);  // merges with b's block on its left
  char* d = take(4 * kUnit);  // so the whole run is one block again
  EXPECT_EQ(d, a);
  tensor_free(d, 4 * kUnit);
}

TEST_F(SegmentAllocator, TakesTheSmallestFreeBlockThatFits) {
  char* big = take(6 * kUnit);
  char* small = take(4 * kUnit);
  tensor_free(big, 6 * kUnit);
  tensor_free(small, 4 * kUnit);
  char* x = take(3 * kUnit);
  EXPECT_EQ(x, small);
  char* y = take(5 * kUnit);
  EXPECT_EQ(y, big);
  tensor_free(x, 3 * kUnit);
  tensor_free(y, 5 * kUnit);
}

TEST_F(SegmentAllocator, GivesBackOnlyWholeFreeSegments) {
  char* a = take(4 * kUnit);
  char* b = take(5 * kUnit);
  tensor_free(a, 4 * kUnit);
  char* part = take(2 * kUnit);  // a's segment stays partly in use
  ASSERT_EQ(part, a);
  tensor_free(b, 5 * kUnit);
  const int64_t before = held();
  release_cached_memory();
  EXPECT_EQ(held(), before - static_cast<int64_t>(5 * kUnit));
  tensor_free(part, 2 * kUnit);
}

// A step's pattern in miniature: activations saved through the forward, then a
// backward whose gradients have other sizes than the blocks it frees. After the first
// round every request is met from what the round before freed.
TEST_F(SegmentAllocator, ARepeatedStepHoldsNoMoreAfterItsFirstRound) {
  auto step = [] {
    std::vector<std::pair<char*, size_t>> saved;
    for (int layer = 0; layer < 4; ++layer)
      for (size_t units : {1, 3, 4}) saved.push_back({take(units * kUnit), units * kUnit});
    for (int layer = 3; layer >= 0; --layer) {
      // A 4-unit activation goes; a 3-unit and a 1-unit gradient come in its place.
      auto [act, act_bytes] = saved[layer * 3 + 2];
      tensor_free(act, act_bytes);
      char* g1 = take(3 * kUnit);
      char* g2 = take(kUnit);
      tensor_free(g1, 3 * kUnit);
      tensor_free(g2, kUnit);
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
  // 4 x (1 + 3 + 4) units was ever taken from the system.
  EXPECT_LE(after_first - allocator_stats().live_bytes, static_cast<int64_t>(4 * 8 * kUnit));
}

// A request of a huge page or more gets a segment of exactly its size, starting on a
// huge page (whose whole pages are madvised); nothing is left over to cache.
TEST_F(SegmentAllocator, HugeSegmentsStartOnAHugePageAndHoldTheRequestExactly) {
  const int64_t cached0 = allocator_stats().cached_bytes;
  char* a = take(kUnit + kUnit / 2);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % kUnit, 0u);
  EXPECT_EQ(allocator_stats().cached_bytes, cached0);
  tensor_free(a, kUnit + kUnit / 2);
  EXPECT_EQ(allocator_stats().cached_bytes, cached0 + static_cast<int64_t>(kUnit + kUnit / 2));
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
