// Exercise 09_numerical_stability/adaptive_clipping: adaptive gradient clipping (AGC), from
// Brock et al. 2021, "High-Performance Large-Scale Image Recognition Without Normalization"
// (the NFNets).
//
// Clipping the global gradient norm at a fixed threshold treats a layer of huge weights and one
// of tiny weights alike. What matters for stability is how much a step changes a weight
// relative to the weight: |G| / |W|. AGC clips each unit (a row of a linear weight [out, in]:
// the weights into one output; an output channel of a convolution's weight [out, in, kh, kw])
// so that its gradient norm is at most lambda times its weight norm:
//
//     max_norm = lambda * max(|W_i|, eps)              eps = 1e-3: the floor
//     G_i      = G_i * max_norm / |G_i|   if |G_i| > max_norm,   else G_i unchanged
//
// The floor matters: a unit whose weights are all 0 (a zero-initialized layer) would otherwise
// have max_norm 0 and never move. Vectors and scalars (a bias, a gain) are one unit: the norm of
// the whole tensor. The paper uses lambda = 0.01 for large batches.
//
// The checks compare with a loop over units, on linear and convolution weights, a bias, rows of
// zeros, a transposed (non-contiguous) weight and float64.

use tch::Tensor;

/// The L2 norm of each unit of `x`: over every dimension but the first, kept as dimensions of
/// size 1 (shape [out, 1] for a linear weight, [out, 1, 1, 1] for a convolution's), so that it
/// broadcasts against `x`; for a vector or a scalar (a bias), the norm of the whole tensor, as a
/// 0-dimensional tensor.
///
/// PyTorch (timm's `unitwise_norm`):
/// ```python
/// if x.ndim <= 1:
///     return x.norm(2)
/// return x.norm(2, dim=tuple(range(1, x.ndim)), keepdim=True)
/// ```
pub fn unitwise_norm(x: &Tensor) -> Tensor {
    // TODO
    todo!("the unit-wise norm of x {:?}", x.size())
}

/// Adaptive gradient clipping of `grad`, the gradient of `param` (same shape): a new tensor; the
/// inputs are left as they are.
///
/// PyTorch (timm's `adaptive_clip_grad`, for one parameter):
/// ```python
/// max_norm = unitwise_norm(param).clamp(min=eps) * clipping
/// grad_norm = unitwise_norm(grad)
/// clipped = grad * (max_norm / grad_norm.clamp(min=1e-6))
/// return torch.where(grad_norm > max_norm, clipped, grad)
/// ```
pub fn adaptive_clip_grad(param: &Tensor, grad: &Tensor, clipping: f64, eps: f64) -> Tensor {
    // TODO
    todo!(
        "clip the gradient {:?} of param {:?} with lambda {clipping} and floor {eps}",
        grad.size(),
        param.size()
    )
}

/// Clips the gradient (`p.grad()`) of each parameter of `params` in place, with the floor 1e-3;
/// parameters without a gradient are left alone. The optimizer reads the gradient's storage, so
/// write into it (`grad.copy_(&clipped)`; `p.grad()` shares its storage), in no-grad mode.
///
/// PyTorch: `for p in params: if p.grad is not None: p.grad.copy_(adaptive_clip_grad(p, p.grad, clipping, 1e-3))`
pub fn adaptive_clip_grads(params: &[Tensor], clipping: f64) {
    // TODO
    todo!("clip the gradients of {} parameters in place with lambda {clipping}", params.len())
}

fn main() {
    // Two units: the first's gradient (norm 5) is far above 0.01 * 10, the second's is tiny.
    let w = Tensor::from_slice(&[6.0f32, 8.0, 0.0, 1.0]).reshape([2, 2]);
    let g = Tensor::from_slice(&[3.0f32, 4.0, 0.0, 1e-4]).reshape([2, 2]);
    unitwise_norm(&w).print();
    adaptive_clip_grad(&w, &g, 0.01, 1e-3).print();
}
