// Reference solution of 10_research_ops/soft_topk.

use tch::{Kind, Tensor};

/// Bisection steps: each halves the bracket, so 100 reach the kind's precision from any start.
const STEPS: usize = 100;

/// For each row of `x` (the last dimension), the threshold t with sum(sigmoid((x - t) / tau)) = k,
/// found by bisection; detached, shape [.., 1].
fn threshold(x: &Tensor, k: i64, tau: f64) -> Tensor {
    tch::no_grad(|| {
        let x = x.detach();
        // At min - 40 tau every sigmoid is 1 to double precision (the sum is n >= k), at
        // max + 40 tau every one is 0 (the sum is 0 <= k): t lies between.
        let mut lo = x.amin([-1], true) - 40.0 * tau;
        let mut hi = x.amax([-1], true) + 40.0 * tau;
        for _ in 0..STEPS {
            let mid = (&lo + &hi) / 2.0;
            let sum = ((&x - &mid) / tau).sigmoid().sum_dim_intlist(-1, true, None::<Kind>);
            // The sum falls as t grows: too many selected means t must go up.
            let above = sum.gt(k as f64);
            lo = mid.where_self(&above, &lo);
            hi = hi.where_self(&above, &mid);
        }
        (lo + hi) / 2.0
    })
}

/// A soft top-k mask of `x` along its last dimension: sigmoid((x - t) / tau) with t per row
/// such that the row sums to k.
pub fn soft_topk_mask(x: &Tensor, k: i64, tau: f64) -> Tensor {
    let t0 = threshold(x, k, tau);
    // The threshold depends on x too: moving x_j moves t by dt/dx_j = s_j / sum(s), where
    // s = sigmoid'((x - t) / tau) (implicit differentiation of sum = k). Bisection has no useful
    // gradient of its own, so t is rebuilt as t0 plus a term whose value is 0 and whose
    // gradient is exactly that: then the gradient of the mask's sum is 0, as it must be.
    let m0: Tensor = ((x.detach() - &t0) / tau).sigmoid();
    let s: Tensor = &m0 * (1.0 - &m0);
    let w = &s / s.sum_dim_intlist(-1, true, None::<Kind>).clamp_min(1e-30);
    let t = t0 + (w * (x - x.detach())).sum_dim_intlist(-1, true, None::<Kind>);
    ((x - t) / tau).sigmoid()
}

fn main() {
    let x = Tensor::from_slice(&[0.1f32, 2.0, -1.0, 1.5, 0.3]);
    for tau in [1.0, 0.1, 0.01] {
        // Approaches [0, 1, 0, 1, 0] as tau falls, and always sums to 2.
        let mask = soft_topk_mask(&x, 2, tau);
        println!(
            "tau {tau}: {:?} (sum {:.4})",
            Vec::<f32>::try_from(&mask).unwrap(),
            mask.sum(None::<Kind>).double_value(&[])
        );
    }
}
