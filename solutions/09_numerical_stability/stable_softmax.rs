// Reference solution of 09_numerical_stability/stable_softmax.

use tch::{Kind, Tensor};

/// float32 for the half-precision kinds (their 11 or 8 significant bits lose digits in every
/// step), the input's own kind otherwise.
fn compute_kind(kind: Kind) -> Kind {
    match kind {
        Kind::Half | Kind::BFloat16 => Kind::Float,
        kind => kind,
    }
}

/// `x` in the kind to compute in, minus each row's maximum along `dim`: the largest entry of a
/// row becomes 0, so no exp can overflow. A row with no finite maximum (fully masked: every entry
/// -inf) is shifted by 0 instead, since -inf - (-inf) is NaN. The maximum is detached: the result
/// does not depend on it mathematically, so no gradient needs to flow through it.
fn shifted(x: &Tensor, dim: i64) -> Tensor {
    let x = x.to_kind(compute_kind(x.kind()));
    let max = x.amax([dim], true).detach();
    let max = max.where_self(&max.isfinite(), &max.zeros_like());
    x - max
}

/// The sum of exp(shifted) over `dim` (kept as a dimension of size 1), and where it is 0: the
/// fully masked rows. There the sum is replaced by 1, so that dividing by it or taking its log
/// gives neither NaN nor a NaN gradient (a NaN computed and then thrown away by `where` still
/// poisons the backward pass).
fn sum_exp(shifted: &Tensor, dim: i64) -> (Tensor, Tensor) {
    let sum = shifted.exp().sum_dim_intlist(dim, true, None::<Kind>);
    let masked = sum.eq(0.0);
    (sum.where_self(&masked.logical_not(), &sum.ones_like()), masked)
}

/// log(sum(exp(x))) over `dim`, which disappears; -inf for a fully masked row.
pub fn stable_logsumexp(x: &Tensor, dim: i64) -> Tensor {
    let x32 = x.to_kind(compute_kind(x.kind()));
    let max = x32.amax([dim], true).detach();
    let max = max.where_self(&max.isfinite(), &max.zeros_like());
    // Each exp is at most 1 and the largest is exactly 1, so the sum is between 1 and n.
    let (sum, masked) = sum_exp(&(&x32 - &max), dim);
    let log_sum = sum.log().masked_fill(&masked, f64::NEG_INFINITY);
    (log_sum + max).squeeze_dim(dim).to_kind(x.kind())
}

/// softmax over `dim`; a fully masked row gives zeros.
pub fn stable_softmax(x: &Tensor, dim: i64) -> Tensor {
    let shifted = shifted(x, dim);
    let (sum, _) = sum_exp(&shifted, dim);
    // On a fully masked row every exp is 0 and the sum was set to 1: zeros.
    (shifted.exp() / sum).to_kind(x.kind())
}

/// log_softmax over `dim`, as (x - max) - log(sum(exp(x - max))); -inf on a fully masked row.
pub fn stable_log_softmax(x: &Tensor, dim: i64) -> Tensor {
    let shifted = shifted(x, dim);
    let (sum, _) = sum_exp(&shifted, dim);
    // Subtracting logs instead of taking the log of a softmax keeps tiny probabilities: the log of
    // the softmax of a logit 200 below the maximum is log(0) = -inf in float32; this is -200.
    (shifted - sum.log()).to_kind(x.kind())
}

fn main() {
    // exp(1e4) is inf in every float kind: a naive softmax is inf / inf = NaN here.
    let x = Tensor::from_slice(&[1e4f32, 1e4 - 1.0, 1e4 - 2.0]);
    stable_softmax(&x, 0).print();
    stable_logsumexp(&x, 0).print();
    // A row of a mask where nothing is allowed: zeros, -inf and -inf.
    let masked = Tensor::from_slice(&[f32::NEG_INFINITY; 3]).reshape([1, 3]);
    stable_softmax(&masked, 1).print();
    stable_log_softmax(&masked, 1).print();
    stable_logsumexp(&masked, 1).print();
    // -0.7 + log 2 = -0.0061: computed in float32, it survives the rounding to bfloat16.
    let close_to_zero = Tensor::from_slice(&[-0.7f32, -0.7]).to_kind(Kind::BFloat16);
    stable_logsumexp(&close_to_zero, 0).print();
}
