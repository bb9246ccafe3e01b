// Caching tensor allocator; see allocator.h.
#include "core/allocator.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <set>
#include <unordered_map>
#include <vector>

namespace dapa {

namespace {
constexpr size_t kAlign = 64;
constexpr size_t kCacheMin = 64 * 1024;        // smaller blocks: malloc is fine
constexpr size_t kSplitMin = 64 * 1024;        // smaller leftovers stay with their block
constexpr size_t kCacheMax = size_t{1} << 31;  // never hold more than 2 GiB unused
// Segments of at least this size start on a 2 MiB boundary, and their whole 2 MiB pages
// are offered to the kernel for transparent huge pages (madvise; most systems enable
// them only on request; the tail stays in small pages, so no memory goes to rounding).
// A layer's activations (6.5 MB on vit-nano) then take 4 TLB entries instead of 1,600:
// passes over them no longer miss the TLB (a two-level walk under a hypervisor) every
// 4 KiB (docs/results.md).
constexpr size_t kHugePage = size_t{2} << 20;

// A run of one segment's bytes, in use or free; neighbours in address order, so that a
// freed block merges with free ones on either side.
struct Block {
  char* ptr;
  size_t size;
  bool free;
  Block *prev, *next;  // within the segment; null at its ends
};

struct Cache {
  std::mutex mutex;
  std::set<std::pair<size_t, char*>> free_blocks;  // by size, then address: best fit
  std::unordered_map<char*, Block*> blocks;        // every block, by its address
  int64_t live = 0, peak = 0, cached = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed during exit
  return *c;
}

size_t round_up(size_t bytes) {
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

void mark_free(Cache& c, Block* b) {
  b->free = true;
  c.free_blocks.emplace(b->size, b->ptr);
  c.cached += static_cast<int64_t>(b->size);
}

void unmark_free(Cache& c, Block* b) {
  b->free = false;
  c.free_blocks.erase({b->size, b->ptr});
  c.cached -= static_cast<int64_t>(b->size);
}

// b absorbs its successor, which is in no free list (the caller took it out).
void absorb_next(Cache& c, Block* b) {
  Block* n = b->next;
  b->size += n->size;
  b->next = n->next;
  if (n->next) n->next->prev = b;
  c.blocks.erase(n->ptr);
  delete n;
}

// The smallest free block of at least `bytes`, split when what is left over is worth a
// block of its own; null when none fits.
Block* take_cached(Cache& c, size_t bytes) {
  auto it = c.free_blocks.lower_bound({bytes, nullptr});
  if (it == c.free_blocks.end()) return nullptr;
  Block* b = c.blocks.at(it->second);
  unmark_free(c, b);
  if (b->size - bytes >= kSplitMin) {
    Block* rest = new Block{b->ptr + bytes, b->size - bytes, false, b, b->next};
    if (b->next) b->next->prev = rest;
    b->next = rest;
    b->size = bytes;
    c.blocks.emplace(rest->ptr, rest);
    mark_free(c, rest);
  }
  return b;
}

// Gives whole free segments back to the system.
void release_free_segments(Cache& c) {
  std::vector<Block*> whole;
  for (const auto& [size, ptr] : c.free_blocks) {
    Block* b = c.blocks.at(ptr);
    if (!b->prev && !b->next) whole.push_back(b);
  }
  for (Block* b : whole) {
    unmark_free(c, b);
    c.blocks.erase(b->ptr);
    std::free(b->ptr);
    delete b;
  }
}
}  // namespace

void* tensor_alloc(size_t bytes) {
  Cache& c = cache();
  const size_t size = round_up(std::max<size_t>(bytes, 1));
  if (size < kCacheMin) {
    void* p = std::aligned_alloc(kAlign, size);
    if (!p) throw std::bad_alloc();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.live += static_cast<int64_t>(size);
    c.peak = std::max(c.peak, c.live);
    return p;
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  Block* b = take_cached(c, size);
  if (!b) {  // a new segment of exactly this size
    const bool huge = size >= kHugePage;
    // posix_memalign: aligned_alloc wants the size a multiple of the alignment (and
    // AddressSanitizer holds it to that).
    void* raw = nullptr;
    if (::posix_memalign(&raw, huge ? kHugePage : kAlign, size) != 0) throw std::bad_alloc();
    char* p = static_cast<char*>(raw);
#ifdef MADV_HUGEPAGE
    if (huge) ::madvise(p, size / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice: may fail
#endif
    b = new Block{p, size, false, nullptr, nullptr};
    c.blocks.emplace(p, b);
  }
  c.live += static_cast<int64_t>(b->size);
  c.peak = std::max(c.peak, c.live);
  return b->ptr;
}

void tensor_free(void* p, size_t bytes) {
  Cache& c = cache();
  const size_t size = round_up(std::max<size_t>(bytes, 1));
  if (size < kCacheMin) {
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      c.live -= static_cast<int64_t>(size);
    }
    std::free(p);
    return;
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  Block* b = c.blocks.at(static_cast<char*>(p));
  c.live -= static_cast<int64_t>(b->size);
  if (b->next && b->next->free) {
    unmark_free(c, b->next);
    absorb_next(c, b);
  }
  if (b->prev && b->prev->free) {
    b = b->prev;
    unmark_free(c, b);
    absorb_next(c, b);
  }
  mark_free(c, b);
  if (c.cached > static_cast<int64_t>(kCacheMax)) release_free_segments(c);
}

void release_cached_memory() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  release_free_segments(c);
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
