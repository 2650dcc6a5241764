// Memory statistics of libtorch's allocators; see memory_shim.h for the C ABI.
#include "memory_shim.h"

#include <ATen/Context.h>
#include <ATen/DeviceAccelerator.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

namespace {

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

std::string format_bytes(uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  constexpr int last = sizeof(units) / sizeof(units[0]) - 1;
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < last) {
    value /= 1024.0;
    ++unit;
  }
  // One decimal, dropped when it is zero ("8 GiB", not "8.0 GiB"). 1023.96 KiB would round to
  // "1024 KiB": say "1 MiB" instead.
  double rounded = std::round(value * 10.0) / 10.0;
  if (rounded >= 1024.0 && unit < last) {
    rounded /= 1024.0;
    ++unit;
  }
  char buf[64];
  if (rounded == std::floor(rounded)) {
    std::snprintf(buf, sizeof buf, "%.0f %s", rounded, units[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", rounded, units[unit]);
  }
  return buf;
}

char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out == nullptr) std::abort();
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

// The CPU counters. Atomics, because tensors are allocated and freed on any thread (intra-op
// threads, autograd engine threads, the learner's own threads).
std::atomic<uint64_t> g_current{0};
std::atomic<uint64_t> g_peak{0};
std::atomic<uint64_t> g_allocations{0};
std::atomic<uint64_t> g_frees{0};
std::atomic<uint64_t> g_allocated_bytes{0};
std::atomic<uint64_t> g_freed_bytes{0};
std::atomic<uint64_t> g_limit{kNoLimit};

void raise_peak(uint64_t level) {
  uint64_t peak = g_peak.load(std::memory_order_relaxed);
  while (level > peak && !g_peak.compare_exchange_weak(peak, level, std::memory_order_relaxed)) {
  }
}

// Reserves `n` bytes of the limit, or throws the limit's error. Returns the new current level.
uint64_t reserve(uint64_t n) {
  uint64_t current = g_current.load(std::memory_order_relaxed);
  uint64_t level;
  do {
    uint64_t limit = g_limit.load(std::memory_order_relaxed);
    // An OutOfMemoryError, as PyTorch throws when CUDA runs out: `except torch.OutOfMemoryError`.
    TORCH_CHECK_WITH(OutOfMemoryError, limit == kNoLimit || (n <= limit && current <= limit - n),
                     "tried to allocate ", format_bytes(n), "; the limit is ", format_bytes(limit));
    level = current + n;
  } while (!g_current.compare_exchange_weak(current, level, std::memory_order_relaxed));
  return level;
}

void record_free(uint64_t n) {
  g_current.fetch_sub(n, std::memory_order_relaxed);
  g_frees.fetch_add(1, std::memory_order_relaxed);
  g_freed_bytes.fetch_add(n, std::memory_order_relaxed);
}

// What the deleter of a counted allocation needs: its size and the original deleter.
struct Entry {
  uint64_t bytes;
  c10::DeleterFnPtr deleter;
};

// Leaked on purpose, like the allocator: tensors held by static objects are freed after
// static destructors have run, and must still find the table.
std::mutex& table_mutex() {
  static auto* mutex = new std::mutex();
  return *mutex;
}
std::unordered_map<void*, Entry>& table() {
  static auto* map = new std::unordered_map<void*, Entry>();
  return *map;
}

// The deleter of an allocation whose context is its data (the default CPU allocator's kind,
// which `raw_allocate` needs): the size and the original deleter come from the table.
void counted_delete(void* ptr) {
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(table_mutex());
    auto it = table().find(ptr);
    if (it == table().end()) {
      // Never expected: every pointer with this deleter went into the table. Leaking is safer
      // than freeing with a guessed deleter.
      return;
    }
    entry = it->second;
    table().erase(it);
  }
  entry.deleter(ptr);
  record_free(entry.bytes);
}

// The context of an allocation whose original context is not its data: the original DataPtr
// (freed with it) and its size.
struct Boxed {
  c10::DataPtr inner;
  uint64_t bytes;
};

void boxed_delete(void* context) {
  auto* boxed = static_cast<Boxed*>(context);
  uint64_t bytes = boxed->bytes;
  delete boxed;
  record_free(bytes);
}

struct CountingAllocator final : c10::Allocator {
  explicit CountingAllocator(c10::Allocator* inner) : inner(inner) {}

  c10::DataPtr allocate(size_t n) override {
    // An empty tensor holds no memory (the default allocator returns a null pointer): not counted.
    if (n == 0) return inner->allocate(0);
    uint64_t level = reserve(n);
    c10::DataPtr data;
    try {
      data = inner->allocate(n);
    } catch (...) {
      g_current.fetch_sub(n, std::memory_order_relaxed);
      throw;
    }
    raise_peak(level);
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_allocated_bytes.fetch_add(n, std::memory_order_relaxed);
    c10::Device device = data.device();
    if (data.get() == data.get_context() && data.get() != nullptr) {
      c10::DeleterFnPtr deleter = data.get_deleter();
      void* ptr = data.release_context();
      {
        std::lock_guard<std::mutex> lock(table_mutex());
        table()[ptr] = Entry{n, deleter};
      }
      return c10::DataPtr(ptr, ptr, &counted_delete, device);
    }
    void* ptr = data.get();
    auto* boxed = new Boxed{std::move(data), n};
    return c10::DataPtr(ptr, boxed, &boxed_delete, device);
  }

