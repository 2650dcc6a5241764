// A Chrome trace of what Rust code runs, through libtorch's Kineto profiler (the profiler
// behind `torch.profiler`). See profile_shim.h for the C ABI.
#include "profile_shim.h"

#include <ATen/record_function.h>
#include <torch/csrc/autograd/profiler_kineto.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <set>
#include <string>

namespace {

using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

char* copy_message(const std::string& text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out == nullptr) std::abort();
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

// What `torch.profiler.profile(record_shapes=True, profile_memory=True, with_flops=True)`
// asks for: shapes make the trace say which sizes an op ran on, memory its allocations.
ProfilerConfig trace_config() {
  return ProfilerConfig(ProfilerState::KINETO, /*report_input_shapes=*/true, /*profile_memory=*/true,
                        /*with_stack=*/false, /*with_flops=*/true, /*with_modules=*/false);
}

// Runs `body`, turning any C++ exception into TL_PROFILE_ERROR and its message.
template <typename Body>
int guarded(char** err, Body body) noexcept {
  try {
    return body();
  } catch (const c10::Error& e) {
    *err = copy_message(e.what_without_backtrace());
  } catch (const std::exception& e) {
    *err = copy_message(e.what());
  } catch (...) {
    *err = copy_message("a C++ exception of an unknown type was thrown");
  }
  return TL_PROFILE_ERROR;
}

}  // namespace

int tl_profile_trace_start(bool cuda, char** err) noexcept {
  return guarded(err, [&] {
    std::set<ActivityType> activities{ActivityType::CPU};
    if (cuda) activities.insert(ActivityType::CUDA);
    ProfilerConfig config = trace_config();
    torch::autograd::profiler::prepareProfiler(config, activities);
    torch::autograd::profiler::enableProfiler(config, activities);
    return TL_PROFILE_OK;
  });
}

int tl_profile_trace_stop(const char* path, char** err) noexcept {
  return guarded(err, [&] {
    std::unique_ptr<torch::autograd::profiler::ProfilerResult> result =
        torch::autograd::profiler::disableProfiler();
    if (!result) {
      *err = copy_message("the profiler returned no result");
      return static_cast<int>(TL_PROFILE_ERROR);
    }
    result->save(path);
    return static_cast<int>(TL_PROFILE_OK);
  });
}

void tl_profile_range(const char* name, void (*body)(void*), void* data) noexcept {
  // The guard records the range's start here and its end when it goes out of scope; without a
  // profiler running it costs a check of a flag.
  RECORD_USER_SCOPE(name);
  body(data);
}
