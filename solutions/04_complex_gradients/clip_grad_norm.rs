// Reference solution of 04_complex_gradients/clip_grad_norm.

use tch::{Device, Kind, Tensor};

/// The total norm was NaN or infinite, and the caller asked for an error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonFiniteNorm {
    /// The p of the norm.
    pub norm_type: f64,
    /// The total norm: NaN or infinite.
    pub total_norm: f64,
}

/// The gradients of the parameters that have one.
fn gradients(params: &[Tensor]) -> Vec<Tensor> {
    params.iter().map(Tensor::grad).filter(Tensor::defined).collect()
}

/// The p-norm of every entry of `t` as one vector; p = infinity is the largest |entry|.
fn vector_norm(t: &Tensor, p: f64) -> Tensor {
    // reshape, not view: a gradient need not be contiguous.
    t.reshape([-1]).norm_scalaropt_dim(p, [0], false)
}

/// The p-norm of all the gradients of `params` together, as one vector; parameters without a
/// gradient are skipped, and with none at all the norm is 0.
pub fn total_grad_norm(params: &[Tensor], norm_type: f64) -> f64 {
    let grads = gradients(params);
    if grads.is_empty() {
        return 0.0;
    }
    // The norm of the per-parameter norms is the norm of everything: for finite p,
    // (sum_i ||g_i||^p)^(1/p) = (sum_i sum_j |g_ij|^p)^(1/p); for p = inf, the max of the maxes.
    let norms: Vec<Tensor> = grads.iter().map(|g| vector_norm(g, norm_type)).collect();
    vector_norm(&Tensor::stack(&norms, 0), norm_type).double_value(&[])
}

/// Scales `grad` in place by `coefficient`.
fn scale(grad: &Tensor, coefficient: f64) {
    let mut grad = grad.shallow_clone();
    tch::no_grad(|| {
        let _ = grad.g_mul_scalar_(coefficient);
    });
}

/// `min(coefficient, 1)` that keeps NaN, as torch.clamp does (f64::min would return 1).
fn clamp_to_one(coefficient: f64) -> f64 {
    if coefficient > 1.0 { 1.0 } else { coefficient }
}

/// torch.nn.utils.clip_grad_norm_: scales every gradient in place by
/// `min(1, max_norm / (total_norm + 1e-6))` and returns the total norm from before.
pub fn clip_grad_norm(
    params: &[Tensor],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<f64, NonFiniteNorm> {
    let total_norm = total_grad_norm(params, norm_type);
    // Before anything is scaled: an error leaves the gradients as they were.
    if error_if_nonfinite && !total_norm.is_finite() {
        return Err(NonFiniteNorm { norm_type, total_norm });
    }
    // Every gradient by the same factor: the direction of the whole gradient is kept.
    let coefficient = clamp_to_one(max_norm / (total_norm + 1e-6));
    for grad in gradients(params) {
        scale(&grad, coefficient);
    }
    Ok(total_norm)
}

/// Each parameter's gradient clipped by its own norm; returns each one's norm from before
/// (`None` for a parameter without a gradient).
pub fn clip_grad_norm_per_parameter(params: &[Tensor], max_norm: f64, norm_type: f64) -> Vec<Option<f64>> {
    params
        .iter()
        .map(|p| {
            let grad = p.grad();
            if !grad.defined() {
                return None;
            }
            let norm = vector_norm(&grad, norm_type).double_value(&[]);
            scale(&grad, clamp_to_one(max_norm / (norm + 1e-6)));
            Some(norm)
        })
        .collect()
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
