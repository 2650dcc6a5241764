//! Custom differentiable functions with a forward and a backward written in Rust, as with
//! PyTorch's `torch.autograd.Function`, and [`retain_grad`], which tch 0.26 does not bind.
//!
//! tch has no custom autograd functions, so these go through a small C++ shim (`cpp/`) built
//! on libtorch's `torch::autograd::Function<T>`: the autograd graph gets a real node whose
//! backward calls your Rust code.
//!
//! # Two ways to define one
//!
//! A type that implements [`Function`], the shape of a PyTorch `Function` subclass:
//!
//! ```
//! use tch::Tensor;
//! use tensorlings_support::autograd::{Context, Function};
//!
//! struct Square;
//!
//! impl Function for Square {
//!     const NAME: &'static str = "square";
//!
//!     fn forward(ctx: &mut Context, inputs: &[Tensor]) -> Vec<Tensor> {
//!         ctx.save_for_backward(&[&inputs[0]]);
//!         vec![inputs[0].square()]
//!     }
//!
//!     fn backward(ctx: &Context, grad_outputs: &[Tensor]) -> Vec<Option<Tensor>> {
//!         let x = &ctx.saved()[0];
//!         vec![Some(&grad_outputs[0] * 2.0 * x)]
//!     }
//! }
//!
//! let x = Tensor::from_slice(&[-1.0f32, 0.0, 2.0]).set_requires_grad(true);
//! let y = Square::apply(&[&x])?.remove(0);
//! y.sum(None).backward();
//! assert_eq!(Vec::<f32>::try_from(&x.grad())?, [-2.0, 0.0, 4.0]);
//! # Ok::<(), tch::TchError>(())
//! ```
//!
//! or two closures, which may capture values (a [`CustomFunction`] is cheap to clone and can
//! be shared between threads):
//!
//! ```
//! use tch::Tensor;
//! use tensorlings_support::autograd::CustomFunction;
//!
//! let scale = 3.0;
//! let times = CustomFunction::new(
//!     "times",
//!     move |_ctx, inputs| vec![&inputs[0] * scale],
//!     move |_ctx, grad_outputs| vec![Some(&grad_outputs[0] * scale)],
//! );
//! let x = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
//! let y = times.apply(&[&x])?.remove(0);
//! y.sum(None).backward();
//! assert_eq!(Vec::<f32>::try_from(&x.grad())?, [3.0, 3.0]);
//! # Ok::<(), tch::TchError>(())
//! ```
//!
//! # How it behaves (as in PyTorch)
//!
//! - `forward` runs with grad mode off. The outputs require grad when grad mode is on and any
//!   input requires grad; then they get this function as their `grad_fn`.
//! - `backward` gets one gradient per output, in order (zeros for an output that did not take
//!   part in the loss), and returns one entry per input: `Some(gradient)`, of the input's
//!   shape (a gradient of a shape the input was broadcast to is summed down to it), or `None`
//!   for "no gradient" (an input that is not differentiable, such as a mask,
//!   or one for which [`Context::needs_input_grad`] is false).
//! - `backward` may run on another thread than `forward` (libtorch's autograd engine has a
//!   thread per GPU, for instance), later, even after the [`CustomFunction`] is dropped: hence
//!   the `Send + Sync + 'static` bounds on the closures.
//! - Double backward works when `backward` is written with differentiable tensor operations:
//!   under `create_graph = true` they are recorded like any others.
//! - Tensors that backward needs go through [`Context::save_for_backward`], which (like
//!   PyTorch) detects a saved tensor modified in place before backward, and which can save an
//!   output without keeping the graph alive in a reference cycle. Other values go through
//!   [`Context::save_data`].
//!
//! # Errors
//!
//! [`CustomFunction::apply`] returns a [`TchError`] when `forward` panics (the message includes
//! the panic's). A mistake in `backward` (a panic, the wrong number of gradients, a gradient of
//! the wrong shape) surfaces where backward was called, as an error of `f_backward` or
//! `f_run_backward` (or a panic of `backward`), with a message that names the function.

use std::any::Any;
use std::borrow::Borrow;
use std::ffi::{CStr, c_char, c_void};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use tch::{TchError, Tensor};
use torch_sys::C_tensor;

/// How every error of a custom function starts ("custom function `name`: ..."), which is how
/// the check harness tells it from libtorch's own errors.
pub(crate) const CUSTOM_FUNCTION_ERROR: &str = "custom function `";

