// Exercise 08_losses_metrics/sinkhorn_transport: entropic optimal transport, stable in the log domain.
//
// Optimal transport between two discrete distributions, weights a over n points and b over m
// points, looks for the plan P (an [n, m] matrix, P[i, j] = mass sent from i to j) with rows
// summing to a and columns to b that minimizes the total cost sum P[i, j] C[i, j]. That is a
// linear program. Cuturi (2013) added an entropy term, epsilon * sum P log P: the problem becomes
// smooth, and its solution has the form
//
//     P[i, j] = exp((f[i] + g[j] - C[i, j]) / epsilon)
//
// for two vectors f and g (the dual potentials). Sinkhorn's algorithm finds them by
// alternately making the rows and the columns sum right:
//
//     f[i] = epsilon * (log a[i] - logsumexp over j of (g[j] - C[i, j]) / epsilon)
//     g[j] = epsilon * (log b[j] - logsumexp over i of (f[i] - C[i, j]) / epsilon)
//
// As epsilon shrinks, the plan approaches the exact optimal plan and sum P C the exact cost
// (the checks compare with the linear program's answer). The textbook version instead scales
// rows and columns of the kernel K = exp(-C / epsilon), u = a / (K v), v = b / (K^T u): the same
// iterations with exp(f / eps) and exp(g / eps). For C = 3 and epsilon = 0.001, K = exp(-3000)
// is 0 in float64, u = a / 0 = inf, and everything is NaN. In the log domain nothing
// is exponentiated until the end, and logsumexp subtracts its maximum first: small epsilon costs
// iterations (about 1 / epsilon of them), never stability.
//
// A Rust loop over the iterations is right here: each iteration depends on the previous one.
// Inside an iteration, everything is one tensor expression (no loop over rows).

use tch::Tensor;

/// Entropic optimal transport between the weights `a` (`[n]`, positive, sum 1) and `b` (`[m]`,
/// positive, sum 1) for the cost matrix `cost` (`[n, m]`), by `iterations` Sinkhorn iterations in
/// the log domain. Start from `f = 0` and `g = 0` (`[n]` and `[m]`); each iteration updates `f`,
/// then `g` with the new `f` (the formulas above). Returns `(sum(plan * cost), plan)`: the
/// transport cost as a scalar first, then the plan `[n, m]`,
/// `plan[i, j] = exp((f[i] + g[j] - cost[i, j]) / epsilon)`. Finite for any epsilon > 0.
///
/// PyTorch:
/// ```python
/// f, g = torch.zeros_like(a), torch.zeros_like(b)
/// for _ in range(iterations):
///     f = eps * (a.log() - ((g[None, :] - cost) / eps).logsumexp(dim=1))
///     g = eps * (b.log() - ((f[:, None] - cost) / eps).logsumexp(dim=0))
/// plan = ((f[:, None] + g[None, :] - cost) / eps).exp()
/// return (plan * cost).sum(), plan
/// ```
pub fn sinkhorn(a: &Tensor, b: &Tensor, cost: &Tensor, epsilon: f64, iterations: i64) -> (Tensor, Tensor) {
    // TODO
    todo!(
        "sinkhorn from {:?} to {:?} with a cost of shape {:?}, epsilon {epsilon}, {iterations} iterations",
        a.size(),
        b.size(),
        cost.size()
    )
}

fn main() {
    // Two points on the left, two on the right; each left point is nearest one right point.
    let a = Tensor::from_slice(&[0.5f64, 0.5]);
    let b = Tensor::from_slice(&[0.5f64, 0.5]);
    let cost = Tensor::from_slice(&[0.0f64, 1.0, 1.0, 0.0]).reshape([2, 2]);
    // A large epsilon blurs the plan: mass goes the expensive way too.
    let (total, plan) = sinkhorn(&a, &b, &cost, 1.0, 100);
    total.print();
    plan.print();
    // A small one approaches the exact plan [[0.5, 0], [0, 0.5]] and cost 0.
    let (total, plan) = sinkhorn(&a, &b, &cost, 0.01, 100);
    total.print();
    plan.print();
}
