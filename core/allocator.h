// Tensor storage allocator. Training allocates the same sizes every step, so blocks of
// 64 KiB and more are never given back between steps: no page faults from fresh mmaps,
// and no heap fragmentation growing the resident set (with plain malloc a vit-nano
// step's RSS was ~70 MB above its live tensors). They live in segments, each first
// allocated for one request; a request takes the smallest free block that fits,
// splitting off what is left over, and a freed block merges with its free neighbours.
// So a backward's gradients reuse the memory of the forward's temporaries and of the
// saved activations freed before them, although their sizes differ (with free lists of
// exact sizes, vit-micro's step held 20 MB more than its peak of live tensors).
// Call release_cached_memory() when the sizes change for good (after evaluation,
// at a smaller last batch) to give whole free segments back.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dapa {

void* tensor_alloc(size_t bytes);  // 64-byte aligned; throws std::bad_alloc
void tensor_free(void* p, size_t bytes);
void release_cached_memory();

struct AllocatorStats {
  int64_t live_bytes, peak_live_bytes, cached_bytes;
};
AllocatorStats allocator_stats();

// Memory this process can still get: the smaller of the system's available memory
// (/proc/meminfo's MemAvailable) and what the address-space limit (ulimit -v) leaves;
// -1 when neither is known. Checked before large allocations that a flag asked for.
int64_t available_memory_bytes();

// The peak resident set of this process in bytes: /proc/self/status's VmHWM, which
// belongs to this program's memory map. Not getrusage's ru_maxrss where /proc is there:
// Linux carries ru_maxrss across execve, so a program started by a large process (a
// Python script that imported PyTorch) would report its parent's peak.
int64_t peak_rss_bytes();

}  // namespace dapa
