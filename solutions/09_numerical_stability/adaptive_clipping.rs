// Reference solution of 09_numerical_stability/adaptive_clipping.

use tch::Tensor;

/// The L2 norm of each unit of `x`: over every dimension but the first, kept as dimensions of
/// size 1 ([out, 1] for a linear weight, [out, 1, 1, 1] for a convolution's); for a vector or a
/// scalar (a bias), the norm of the whole tensor, as a 0-dimensional tensor.
pub fn unitwise_norm(x: &Tensor) -> Tensor {
    if x.dim() <= 1 {
        return x.norm();
    }
    let dims: Vec<i64> = (1..x.dim() as i64).collect();
    x.norm_scalaropt_dim(2.0, dims, true)
}

/// Adaptive gradient clipping: each unit's gradient is scaled down to `clipping` times the unit's
/// parameter norm (floored at `eps`) when it is larger; smaller gradients are kept as they are.
pub fn adaptive_clip_grad(param: &Tensor, grad: &Tensor, clipping: f64, eps: f64) -> Tensor {
    // The floor: a unit whose weights are all 0 (a zero-initialized layer) may still move.
    let max_norm = unitwise_norm(param).clamp_min(eps) * clipping;
    let grad_norm = unitwise_norm(grad);
    // clamp_min: a zero gradient is never clipped, but 0 / 0 would still be computed.
    let clipped = grad * (&max_norm / grad_norm.clamp_min(1e-6));
    clipped.where_self(&grad_norm.gt_tensor(&max_norm), grad)
}

/// Clips the gradient of each parameter of `params` in place (parameters without a gradient are
/// left alone), with the floor 1e-3.
pub fn adaptive_clip_grads(params: &[Tensor], clipping: f64) {
    tch::no_grad(|| {
        for p in params {
            let mut grad = p.grad();
            if grad.defined() {
                let clipped = adaptive_clip_grad(p, &grad, clipping, 1e-3);
                // copy_ writes into the gradient's own storage, which the optimizer reads.
                grad.copy_(&clipped);
            }
        }
    });
}

fn main() {
    // Two units: the first's gradient (norm 5) is far above 0.01 * 10, the second's is tiny.
    let w = Tensor::from_slice(&[6.0f32, 8.0, 0.0, 1.0]).reshape([2, 2]);
    let g = Tensor::from_slice(&[3.0f32, 4.0, 0.0, 1e-4]).reshape([2, 2]);
    unitwise_norm(&w).print();
    adaptive_clip_grad(&w, &g, 0.01, 1e-3).print();
}
