// Caching tensor allocator; see allocator.h.
#include "core/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace dapa {

namespace {
constexpr size_t kAlign = 64;
constexpr size_t kCacheMin = 64 * 1024;        // smaller blocks: malloc is fine
constexpr size_t kCacheMax = size_t{1} << 31;  // never hold more than 2 GiB unused

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // by exact size
  int64_t live = 0, peak = 0, cached = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed during exit
  return *c;
}
}  // namespace

void* tensor_alloc(size_t bytes) {
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.live += static_cast<int64_t>(bytes);
    if (c.live > c.peak) c.peak = c.live;
    if (bytes >= kCacheMin) {
      auto it = c.free_blocks.find(bytes);
      if (it != c.free_blocks.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        c.cached -= static_cast<int64_t>(bytes);
        return p;
      }
    }
  }
  void* p = std::aligned_alloc(kAlign, bytes);
  if (!p) {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.live -= static_cast<int64_t>(bytes);
    throw std::bad_alloc();
  }
  return p;
}

void tensor_free(void* p, size_t bytes) {
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.live -= static_cast<int64_t>(bytes);
    if (bytes >= kCacheMin && c.cached + bytes <= kCacheMax) {
      c.free_blocks[bytes].push_back(p);
      c.cached += static_cast<int64_t>(bytes);
      return;
    }
  }
  std::free(p);
}

void release_cached_memory() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [bytes, blocks] : c.free_blocks)
    for (void* p : blocks) std::free(p);
  c.free_blocks.clear();
  c.cached = 0;
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return {c.live, c.peak, c.cached};
}

}  // namespace dapa
