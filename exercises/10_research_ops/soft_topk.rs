// Exercise 10_research_ops/soft_topk: a differentiable top-k mask.
//
// The hard top-k mask (1 for the k largest entries of a row, 0 elsewhere) has gradient 0 almost
// everywhere: a model cannot learn through it which entries to select. A soft mask replaces the
// step at the k-th value by a sigmoid of temperature tau around a threshold t:
//
//     mask_i = sigmoid((x_i - t) / tau),      t chosen per row so that sum_i mask_i = k
//
// Each entry is in (0, 1), each row sums to exactly k, and as tau -> 0 the mask becomes the hard
// top-k mask (when the k-th and (k+1)-th values differ). No formula gives t, but the sum falls
// steadily as t grows, so bisection finds it: start from a bracket that surely holds it
// (min(x) - 40 tau, where every sigmoid is 1, and max(x) + 40 tau, where every one is 0), and
// halve it 100 times (a loop over iterations, each on every row at once: no loop over rows).
//
// The gradient is the subtle part. Bisection's comparisons have no gradient, and autograd through
// its lo/hi would send the gradient to the row's min and max. The threshold does depend on x:
// differentiating sum_i sigmoid((x_i - t) / tau) = k gives
//
//     dt/dx_j = s_j / sum_i s_i,      s_i = sigmoid'((x_i - t) / tau) = mask_i (1 - mask_i)
//
// Find t without gradient (`tch::no_grad`, on `x.detach()`), then rebuild it so that its value is
// unchanged and its gradient is w = s / sum(s) (detached):
//
//     t = t0 + sum_j w_j * (x_j - x_j.detach())         # the added term is 0, its gradient w
//
// Then the gradient of the sum of the mask is 0, as it must be for a constant sum, and gradcheck
// (finite differences of the whole function, bisection included) agrees with autograd.

use tch::{Kind, Tensor};

/// A soft top-k mask of `x` along its last dimension: `sigmoid((x - t) / tau)`, with `t` per row
/// such that each row sums to `k` (0 <= k <= n; k = 0 gives zeros and k = n ones, to the kind's
/// precision). The same shape and kind as `x`; gradients flow to `x` as described above.
///
/// PyTorch:
/// ```python
/// with torch.no_grad():
///     xd = x.detach()
///     lo = xd.amin(-1, keepdim=True) - 40 * tau
///     hi = xd.amax(-1, keepdim=True) + 40 * tau
///     for _ in range(100):
///         mid = (lo + hi) / 2
///         above = torch.sigmoid((xd - mid) / tau).sum(-1, keepdim=True) > k
///         lo, hi = torch.where(above, mid, lo), torch.where(above, hi, mid)
///     t0 = (lo + hi) / 2
///     m0 = torch.sigmoid((xd - t0) / tau)
///     s = m0 * (1 - m0)
///     w = s / s.sum(-1, keepdim=True).clamp(min=1e-30)
/// t = t0 + (w * (x - x.detach())).sum(-1, keepdim=True)
/// return torch.sigmoid((x - t) / tau)
/// ```
pub fn soft_topk_mask(x: &Tensor, k: i64, tau: f64) -> Tensor {
    // TODO
    todo!("a soft top-{k} mask of x {:?} at temperature {tau}", x.size())
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
