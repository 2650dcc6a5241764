// C ABI between the support crate's Rust code (src/memory.rs) and libtorch's allocators: what
// they hold, their peak and how many allocations they served, on CPU and on CUDA.
//
// CPU: libtorch's CPU allocator keeps no statistics, so `tl_memory_install` replaces it (with
// `c10::SetCPUAllocator`) by a counting wrapper that delegates every allocation to the allocator
// it replaced. Tensors allocated before the wrapper was installed are not counted, neither when
// allocated nor when freed. CUDA: the caching allocator's own statistics, read through
// `ATen/DeviceAccelerator.h`, so no CUDA header is needed to compile this.
//
// No C++ exception leaves these functions, except from the allocator itself: an allocation past
// the CPU limit throws a c10::OutOfMemoryError inside libtorch, which reaches Rust as a TchError.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define TL_NOEXCEPT noexcept
extern "C" {
#else
#define TL_NOEXCEPT
#endif

// One allocator's statistics. Bytes are the bytes tensors asked for.
typedef struct tl_memory_stats {
  uint64_t current_bytes;    // held now
  uint64_t peak_bytes;       // most held at once since the last reset of the peak
  uint64_t allocations;      // allocations served, ever
  uint64_t frees;            // of those, freed
  uint64_t allocated_bytes;  // bytes of all allocations served, ever
  uint64_t freed_bytes;      // bytes of all frees, ever
} tl_memory_stats;

// Installs the counting CPU allocator (once; later calls do nothing). Returns whether it is the
// CPU allocator libtorch uses now (false if another allocator of higher priority replaced it).
bool tl_memory_install(void) TL_NOEXCEPT;

// The counting CPU allocator's statistics (zeros before it is installed).
void tl_memory_cpu_stats(tl_memory_stats* out) TL_NOEXCEPT;

// Sets the CPU peak to the current bytes.
void tl_memory_cpu_reset_peak(void) TL_NOEXCEPT;

// An allocation that would take the CPU's current bytes past `limit` throws. `has_limit` false
// removes the limit.
void tl_memory_set_cpu_limit(bool has_limit, uint64_t limit) TL_NOEXCEPT;

// Results of the CUDA functions.
enum { TL_MEMORY_OK = 0, TL_MEMORY_NO_CUDA = 1, TL_MEMORY_ERROR = 2 };

// The CUDA caching allocator's statistics for one device. On TL_MEMORY_ERROR, `*err` is a
// message to free with `tl_free_string`.
int tl_memory_cuda_stats(int8_t device_index, tl_memory_stats* out, char** err) TL_NOEXCEPT;

// Resets the CUDA peak of one device to its current bytes (`torch.cuda.reset_peak_memory_stats`).
int tl_memory_cuda_reset_peak(int8_t device_index, char** err) TL_NOEXCEPT;

// Writes `bytes` in human units ("4000 B", "1.5 KiB", "38.1 GiB", "8 GiB") to `buf` (at most
// `len` bytes, NUL included); returns the length of the text without the NUL.
size_t tl_memory_format_bytes(uint64_t bytes, char* buf, size_t len) TL_NOEXCEPT;

#ifdef __cplusplus
}
#endif
