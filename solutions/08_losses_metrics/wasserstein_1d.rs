// Reference solution of 08_losses_metrics/wasserstein_1d.

use tch::Tensor;

/// The CDF of the samples `values` (weighted by `weights`, or each counting 1) at every point of
/// `at`: the weight of the samples <= the point, divided by the total weight.
fn cdf(values: &Tensor, weights: Option<&Tensor>, at: &Tensor) -> Tensor {
    let (sorted, order) = values.sort(0, false);
    // How many sorted samples are <= each point: side "right" counts the samples equal to it.
    let counts = at.searchsorted(&sorted, false, true, "right", None::<Tensor>);
    match weights {
        None => counts.to_kind(at.kind()) / values.size()[0] as f64,
        Some(w) => {
            // The running total of the weights in the samples' sorted order, with a 0 in front:
            // cumulative[k] is the weight of the k smallest samples.
            let cumulative = Tensor::cat(
                &[w.zeros_like().narrow(0, 0, 1), w.index_select(0, &order).cumsum(0, w.kind())],
                0,
            );
            cumulative.index_select(0, &counts) / cumulative.get(-1)
        }
    }
}

/// The 1-Wasserstein distance between the empirical distributions of `u` and `v` (1-D samples,
/// optionally weighted): the integral of |CDF_u - CDF_v|, as scipy.stats.wasserstein_distance.
pub fn wasserstein_1d(
    u: &Tensor,
    v: &Tensor,
    u_weights: Option<&Tensor>,
    v_weights: Option<&Tensor>,
) -> Tensor {
    // Both CDFs are steps that only change at a sample: between two consecutive points of all
    // the samples they are constant, so the integral is a sum over those gaps.
    let (all, _) = Tensor::cat(&[u, v], 0).sort(0, false);
    // The gaps carry the gradient with respect to the samples (sort's values are differentiable).
    let gaps = all.diff(1, 0, None::<Tensor>, None::<Tensor>);
    let left_ends = all.narrow(0, 0, all.size()[0] - 1);
    let difference = cdf(u, u_weights, &left_ends) - cdf(v, v_weights, &left_ends);
    (difference.abs() * gaps).sum(all.kind())
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
