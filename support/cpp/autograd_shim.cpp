// Custom autograd functions whose forward and backward are Rust callbacks, on
// `torch::autograd::Function<T>`, and `retain_grad`. See autograd_shim.h for the C ABI.
#include "autograd_shim.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Key of the callbacks in the context's saved_data.
constexpr const char* kCallbacksKey = "tensorlings_rust_callbacks";

// What a C++ exception that is not a std::exception (a thrown int, a foreign type) says.
constexpr const char* kUnknownException = "a C++ exception of an unknown type was thrown";

// Everything one call needs in forward and, later, in backward. The autograd node owns it
// through its context's saved_data (as a capsule), so the Rust state lives exactly as long as
// the graph can still call backward. It is created in place by make_intrusive and never
// copied: its destructor frees the Rust state, so a copy (or a destroyed temporary) would free
// it too early or twice.
struct RustCallbacks : torch::CustomClassHolder {
  RustCallbacks(void* state, tl_drop_fn drop, tl_forward_fn forward, tl_backward_fn backward)
      : state(state), drop(drop), forward(forward), backward(backward) {}
  RustCallbacks(const RustCallbacks&) = delete;
  RustCallbacks& operator=(const RustCallbacks&) = delete;
  ~RustCallbacks() override { drop(state); }

  void* state;
  tl_drop_fn drop;
  tl_forward_fn forward;
  tl_backward_fn backward;
  // Whether each input needs a gradient, computed before apply() turns grad mode off.
  std::vector<uint8_t> needs_input_grad;
};

std::vector<const at::Tensor*> pointers(at::TensorList tensors) {
  std::vector<const at::Tensor*> out;
  out.reserve(tensors.size());
  for (const at::Tensor& t : tensors) out.push_back(&t);
  return out;
}

char* copy_string(const char* s) {
  size_t n = std::strlen(s) + 1;
  char* out = static_cast<char*>(std::malloc(n));
  // A null result means success to the caller, so running out of memory here cannot be
  // reported; abort, as Rust does on allocation failure.
  if (out == nullptr) std::abort();
  std::memcpy(out, s, n);
  return out;
}

struct RustFunction : torch::autograd::Function<RustFunction> {
  // `inputs` must be an at::TensorList: Function::apply registers each tensor of a TensorList
  // as an input of the graph, but takes a std::vector<Tensor> for a non-tensor argument (and
  // the outputs would silently not require grad). `callbacks` is a non-tensor argument.
  static variable_list forward(AutogradContext* ctx, at::TensorList inputs,
                               const c10::intrusive_ptr<RustCallbacks>& callbacks) {
    ctx->saved_data[kCallbacksKey] = c10::IValue::make_capsule(callbacks);
    auto input_ptrs = pointers(inputs);
    variable_list outputs, saved, non_differentiable;
    std::string err;
    if (!callbacks->forward(callbacks->state, input_ptrs.data(), input_ptrs.size(),
                            callbacks->needs_input_grad.data(), &outputs, &saved,
                            &non_differentiable, &err)) {
      throw std::runtime_error(err);
    }
    // libtorch ignores a tensor marked non-differentiable that is not an output; that is
    // always a mistake, so say so.
    for (const at::Tensor& marked : non_differentiable) {
      bool is_output = false;
      for (const at::Tensor& output : outputs) {
        is_output |= output.unsafeGetTensorImpl() == marked.unsafeGetTensorImpl();
      }
      if (!is_output) {
        throw std::runtime_error(
            "mark_non_differentiable was given a tensor that forward does not return");
      }
    }
    if (!saved.empty()) ctx->save_for_backward(std::move(saved));
    if (!non_differentiable.empty()) ctx->mark_non_differentiable(non_differentiable);
    return outputs;
  }

  // May run on an autograd engine thread (CUDA work does). Grad mode is on here when the caller asked for
  // create_graph, so the Rust backward's tensor ops are recorded (double backward).
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto capsule = ctx->saved_data.at(kCallbacksKey).toCapsule();
    auto* callbacks = static_cast<RustCallbacks*>(capsule.get());
    // Throws if a saved tensor was modified in place or freed by an earlier backward.
    variable_list saved = ctx->get_saved_variables();
    size_t n_inputs = callbacks->needs_input_grad.size();
    std::vector<uint8_t> needs_input_grad(n_inputs);
    for (size_t i = 0; i < n_inputs; ++i) needs_input_grad[i] = ctx->needs_input_grad(i);
    auto saved_ptrs = pointers(saved);
    auto grad_ptrs = pointers(grad_outputs);
    variable_list grad_inputs;
    std::string err;
    if (!callbacks->backward(callbacks->state, saved_ptrs.data(), saved_ptrs.size(),
                             grad_ptrs.data(), grad_ptrs.size(), needs_input_grad.data(),
                             n_inputs, &grad_inputs, &err)) {
      throw std::runtime_error(err);
    }
    // No gradient for the `callbacks` argument, which is not a tensor.
    grad_inputs.emplace_back();
    return grad_inputs;
  }
};

}  // namespace

extern "C" {

// noexcept: these run inside Rust callbacks, and an exception must never unwind into Rust
// (std::terminate instead; only a failed allocation could throw here).
void tl_tensor_vec_push(void* vec, const tl_tensor* t) noexcept {
  static_cast<variable_list*>(vec)->push_back(t == nullptr ? at::Tensor() : *t);
}

void tl_string_set(void* s, const char* msg, size_t len) noexcept {
  static_cast<std::string*>(s)->assign(msg, len);
}

char* tl_function_apply(void* state, tl_drop_fn drop, tl_forward_fn forward,
                        tl_backward_fn backward, const tl_tensor* const* inputs, size_t n_inputs,
                        tl_emit_fn emit, void* sink) {
  c10::intrusive_ptr<RustCallbacks> callbacks;
  try {
    callbacks = c10::make_intrusive<RustCallbacks>(state, drop, forward, backward);
  } catch (const std::exception& e) {
    drop(state);
    return copy_string(e.what());
  } catch (...) {
    drop(state);
    return copy_string(kUnknownException);
  }
  try {
    std::vector<at::Tensor> input_vec;
    input_vec.reserve(n_inputs);
    for (size_t i = 0; i < n_inputs; ++i) {
      input_vec.push_back(*inputs[i]);
      callbacks->needs_input_grad.push_back(at::GradMode::is_enabled() &&
                                            inputs[i]->requires_grad());
    }
    at::TensorList input_list(input_vec);
    variable_list outputs = RustFunction::apply(input_list, callbacks);
    for (auto& output : outputs) emit(sink, new at::Tensor(std::move(output)));
    return nullptr;
  } catch (const c10::Error& e) {
    return copy_string(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return copy_string(e.what());
  } catch (...) {
    // Unwinding a non-std exception into Rust would abort the process with no message.
    return copy_string(kUnknownException);
  }
}

char* tl_retain_grad(const tl_tensor* t) {
  try {
    t->retain_grad();
    return nullptr;
  } catch (const c10::Error& e) {
    return copy_string(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return copy_string(e.what());
  } catch (...) {
    // Unwinding a non-std exception into Rust would abort the process with no message.
    return copy_string(kUnknownException);
  }
}

void tl_free_string(char* s) { std::free(s); }

}  // extern "C"