  // What `raw_allocate`/`raw_deallocate` use (oneDNN does): valid because allocations whose
  // context is their data, the only kind raw_allocate accepts, get this deleter.
  c10::DeleterFnPtr raw_deleter() const override {
    return inner->raw_deleter() == nullptr ? nullptr : &counted_delete;
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    inner->copy_data(dest, src, count);
  }

  c10::Allocator* inner;
};

CountingAllocator* g_counting = nullptr;

int cuda_guard(int8_t device_index, char** err) {
  auto accelerator = at::accelerator::getAccelerator(false);
  if (!accelerator.has_value() || *accelerator != c10::DeviceType::CUDA) return TL_MEMORY_NO_CUDA;
  // The caching allocator's per-device state exists only once CUDA is initialised.
  at::globalContext().lazyInitDevice(c10::DeviceType::CUDA);
  auto count = at::accelerator::deviceCount();
  if (device_index < 0 || device_index >= count) {
    *err = copy_string("CUDA device " + std::to_string(device_index) + " does not exist (" +
                       std::to_string(count) + " CUDA devices)");
    return TL_MEMORY_ERROR;
  }
  return TL_MEMORY_OK;
}

uint64_t non_negative(int64_t v) { return v < 0 ? 0 : static_cast<uint64_t>(v); }

}  // namespace

extern "C" {

bool tl_memory_install(void) noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    c10::Allocator* original = c10::GetCPUAllocator();
    g_counting = new CountingAllocator(original);  // leaked: allocators live forever
    // The highest priority, so that no later registration silently stops the counting.
    c10::SetCPUAllocator(g_counting, std::numeric_limits<uint8_t>::max());
  });
  return c10::GetCPUAllocator() == g_counting;
}

void tl_memory_cpu_stats(tl_memory_stats* out) noexcept {
  out->current_bytes = g_current.load(std::memory_order_relaxed);
  out->peak_bytes = g_peak.load(std::memory_order_relaxed);
  out->allocations = g_allocations.load(std::memory_order_relaxed);
  out->frees = g_frees.load(std::memory_order_relaxed);
  out->allocated_bytes = g_allocated_bytes.load(std::memory_order_relaxed);
  out->freed_bytes = g_freed_bytes.load(std::memory_order_relaxed);
}

void tl_memory_cpu_reset_peak(void) noexcept {
  g_peak.store(g_current.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void tl_memory_set_cpu_limit(bool has_limit, uint64_t limit) noexcept {
  g_limit.store(has_limit ? limit : kNoLimit, std::memory_order_relaxed);
}

int tl_memory_cuda_stats(int8_t device_index, tl_memory_stats* out, char** err) noexcept {
  try {
    int guard = cuda_guard(device_index, err);
    if (guard != TL_MEMORY_OK) return guard;
    auto stats = at::accelerator::getDeviceStats(device_index);
    // Requested bytes, as on CPU: what tensors asked for, not the allocator's rounded blocks
    // (torch.cuda.memory_stats()["requested_bytes.all.*"]).
    const auto agg = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    const c10::CachingAllocator::Stat& bytes = stats.requested_bytes[agg];
    const c10::CachingAllocator::Stat& count = stats.allocation[agg];
    out->current_bytes = non_negative(bytes.current);
    out->peak_bytes = non_negative(bytes.peak);
    out->allocated_bytes = non_negative(bytes.allocated);
    out->freed_bytes = non_negative(bytes.freed);
    out->allocations = non_negative(count.allocated);
    out->frees = non_negative(count.freed);
    return TL_MEMORY_OK;
  } catch (const c10::Error& e) {
    *err = copy_string(e.what_without_backtrace());
  } catch (const std::exception& e) {
    *err = copy_string(e.what());
  }
  return TL_MEMORY_ERROR;
}

int tl_memory_cuda_reset_peak(int8_t device_index, char** err) noexcept {
  try {
    int guard = cuda_guard(device_index, err);
    if (guard != TL_MEMORY_OK) return guard;
    at::accelerator::resetPeakStats(device_index);
    return TL_MEMORY_OK;
  } catch (const c10::Error& e) {
    *err = copy_string(e.what_without_backtrace());
  } catch (const std::exception& e) {
    *err = copy_string(e.what());
  }
  return TL_MEMORY_ERROR;
}

size_t tl_memory_format_bytes(uint64_t bytes, char* buf, size_t len) noexcept {
  try {
    std::string text = format_bytes(bytes);
    if (len > 0) {
      size_t n = text.size() < len - 1 ? text.size() : len - 1;
      std::memcpy(buf, text.data(), n);
      buf[n] = '\0';
    }
    return text.size();
  } catch (...) {
    if (len > 0) buf[0] = '\0';
    return 0;
  }
}

}  // extern "C"