/// A custom differentiable function, defined by a forward and a backward.
///
/// Build one with [`CustomFunction::new`] and call it with [`CustomFunction::apply`]. Cloning
/// is cheap (the closures are shared), and it is `Send + Sync`.
#[derive(Clone)]
pub struct CustomFunction {
    inner: Arc<Inner>,
}

type ForwardFn = dyn Fn(&mut Context, &[Tensor]) -> Vec<Tensor> + Send + Sync;
type BackwardFn = dyn Fn(&Context, &[Tensor]) -> Vec<Option<Tensor>> + Send + Sync;
type Data = Arc<dyn Any + Send + Sync>;

struct Inner {
    name: String,
    forward: Box<ForwardFn>,
    backward: Box<BackwardFn>,
}

impl CustomFunction {
    /// Defines a function named `name` (used in error messages) from its forward and its
    /// backward.
    ///
    /// - `forward(ctx, inputs)` returns the outputs. It may save tensors for backward with
    ///   [`Context::save_for_backward`] and other values with [`Context::save_data`].
    /// - `backward(ctx, grad_outputs)` gets one gradient per output and returns one entry per
    ///   input: `Some(gradient of the loss with respect to that input)`, or `None`.
    pub fn new<F, B>(name: impl Into<String>, forward: F, backward: B) -> Self
    where
        F: Fn(&mut Context, &[Tensor]) -> Vec<Tensor> + Send + Sync + 'static,
        B: Fn(&Context, &[Tensor]) -> Vec<Option<Tensor>> + Send + Sync + 'static,
    {
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                forward: Box::new(forward),
                backward: Box::new(backward),
            }),
        }
    }

    /// The name given to [`CustomFunction::new`].
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Calls the function on `inputs` (`&[&x, &y]` or `&[x, y]`) and returns its outputs.
    ///
    /// # Errors
    ///
    /// When an input is an undefined tensor, when `forward` panics (the error includes the
    /// panic message), when [`Context::mark_non_differentiable`] was given a tensor that
    /// `forward` does not return, or when libtorch rejects the call. The message starts with
    /// ``custom function `name`: ``.
    pub fn apply<T: Borrow<Tensor>>(&self, inputs: &[T]) -> Result<Vec<Tensor>, TchError> {
        let mut input_shapes = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let input = input.borrow();
            if !input.defined() {
                return Err(self.inner.error(format!("input {i} is an undefined tensor")));
            }
            input_shapes.push(input.size());
        }
        let call = Box::new(Call { function: Arc::clone(&self.inner), input_shapes, data: OnceLock::new() });
        let input_ptrs: Vec<*const C_tensor> = inputs.iter().map(|t| t.borrow().as_ptr()).collect();
        let mut outputs: Vec<Tensor> = Vec::new();
        // SAFETY: the input pointers come from live `Tensor`s borrowed for this whole call
        // (the shim only reads them, and copies what it keeps). `call` is handed over as a raw
        // pointer: the shim owns it from here on, even on error, and frees it exactly once
        // through `drop_call`, possibly later and on another thread, which `Call: Send + Sync`
        // allows. `outputs` outlives the call, and `emit_output` is the only user of that
        // pointer, before `tl_function_apply` returns.
        let err = unsafe {
            ffi::tl_function_apply(
                Box::into_raw(call).cast(),
                drop_call,
                forward_trampoline,
                backward_trampoline,
                input_ptrs.as_ptr(),
                input_ptrs.len(),
                emit_output,
                (&raw mut outputs).cast(),
            )
        };
        match take_error(err) {
            None => Ok(outputs),
            // Errors from the Rust callbacks already name the function; libtorch's do not.
            Some(message) if message.starts_with(&self.inner.prefix()) => Err(TchError::Torch(message)),
            Some(message) => Err(self.inner.error(message)),
        }
    }
}

impl fmt::Debug for CustomFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomFunction").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

impl Inner {
    fn prefix(&self) -> String {
        format!("{CUSTOM_FUNCTION_ERROR}{}`: ", self.name)
    }

    fn error(&self, message: impl fmt::Display) -> TchError {
        TchError::Torch(format!("{}{message}", self.prefix()))
    }
}

/// A custom differentiable function as a type, like a PyTorch `torch.autograd.Function`
/// subclass with static `forward` and `backward`. Call it with `MyFunction::apply(&[&x])`.
///
/// Everything said about [`CustomFunction::new`] holds; this is a different way to write the
/// same thing (`apply` builds a [`CustomFunction`] from the associated functions).
pub trait Function {
    /// The name used in error messages.
    const NAME: &'static str;

