// Exercise 04_complex_gradients/clip_grad_norm: gradient clipping as torch.nn.utils.clip_grad_norm_
// does it, with any p-norm, and per parameter.
//
// A spike in the loss gives a huge gradient, and one step along it can undo hours of training.
// Clipping bounds the step: if the gradient is longer than max_norm, scale it down to max_norm.
// PyTorch's clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite) does this:
//
//     grads = [p.grad for p in parameters if p.grad is not None]    # no gradient: skipped
//     total_norm = vector_norm(stack([vector_norm(g, p) for g in grads]), p)
//     if error_if_nonfinite and not isfinite(total_norm): raise     # before any scaling
//     clip_coef = clamp(max_norm / (total_norm + 1e-6), max=1.0)
//     for g in grads: g.mul_(clip_coef)                              # in place
//     return total_norm                                              # the norm from before
//
// Details that matter:
// - The total norm treats all the gradients as ONE vector. The norm of the per-parameter norms
//   is that: (sum_i ||g_i||_p^p)^(1/p) = (sum over every entry |g|^p)^(1/p). For p = infinity it
//   is the largest |entry| anywhere; p = 1 is the sum of |entries|; any p > 0 works.
//   `t.reshape([-1]).norm_scalaropt_dim(p, [0], false)` is the p-norm of all of t's entries
//   (torch.linalg.vector_norm, which tch does not bind), p = f64::INFINITY included.
// - The 1e-6 keeps the division finite for zero gradients, and makes the coefficient slightly
//   below 1 when total_norm == max_norm: gradients at exactly the limit are scaled too. For
//   tiny norms (1e-5) that is a 10% difference, not a rounding error.
// - Always multiply, by a coefficient clamped to at most 1: no `if total > max_norm`.
// - A NaN or infinite total norm: with error_if_nonfinite, return the error and leave the
//   gradients alone. Without it, PyTorch scales anyway: a NaN coefficient makes every gradient
//   NaN, an infinite norm makes the coefficient 0. Careful: Rust's `f64::min(NaN, 1.0)` is 1.0
//   (min ignores NaN), where torch.clamp keeps the NaN.
// - The gradients are changed in place: `p.grad()` is a handle on the parameter's gradient,
//   and `g.g_mul_scalar_(c)` (inside `tch::no_grad`) changes it.
//
// Per-parameter clipping scales each gradient by its own norm instead. It is not what
// clip_grad_norm_ does, and it changes the direction of the update: a layer with a small
// gradient keeps it while a layer with a large one is shrunk, so the whole gradient turns.
// Global clipping multiplies everything by one number: the direction stays, only the length
// changes. (Run `main` to see both.)

use tch::{Device, Kind, Tensor};

/// The total norm was NaN or infinite, and the caller asked for an error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonFiniteNorm {
    /// The p of the norm.
    pub norm_type: f64,
    /// The total norm: NaN or infinite.
    pub total_norm: f64,
}

/// The p-norm (`norm_type`, which may be `f64::INFINITY`) of the gradients of all of `params`
/// together, as one vector. Parameters without a gradient (`!p.grad().defined()`) are skipped;
/// with no gradient at all the norm is 0.
///
/// PyTorch: `torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None], norm_type)`.
pub fn total_grad_norm(params: &[Tensor], norm_type: f64) -> f64 {
    // TODO
    todo!("total_grad_norm of {} parameters, p = {norm_type}", params.len())
}

/// `torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type, error_if_nonfinite)`: scales
/// every gradient in place by `min(1, max_norm / (total_norm + 1e-6))` and returns the total
/// norm from before the scaling. When the total norm is NaN or infinite and `error_if_nonfinite`
/// is true, returns `Err(NonFiniteNorm { .. })` with the gradients left as they were. The
/// parameters' values are never changed.
pub fn clip_grad_norm(
    params: &[Tensor],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<f64, NonFiniteNorm> {
    // TODO
    todo!("clip_grad_norm of {} parameters to {max_norm}, p = {norm_type}", params.len())
}

/// Per-parameter clipping: scales each gradient in place by
/// `min(1, max_norm / (its own p-norm + 1e-6))`. Returns each parameter's gradient norm from
/// before, `None` for a parameter without a gradient (which is skipped).
///
/// PyTorch: `[clip_grad_norm_([p], max_norm, norm_type) if p.grad is not None else None for p in params]`.
pub fn clip_grad_norm_per_parameter(params: &[Tensor], max_norm: f64, norm_type: f64) -> Vec<Option<f64>> {
    // TODO
    todo!("clip_grad_norm_per_parameter of {} parameters to {max_norm}, p = {norm_type}", params.len())
}

fn main() {
    let options = (Kind::Double, Device::Cpu);
    // Two parameters whose gradients are [3, 4] and [0, 12]: a total 2-norm of 13.
    let original = [Tensor::from_slice(&[3.0f64, 4.0]), Tensor::from_slice(&[0.0f64, 12.0])];
    let make = || {
        let params =
            [Tensor::zeros([2], options), Tensor::zeros([2], options)].map(|p| p.set_requires_grad(true));
        for (p, g) in params.iter().zip(&original) {
            (p * g).sum(Kind::Double).backward();
        }
        params
    };
    let values = |params: &[Tensor]| -> Vec<Vec<f64>> {
        params.iter().map(|p| Vec::<f64>::try_from(&p.grad()).unwrap_or_default()).collect()
    };
    // The cosine between the whole gradient (both parameters as one vector) and the original:
    // 1 when the direction is kept.
    let cosine = |params: &[Tensor]| {
        let now = Tensor::cat(&params.iter().map(Tensor::grad).collect::<Vec<_>>(), 0);
        let before = Tensor::cat(&original, 0);
        (now.dot(&before) / (now.norm() * before.norm())).double_value(&[])
    };
    let params = make();
    let (p1, p2, inf) = (
        total_grad_norm(&params, 1.0),
        total_grad_norm(&params, 2.0),
        total_grad_norm(&params, f64::INFINITY),
    );
    println!("total norms: p = 1: {p1}, p = 2: {p2}, p = inf: {inf}");
    println!("clip_grad_norm to 1.3 returned {:?}", clip_grad_norm(&params, 1.3, 2.0, false));
    println!("  gradients now {:?}, cosine with the original {:.4}", values(&params), cosine(&params));
    let params = make();
    println!(
        "clip_grad_norm_per_parameter to 1.3 returned {:?}",
        clip_grad_norm_per_parameter(&params, 1.3, 2.0)
    );
    println!("  gradients now {:?}, cosine with the original {:.4}", values(&params), cosine(&params));
}
