// Reference solution of 08_losses_metrics/sinkhorn_transport.

use tch::Tensor;

/// Entropic optimal transport between the weights `a` (`[n]`) and `b` (`[m]`) for the cost
/// matrix `cost` (`[n, m]`), by Sinkhorn's iterations in the log domain. Returns the transport
/// cost `sum(plan * cost)` (a scalar) and the plan (`[n, m]`), in that order.
pub fn sinkhorn(a: &Tensor, b: &Tensor, cost: &Tensor, epsilon: f64, iterations: i64) -> (Tensor, Tensor) {
    let (log_a, log_b) = (a.log(), b.log());
    // The dual potentials: plan[i, j] = exp((f[i] + g[j] - cost[i, j]) / epsilon).
    let mut f = a.zeros_like();
    let mut g = b.zeros_like();
    for _ in 0..iterations {
        // Rows sum to a: f[i] = eps (log a[i] - logsumexp_j (g[j] - cost[i, j]) / eps).
        // logsumexp subtracts the maximum first, so (g - cost) / eps of -3000 (epsilon 0.001)
        // is as harmless as -3: the kernel exp(-cost / eps) is never formed.
        f = (&log_a - ((g.unsqueeze(0) - cost) / epsilon).logsumexp([1], false)) * epsilon;
        // Then columns sum to b, with the new f.
        g = (&log_b - ((f.unsqueeze(1) - cost) / epsilon).logsumexp([0], false)) * epsilon;
    }
    let plan = ((f.unsqueeze(1) + g.unsqueeze(0) - cost) / epsilon).exp();
    ((&plan * cost).sum(plan.kind()), plan)
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