    /// Computes the outputs from the inputs, with grad mode off.
    fn forward(ctx: &mut Context, inputs: &[Tensor]) -> Vec<Tensor>;

    /// Gets one gradient per output and returns one entry per input: `Some(gradient)` of that
    /// input's shape, or `None` for no gradient.
    fn backward(ctx: &Context, grad_outputs: &[Tensor]) -> Vec<Option<Tensor>>;

    /// Calls the function; see [`CustomFunction::apply`].
    ///
    /// # Errors
    ///
    /// As [`CustomFunction::apply`].
    fn apply<T: Borrow<Tensor>>(inputs: &[T]) -> Result<Vec<Tensor>, TchError>
    where
        Self: Sized + 'static,
    {
        CustomFunction::new(Self::NAME, Self::forward, Self::backward).apply(inputs)
    }
}

/// What `forward` leaves for `backward`, like PyTorch's `ctx`.
///
/// `forward` gets `&mut Context` and fills it; `backward` gets `&Context` and reads it.
pub struct Context {
    saved: Vec<Tensor>,
    non_differentiable: Vec<Tensor>,
    needs_input_grad: Vec<bool>,
    data: Option<Data>,
}

impl Context {
    fn new(needs_input_grad: Vec<bool>, saved: Vec<Tensor>, data: Option<Data>) -> Self {
        Self { saved, non_differentiable: Vec::new(), needs_input_grad, data }
    }

    /// Saves tensors (inputs, outputs or intermediate results) for `backward`, which reads
    /// them with [`Context::saved`], in the same order. A second call replaces the first
    /// call's tensors, as in PyTorch.
    ///
    /// `backward` fails with an error if a saved tensor was modified in place after being
    /// saved, since the gradient would then be computed from the wrong values.
    pub fn save_for_backward<T: Borrow<Tensor>>(&mut self, tensors: &[T]) {
        self.saved = tensors.iter().map(|t| t.borrow().shallow_clone()).collect();
    }

    /// The tensors saved by [`Context::save_for_backward`] (PyTorch's `ctx.saved_tensors`).
    ///
    /// In `backward` they carry their autograd history, so a backward built from them with
    /// differentiable operations can itself be differentiated.
    #[doc(alias = "saved_tensors")]
    pub fn saved(&self) -> &[Tensor] {
        &self.saved
    }

    /// Marks outputs of `forward` (tensors it is about to return; `apply` fails for any other)
    /// as not differentiable: they will not require grad, and `backward` receives zeros as
    /// their gradient. Useful for a mask computed alongside a differentiable result. (Integer
    /// outputs, such as indices, never require grad anyway.)
    pub fn mark_non_differentiable<T: Borrow<Tensor>>(&mut self, outputs: &[T]) {
        self.non_differentiable.extend(outputs.iter().map(|t| t.borrow().shallow_clone()));
    }

    /// For each input, whether a gradient with respect to it is needed (PyTorch's
    /// `ctx.needs_input_grad`). `backward` may return `None` where this is false and skip the
    /// work.
    pub fn needs_input_grad(&self) -> &[bool] {
        &self.needs_input_grad
    }

    /// Saves a value that is not a tensor (a shape, a scalar, a tuple of those) for
    /// `backward`, which reads it with [`Context::data`]. One value per call; a second call
    /// replaces it.
    ///
    /// Save tensors with [`Context::save_for_backward`] instead: a tensor kept here is not
    /// checked for in-place changes, and an output kept here would keep the graph alive.
    pub fn save_data<T: Any + Send + Sync>(&mut self, value: T) {
        self.data = Some(Arc::new(value));
    }

    /// The value saved by [`Context::save_data`], if it has type `T`.
    pub fn data<T: Any>(&self) -> Option<&T> {
        self.data.as_deref()?.downcast_ref()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes: Vec<_> = self.saved.iter().map(|t| t.defined().then(|| t.size())).collect();
        f.debug_struct("Context")
            .field("saved_shapes", &shapes)
            .field("needs_input_grad", &self.needs_input_grad)
            .field("has_data", &self.data.is_some())
            .finish_non_exhaustive()
    }
}

/// Marks `t`, a tensor that is not a leaf, so that backward fills its `grad()` (PyTorch's
/// `Tensor.retain_grad`). Does nothing for a leaf, whose gradient is kept anyway.
///
/// # Panics
///
/// If `t` does not require grad; [`f_retain_grad`] returns that as an error.
pub fn retain_grad(t: &Tensor) {
    if let Err(e) = f_retain_grad(t) {
        panic!("retain_grad: {e}");
    }
}

