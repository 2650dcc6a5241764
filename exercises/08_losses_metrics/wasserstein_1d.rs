// Exercise 08_losses_metrics/wasserstein_1d: the 1-D Wasserstein distance, sorted and differentiable.
//
// The Wasserstein distance (earth mover's distance) between two distributions is the least work
// to move one pile of sand onto the other: mass times distance moved. Unlike the KL divergence it
// is finite and informative for distributions that do not overlap (two spikes 5 apart are at
// distance 5, not infinitely far), which is why WGANs and distribution-matching losses use it.
//
// On the real line it has a closed form: the area between the two cumulative distribution
// functions,
//
//     W1(u, v) = integral over x of |CDF_u(x) - CDF_v(x)| dx
//
// For samples (empirical distributions), both CDFs are step functions that only jump at a
// sample. Sort all the samples of both together: between two consecutive ones, x_k and x_k+1,
// both CDFs are constant, so the integral is a finite sum:
//
//     W1 = sum over k of |CDF_u(x_k) - CDF_v(x_k)| * (x_k+1 - x_k)
//
// CDF_u(x) is the fraction of u's samples <= x: sort u, and `searchsorted` with side "right"
// counts, for every x at once, how many sorted samples are <= x ("left" would count < x, the CDF
// just before the jump). With weights, it is the weight of the samples <= x over the total
// weight: a cumulative sum of the weights in sorted order, looked up at that count. This is
// scipy.stats.wasserstein_distance's algorithm, and the checks compare with its numbers.
//
// It is differentiable: sort's values carry gradients (to the element each came from), so the
// gaps x_k+1 - x_k pass gradients to the samples, and the cumulative weights to the weights. The
// counts are integers, with no gradient, as they should be: a CDF is piecewise constant.

// Kind is for your code.
#[allow(unused_imports)]
use tch::{Kind, Tensor};

/// The 1-Wasserstein distance between the empirical distributions of `u` (shape `[n]`) and `v`
/// (shape `[m]`, n and m >= 1, maybe different), each sample weighted by `u_weights` /
/// `v_weights` (non-negative, any positive total, same shape as the samples) or counting 1 when
/// `None`. Returns a scalar, differentiable with respect to the samples and the weights, equal
/// to `scipy.stats.wasserstein_distance(u, v, u_weights, v_weights)`.
///
/// PyTorch (the sum over the gaps between the sorted samples of both):
/// ```python
/// all_values, _ = torch.cat([u, v]).sort()
/// gaps = all_values.diff()                                    # [n + m - 1]
/// x = all_values[:-1]
/// u_sorted, order = u.sort()
/// counts = torch.searchsorted(u_sorted, x, side="right")       # samples of u <= x
/// u_cdf = counts / n                                           # unweighted
/// cum = torch.cat([torch.zeros(1), u_weights[order].cumsum(0)])
/// u_cdf = cum[counts] / cum[-1]                                # weighted
/// # the same for v, then
/// ((u_cdf - v_cdf).abs() * gaps).sum()
/// ```
pub fn wasserstein_1d(
    u: &Tensor,
    v: &Tensor,
    u_weights: Option<&Tensor>,
    v_weights: Option<&Tensor>,
) -> Tensor {
    // TODO: the sorted samples of both and their gaps, each CDF at the left end of every gap
    // (a helper that takes the samples, the optional weights and the points is worth writing),
    // then the sum.
    todo!(
        "wasserstein_1d of u {:?} and v {:?} (weighted: {}, {})",
        u.size(),
        v.size(),
        u_weights.is_some(),
        v_weights.is_some()
    )
}

fn main() {
    // Three points moved by 5: the distance is 5.
    let u = Tensor::from_slice(&[0.0f64, 1.0, 3.0]);
    wasserstein_1d(&u, &(&u + 5.0), None, None).print();
    // scipy's documentation example: 4.0781331438047861.
    let u = Tensor::from_slice(&[3.4f64, 3.9, 7.5, 7.8]);
    let v = Tensor::from_slice(&[4.5f64, 1.4]);
    let u_weights = Tensor::from_slice(&[1.4f64, 0.9, 3.1, 7.2]);
    let v_weights = Tensor::from_slice(&[3.2f64, 3.5]);
    wasserstein_1d(&u, &v, Some(&u_weights), Some(&v_weights)).print();
}
