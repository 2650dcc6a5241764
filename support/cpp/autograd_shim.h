// C ABI between the support crate's Rust code (src/autograd.rs) and libtorch's C++ autograd.
//
// tch 0.26 binds no custom autograd functions and no `retain_grad`; this shim provides both.
// Tensors cross as `torch::Tensor*`, which is what tch's opaque `C_tensor*` points to.
// No C++ exception ever leaves these functions: errors come back as strings. No Rust panic ever
// enters them: the Rust callbacks catch their panics and report them through `tl_string_set`.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#include <ATen/core/Tensor.h>
using tl_tensor = at::Tensor;  // = torch::Tensor, what tch's C_tensor* points to
#define TL_NOEXCEPT noexcept
extern "C" {
#else
typedef struct tl_tensor tl_tensor;
#define TL_NOEXCEPT
#endif

// Frees the Rust state of one call. Runs exactly once, on whichever thread drops the last
// reference to the autograd node (often an autograd engine thread).
typedef void (*tl_drop_fn)(void* state);

// The Rust forward. Reads `n_inputs` tensors (borrowed) and whether each input needs a gradient;
// appends the outputs, the tensors to save for backward and the outputs to mark
// non-differentiable with `tl_tensor_vec_push`. Returns false after `tl_string_set(err, ...)`.
typedef bool (*tl_forward_fn)(void* state, const tl_tensor* const* inputs, size_t n_inputs,
                              const uint8_t* needs_input_grad, void* outputs, void* saved,
                              void* non_differentiable, void* err);

// The Rust backward. Reads the saved tensors and one gradient per output (borrowed); appends one
// gradient per input (a null pointer for "no gradient") to `grad_inputs`.
typedef bool (*tl_backward_fn)(void* state, const tl_tensor* const* saved, size_t n_saved,
                               const tl_tensor* const* grad_outputs, size_t n_grad_outputs,
                               const uint8_t* needs_input_grad, size_t n_inputs,
                               void* grad_inputs, void* err);

// Receives one output of `tl_function_apply`; the Rust side takes ownership of `owned`.
typedef void (*tl_emit_fn)(void* sink, tl_tensor* owned);

// Appends a copy of `t` (a shallow one, sharing storage and autograd history) to the C++ tensor
// list `vec`; a null `t` appends an undefined tensor.
void tl_tensor_vec_push(void* vec, const tl_tensor* t) TL_NOEXCEPT;

// Sets the C++ string `s` to the `len` bytes at `msg`.
void tl_string_set(void* s, const char* msg, size_t len) TL_NOEXCEPT;

// Applies a custom function to `n_inputs` tensors. Takes ownership of `state` whatever happens:
// `drop(state)` runs once the autograd graph no longer needs it (at once if no input requires
// grad, or on error). Calls `emit(sink, t)` for each output. Returns NULL on success, else an
// error message to free with `tl_free_string`.
char* tl_function_apply(void* state, tl_drop_fn drop, tl_forward_fn forward,
                        tl_backward_fn backward, const tl_tensor* const* inputs, size_t n_inputs,
                        tl_emit_fn emit, void* sink);

// `t.retain_grad()`. Returns NULL on success, else an error message to free with
// `tl_free_string`.
char* tl_retain_grad(const tl_tensor* t);

void tl_free_string(char* s);

#ifdef __cplusplus
}
#endif