/// [`retain_grad`] that returns an error instead of panicking.
///
/// # Errors
///
/// If `t` does not require grad or is undefined.
pub fn f_retain_grad(t: &Tensor) -> Result<(), TchError> {
    if !t.defined() {
        return Err(TchError::Torch("retain_grad: the tensor is undefined".to_owned()));
    }
    // SAFETY: `t` is a live, defined tensor borrowed for the call; the shim catches every C++
    // exception and returns it as a string that we free.
    let err = unsafe { ffi::tl_retain_grad(t.as_ptr()) };
    match take_error(err) {
        None => Ok(()),
        Some(message) => Err(TchError::Torch(message)),
    }
}

// ---------------------------------------------------------------------------------------------
// The Rust side of the shim.

/// The state of one `apply`, owned by the autograd node (through the shim) for as long as
/// backward may run: the function, the input shapes that gradients must have, and the value
/// of `Context::save_data`, set once by forward and read by every later backward.
struct Call {
    function: Arc<Inner>,
    input_shapes: Vec<Vec<i64>>,
    data: OnceLock<Data>,
}

impl Call {
    /// Checks what backward returned: one entry per input, each of its input's shape.
    /// Checks what backward returned: one entry per input, each of its input's shape. A
    /// gradient of a shape the input broadcasts to is summed down to the input's shape, as
    /// PyTorch's engine does (an input `[n, 1]` used against `[n, k]` may get a `[n, k]`
    /// gradient).
    fn settle_gradients(&self, mut grads: Vec<Option<Tensor>>) -> Result<Vec<Option<Tensor>>, TchError> {
        let (got, want) = (grads.len(), self.input_shapes.len());
        if got != want {
            return Err(self.function.error(format!(
                "backward returned {got} gradient{} for {want} input{}",
                plural(got),
                plural(want)
            )));
        }
        for (i, (grad, shape)) in grads.iter_mut().zip(&self.input_shapes).enumerate() {
            let Some(gradient) = grad else { continue };
            if !gradient.defined() {
                return Err(self.function.error(format!(
                    "backward returned an undefined tensor as the gradient for input {i} \
                     (return None for no gradient)"
                )));
            }
            let grad_shape = gradient.size();
            if &grad_shape == shape {
                continue;
            }
            if !broadcasts_to(shape, &grad_shape) {
                return Err(self.function.error(format!(
                    "backward returned a gradient of shape {grad_shape:?} for input {i}, \
                     which has shape {shape:?}: each gradient has its input's shape"
                )));
            }
            *grad = Some(gradient.f_sum_to_size(shape.as_slice())?);
        }
        Ok(grads)
    }
}

/// Whether a tensor of shape `from` broadcasts to shape `to` (so that a gradient of shape `to`
/// sums down to `from`): aligned from the last dimension, each of `from`'s is 1 or `to`'s.
fn broadcasts_to(from: &[i64], to: &[i64]) -> bool {
    from.len() <= to.len() && from.iter().rev().zip(to.iter().rev()).all(|(&f, &t)| f == t || f == 1)
}

// The shim may free a `Call` on an autograd engine thread and run backward on several at once
// (the SAFETY comment in `CustomFunction::apply` relies on this); users share `CustomFunction`s
// between threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Call>();
    send_sync::<CustomFunction>();
};

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How a panic caught in forward or backward continues "forward" or "backward": " panicked at
/// FILE:LINE:COL: message", or ": not implemented yet: replace the `todo!()` at ...".
fn in_callback(description: &str) -> String {
    if description.starts_with("panicked") { format!(" {description}") } else { format!(": {description}") }
}

/// Copies and frees an error string returned by the shim; `None` for a null pointer.
fn take_error(err: *mut c_char) -> Option<String> {
    if err.is_null() {
        return None;
    }
    // SAFETY: a non-null error from the shim is a NUL-terminated string allocated by the shim
    // for us; we copy it before freeing it, once.
    unsafe {
        let message = CStr::from_ptr(err).to_string_lossy().into_owned();
        ffi::tl_free_string(err);
        Some(message)
    }
}

