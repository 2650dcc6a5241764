// C ABI between the support crate's Rust code (src/profile.rs) and libtorch's Kineto profiler:
// a Chrome trace (op names, input shapes, durations, memory) of code the Rust side runs
// between `tl_profile_trace_start` and `tl_profile_trace_stop`, and labelled ranges in it.
//
// No C++ exception leaves these functions: each returns TL_PROFILE_OK, or TL_PROFILE_ERROR with
// a message in `*err` to free with `tl_free_string` (defined by the autograd shim).
#pragma once

#include <stdbool.h>

#ifdef __cplusplus
#define TL_NOEXCEPT noexcept
extern "C" {
#else
#define TL_NOEXCEPT
#endif

enum { TL_PROFILE_OK = 0, TL_PROFILE_ERROR = 2 };

// Starts recording: CPU ops (with their input shapes and the memory they allocate and free)
// and, when `cuda` is true, CUDA kernels and memory copies too. One recording at a time.
int tl_profile_trace_start(bool cuda, char** err) TL_NOEXCEPT;

// Stops the recording started by `tl_profile_trace_start` and writes it to `path` as Chrome
// trace JSON (what `torch.profiler.profile().export_chrome_trace(path)` writes).
int tl_profile_trace_stop(const char* path, char** err) TL_NOEXCEPT;

// Runs `body(data)` inside a user range named `name` (`torch.profiler.record_function(name)`),
// which the trace shows around the ops that `body` runs. `body` must not unwind.
void tl_profile_range(const char* name, void (*body)(void*), void* data) TL_NOEXCEPT;

#ifdef __cplusplus
}
#endif
