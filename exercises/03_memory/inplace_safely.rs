// Exercise 03_memory/inplace_safely: in-place operations, and when they break autograd.
//
// `h + b` allocates a new tensor for its result; `h += b` (tch: `h.g_add_(b)`, PyTorch:
// `h.add_(b)`) writes into `h`. A chain of elementwise steps written out of place allocates a
// tensor per step (and holds two at once); in place, it reuses the first one. PyTorch's `out=`
// variants go further: `torch.addmm(b, x, w, out=buf)` (tch: `b.addmm_out(&buf, x, w)`) writes
// into a buffer you allocated once, and a loop that calls it allocates nothing.
//
// In place is wrong in two situations, and libtorch tells you, sooner or later:
// - on a leaf that requires grad (a parameter), or a view of one: its gradient is computed
//   with respect to its value, so changing the value is refused at once ("a leaf Variable that
//   requires grad is being used in an in-place operation"). Update parameters under no_grad.
// - on a tensor that autograd saved for backward: `y = t * w` saves t (the gradient for w is
//   grad * t), `t.sigmoid()` saves its output (the gradient is grad * s * (1 - s)), `t.sin()`
//   saves its input, `t.exp()` its output, `t + w` nothing. Every tensor has a version counter
//   that in-place operations bump; backward compares it with the version it saved and fails
//   with "one of the variables needed for gradient computation has been modified by an inplace
//   operation". So it is the order that matters: `relu_` saves its output, so no in-place step
//   may follow it on the same tensor.
// And `out=` variants do not record autograd: they refuse inputs that require grad while grad
// mode is on ("out=... arguments don't support automatic differentiation").
//
// The checks count your allocations and measure your peak (with the support library's
// `memory` statistics) against the out-of-place version, and compare gradients.

use tch::Tensor;

/// `relu((x @ w + b) * scale)`, out of place: four [n, k] tensors allocated, two held at once.
/// `x` is [n, d], `w` is [d, k], `b` is [k]; `scale` > 0.
pub fn scaled_relu_affine(x: &Tensor, w: &Tensor, b: &Tensor, scale: f64) -> Tensor {
    ((x.matmul(w) + b) * scale).relu()
}

/// The same as `scaled_relu_affine`, with one [n, k] allocation: the product `x @ w` is a new
/// tensor that nobody saved, so the bias, the scale and the ReLU can go into it in place. Must
/// work under autograd (gradients for x, w and b equal the out-of-place version's), and must not
/// modify x, w or b.
///
/// PyTorch:
/// ```python
/// h = x @ w
/// h.add_(b)
/// h.mul_(scale)
/// h.relu_()    # last: relu saves its output for backward
/// return h
/// ```
pub fn scaled_relu_affine_in_place(x: &Tensor, w: &Tensor, b: &Tensor, scale: f64) -> Tensor {
    // TODO: one allocation (x @ w), then g_add_, g_mul_scalar_ and relu_, in a safe order.
    todo!("scaled_relu_affine_in_place of x {:?} and w {:?}", x.size(), w.size())
}

/// `out = x @ w + b` written into `out` ([n, k], allocated by the caller) without allocating
/// anything: the `out=` variant of `addmm`. Called under no_grad (out= variants do not record
/// autograd). Returns nothing: the result is in `out`.
///
/// PyTorch: `torch.addmm(b, x, w, out=out)`
pub fn affine_into(out: &Tensor, x: &Tensor, w: &Tensor, b: &Tensor) {
    // TODO: the out= variant of addmm.
    todo!("affine_into out of shape {:?}", out.size())
}

/// Situations in which someone calls `t.mul_(2.0)` and then runs backward of a loss that
/// depends on `t`'s graph. In each, `x` and `w` are leaves that require grad (parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// `t` is `w` itself: a leaf that requires grad.
    LeafRequiringGrad,
    /// `t` is `w.narrow(0, 0, 1)`: a view of a leaf that requires grad.
    ViewOfLeaf,
    /// `t` is a leaf that does not require grad (input data); the loss is `(t * w).sum()`,
    /// and the in-place step comes after it.
    DataInputOfMul,
    /// `t = x * 3`, then `y = t * w`, then the in-place step on `t`; the loss is `y.sum()`.
    SavedByMul,
    /// `t = x * 3`, then `y = t + w`, then the in-place step; the loss is `y.sum()`.
    UsedByAdd,
    /// `t = x.sigmoid()`, then the in-place step; the loss is `(t * w).sum()` computed before it.
    OutputOfSigmoid,
    /// `t = x * 3`, then `y = t.exp()`, then the in-place step on `t`; the loss is `y.sum()`.
    InputOfExp,
    /// `t = x * 3`, then `y = t.sin()`, then the in-place step on `t`; the loss is `y.sum()`.
    InputOfSin,
    /// `t = x * 3` computed under `no_grad`, then `y = t + w`, then the in-place step.
    MadeUnderNoGrad,
}

/// Whether `t.mul_(2.0)` in `case` is safe: libtorch neither refuses it at once nor fails in
/// backward.
pub fn is_safe_in_place(case: Case) -> bool {
    // TODO: a match on the case. Who saved t for backward, and is t a leaf that requires grad?
    todo!("is_safe_in_place({case:?})")
}

fn main() {
    let opts = (tch::Kind::Float, tch::Device::Cpu);
    let x = Tensor::randn([4, 3], opts).set_requires_grad(true);
    let w = Tensor::randn([3, 2], opts).set_requires_grad(true);
    let b = Tensor::randn([2], opts).set_requires_grad(true);
    let y = scaled_relu_affine_in_place(&x, &w, &b, 0.5);
    y.sum(tch::Kind::Float).backward();
    y.print();
    w.grad().print();
    for case in [Case::SavedByMul, Case::UsedByAdd, Case::InputOfExp] {
        println!("{case:?}: safe = {}", is_safe_in_place(case));
    }
}