/// Borrows `n` tensors from the shim as owned Rust `Tensor`s (shallow copies: same storage and
/// autograd history).
///
/// # Safety
///
/// `ptrs` must point to `n` pointers to live tensors (or `n` must be 0).
unsafe fn tensors_from(ptrs: *const *const C_tensor, n: usize) -> Vec<Tensor> {
    if n == 0 {
        return Vec::new();
    }
    // SAFETY: guaranteed by the caller. `clone_from_ptr` only reads the tensor (the `*mut` is
    // tch's signature) and returns a new, independently owned handle.
    unsafe {
        std::slice::from_raw_parts(ptrs, n).iter().map(|&p| Tensor::clone_from_ptr(p.cast_mut())).collect()
    }
}

/// # Safety
///
/// `ptr` must point to `n` bytes (or `n` must be 0).
unsafe fn bools_from(ptr: *const u8, n: usize) -> Vec<bool> {
    if n == 0 {
        return Vec::new();
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(ptr, n) }.iter().map(|&b| b != 0).collect()
}

/// Appends Rust tensors to a C++ tensor list (the shim copies each handle).
///
/// # Safety
///
/// `vec` must be a tensor list given to a callback by the shim, during that callback.
unsafe fn push_all<'a>(vec: *mut c_void, tensors: impl IntoIterator<Item = Option<&'a Tensor>>) {
    for t in tensors {
        let ptr = t.map_or(std::ptr::null(), Tensor::as_ptr);
        // SAFETY: `vec` as guaranteed by the caller; `ptr` is null or a live tensor, which the
        // shim copies before we drop ours.
        unsafe { ffi::tl_tensor_vec_push(vec, ptr) };
    }
}

/// # Safety
///
/// `err` must be an error string given to a callback by the shim, during that callback.
unsafe fn set_error(err: *mut c_void, error: &TchError) {
    let message = match error {
        TchError::Torch(message) => message.clone(),
        other => other.to_string(),
    };
    // SAFETY: as guaranteed by the caller; the shim copies the bytes.
    unsafe { ffi::tl_string_set(err, message.as_ptr().cast(), message.len()) };
}

/// Runs the user's forward for the shim. A panic must not unwind into C++ (that would abort),
/// so it is caught here and reported as an error, which the shim throws as a C++ exception and
/// `tl_function_apply` returns to `apply`.
///
/// # Safety
///
/// Called by the shim only: `state` is the `Call` given to `tl_function_apply`, the pointers
/// and counts describe live arrays, and the `void*` are the shim's output lists and error
/// string.
#[allow(clippy::too_many_arguments)] // One C ABI callback; a struct would not make it clearer.
unsafe extern "C" fn forward_trampoline(
    state: *mut c_void,
    inputs: *const *const C_tensor,
    n_inputs: usize,
    needs_input_grad: *const u8,
    outputs: *mut c_void,
    saved: *mut c_void,
    non_differentiable: *mut c_void,
    err: *mut c_void,
) -> bool {
    // SAFETY: the shim keeps the `Call` alive while its callbacks run.
    let call = unsafe { &*state.cast::<Call>() };
    let result = crate::panics::catch_panics(|| {
        // SAFETY: the shim passes `n_inputs` live tensors and as many flags.
        let (inputs, needs) =
            unsafe { (tensors_from(inputs, n_inputs), bools_from(needs_input_grad, n_inputs)) };
        let mut ctx = Context::new(needs, Vec::new(), None);
        let results = (call.function.forward)(&mut ctx, &inputs);
        (results, ctx)
    });
    match result {
        Ok((results, ctx)) => {
            // SAFETY: the lists are the shim's, given to this very callback.
            unsafe {
                push_all(outputs, results.iter().map(Some));
                push_all(saved, ctx.saved.iter().map(Some));
                push_all(non_differentiable, ctx.non_differentiable.iter().map(Some));
            }
            if let Some(data) = ctx.data {
                // Forward runs once per `Call`, so this is the first and only set.
                let _ = call.data.set(data);
            }
            true
        }
        Err(description) => {
            let error = call.function.error(format_args!("forward{}", in_callback(&description)));
            // SAFETY: `err` is the shim's, given to this very callback.
            unsafe { set_error(err, &error) };
            false
        }
    }
}

