// Caching tensor allocator; see allocator.h.
#include "core/allocator.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

namespace {
// A "Key:   123 kB" line of a /proc file, in bytes; -1 when absent.
int64_t proc_kb_field(const char* file, const char* key) {
  FILE* f = std::fopen(file, "r");
  if (!f) return -1;
  char line[256];
  int64_t bytes = -1;
  size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, n) == 0 && line[n] == ':') {
      bytes = std::strtoll(line + n + 1, nullptr, 10) * 1024;
      break;
    }
  std::fclose(f);
  return bytes;
}
}  // namespace

int64_t available_memory_bytes() {
  int64_t avail = proc_kb_field("/proc/meminfo", "MemAvailable");
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    int64_t used = std::max<int64_t>(proc_kb_field("/proc/self/status", "VmSize"), 0);
    int64_t left = std::max<int64_t>(static_cast<int64_t>(lim.rlim_cur) - used, 0);
    avail = avail < 0 ? left : std::min(avail, left);
  }
  return avail;
}

int64_t peak_rss_bytes() {
  const int64_t hwm = proc_kb_field("/proc/self/status", "VmHWM");
  if (hwm >= 0) return hwm;
  struct rusage u {};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;
}

}  // namespace dapa