/// Runs the user's backward for the shim, on an autograd engine thread, and checks what it
/// returned. Errors (and caught panics) are thrown by the shim as C++ exceptions, which the
/// engine passes on to whoever called backward.
///
/// # Safety
///
/// As for [`forward_trampoline`].
#[allow(clippy::too_many_arguments)] // One C ABI callback; a struct would not make it clearer.
unsafe extern "C" fn backward_trampoline(
    state: *mut c_void,
    saved: *const *const C_tensor,
    n_saved: usize,
    grad_outputs: *const *const C_tensor,
    n_grad_outputs: usize,
    needs_input_grad: *const u8,
    n_inputs: usize,
    grad_inputs: *mut c_void,
    err: *mut c_void,
) -> bool {
    // SAFETY: the autograd node owns the `Call` and is alive while its backward runs.
    let call = unsafe { &*state.cast::<Call>() };
    let result = crate::panics::catch_panics(|| {
        // SAFETY: the shim passes live tensors and flags, with their counts.
        let (saved, grads, needs) = unsafe {
            (
                tensors_from(saved, n_saved),
                tensors_from(grad_outputs, n_grad_outputs),
                bools_from(needs_input_grad, n_inputs),
            )
        };
        let ctx = Context::new(needs, saved, call.data.get().cloned());
        let results = (call.function.backward)(&ctx, &grads);
        call.settle_gradients(results)
    });
    let error = match result {
        Ok(Ok(results)) => {
            // SAFETY: `grad_inputs` is the shim's, given to this very callback.
            unsafe { push_all(grad_inputs, results.iter().map(Option::as_ref)) };
            return true;
        }
        Ok(Err(error)) => error,
        Err(description) => {
            // The usual cause of an index panic in backward: forward saved nothing.
            let hint = if n_saved == 0 && description.contains("index out of bounds") {
                "\n  (ctx.saved() is empty: save what backward needs with ctx.save_for_backward in forward)"
            } else {
                ""
            };
            call.function.error(format_args!("backward{}{hint}", in_callback(&description)))
        }
    };
    // SAFETY: `err` is the shim's, given to this very callback.
    unsafe { set_error(err, &error) };
    false
}

/// Receives one output of `tl_function_apply`.
///
/// # Safety
///
/// `sink` is the `Vec<Tensor>` that `apply` passed, and `tensor` a heap tensor the shim hands
/// over (a `torch::Tensor*`, which is what tch's `C_tensor` is).
unsafe extern "C" fn emit_output(sink: *mut c_void, tensor: *mut C_tensor) {
    // SAFETY: as guaranteed by the caller; `from_ptr` takes ownership, so tch frees it.
    unsafe { (*sink.cast::<Vec<Tensor>>()).push(Tensor::from_ptr(tensor)) };
}

/// Frees a `Call` once the autograd node is done with it, on whatever thread drops the node.
///
/// # Safety
///
/// `state` is the `Box<Call>` given to `tl_function_apply`, freed exactly once.
unsafe extern "C" fn drop_call(state: *mut c_void) {
    // SAFETY: as guaranteed by the caller.
    let call = unsafe { Box::from_raw(state.cast::<Call>()) };
    // A panicking destructor (of a captured value, or of saved data) must not unwind into
    // C++; the value is gone either way.
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(call)));
}

mod ffi {
    //! The C ABI of `cpp/autograd_shim.h`.

    use std::ffi::{c_char, c_void};

    use torch_sys::C_tensor;

    pub type DropFn = unsafe extern "C" fn(state: *mut c_void);
    pub type ForwardFn = unsafe extern "C" fn(
        state: *mut c_void,
        inputs: *const *const C_tensor,
        n_inputs: usize,
        needs_input_grad: *const u8,
        outputs: *mut c_void,
        saved: *mut c_void,
        non_differentiable: *mut c_void,
        err: *mut c_void,
    ) -> bool;
    pub type BackwardFn = unsafe extern "C" fn(
        state: *mut c_void,
        saved: *const *const C_tensor,
        n_saved: usize,
        grad_outputs: *const *const C_tensor,
        n_grad_outputs: usize,
        needs_input_grad: *const u8,
        n_inputs: usize,
        grad_inputs: *mut c_void,
        err: *mut c_void,
    ) -> bool;
    pub type EmitFn = unsafe extern "C" fn(sink: *mut c_void, owned: *mut C_tensor);

    unsafe extern "C" {
        pub fn tl_tensor_vec_push(vec: *mut c_void, t: *const C_tensor);
        pub fn tl_string_set(s: *mut c_void, msg: *const c_char, len: usize);
        #[allow(clippy::too_many_arguments)]
        pub fn tl_function_apply(
            state: *mut c_void,
            drop: DropFn,
            forward: ForwardFn,
            backward: BackwardFn,
            inputs: *const *const C_tensor,
            n_inputs: usize,
            emit: EmitFn,
            sink: *mut c_void,
        ) -> *mut c_char;
        pub fn tl_retain_grad(t: *const C_tensor) -> *mut c_char;
        pub fn tl_free_string(s: *mut c_char);
    }
}
