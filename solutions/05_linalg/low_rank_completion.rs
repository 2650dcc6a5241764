// Reference solution of 05_linalg/low_rank_completion.

use tch::{Device, Kind, Tensor};

/// `m` with its hidden entries (where `mask` is false) replaced by 0, whatever they held.
fn observed(m: &Tensor, mask: &Tensor) -> Tensor {
    // where, not m * mask: a hidden NaN times 0 is still NaN.
    m.where_self(mask, &m.zeros_like())
}

/// The regularized squared error of `u v^T` on the observed entries of `m` (`mask` true):
/// `sum over observed (i, j) of (m[i, j] - u[i] . v[j])^2 + lambda (|u|_F^2 + |v|_F^2)`.
pub fn completion_loss(m: &Tensor, mask: &Tensor, u: &Tensor, v: &Tensor, lambda: f64) -> Tensor {
    let residual = (observed(m, mask) - u.matmul(&v.tr())).where_self(mask, &m.zeros_like());
    residual.square().sum(m.kind()) + (u.square().sum(m.kind()) + v.square().sum(m.kind())) * lambda
}

/// The rows `u` (`[n, r]`) that minimize `completion_loss` for a fixed `v` (`[p, r]`): for every
/// row `i` at once, `(sum over observed j of v[j] v[j]^T + lambda I) u[i] = sum over observed j
/// of m[i, j] v[j]`.
pub fn solve_rows(m: &Tensor, mask: &Tensor, v: &Tensor, lambda: f64) -> Tensor {
    let r = v.size()[1];
    let weights = mask.to_kind(v.kind());
    // One r x r system per row: the Gram matrix of the v[j] that row i observes, [n, r, r].
    let gram = Tensor::einsum("ij,jr,js->irs", &[&weights, v, v], None::<i64>);
    let systems = gram + Tensor::eye(r, (v.kind(), v.device())) * lambda;
    let rhs = observed(m, mask).matmul(v);
    Tensor::linalg_solve(&systems, &rhs, true)
}

/// Alternating least squares from `u0` (`[n, r]`) and `v0` (`[p, r]`): `iterations` times, `u`
/// from `v`, then `v` from the new `u`. Returns `u`, `v` and the loss before the first and
/// after every iteration (`iterations + 1` numbers).
pub fn factorize(
    m: &Tensor,
    mask: &Tensor,
    u0: &Tensor,
    v0: &Tensor,
    lambda: f64,
    iterations: usize,
) -> (Tensor, Tensor, Vec<f64>) {
    let (mut u, mut v) = (u0.copy(), v0.copy());
    let mut losses = vec![completion_loss(m, mask, &u, &v, lambda).double_value(&[])];
    for _ in 0..iterations {
        u = solve_rows(m, mask, &v, lambda);
        // The same problem seen from the columns: m^T = v u^T.
        v = solve_rows(&m.tr(), &mask.tr(), &u, lambda);
        losses.push(completion_loss(m, mask, &u, &v, lambda).double_value(&[]));
    }
    (u, v, losses)
}

fn main() {
    tch::manual_seed(0);
    let opts = (Kind::Float, Device::Cpu);
    // A rank-2 matrix of 20 x 15 with 40 % of its entries hidden.
    let truth = Tensor::randn([20, 2], opts).matmul(&Tensor::randn([2, 15], opts));
    let mask = Tensor::rand([20, 15], opts).gt(0.4);
    let (u0, v0) = (Tensor::randn([20, 2], opts) * 0.1, Tensor::randn([15, 2], opts) * 0.1);
    let (u, v, losses) = factorize(&truth, &mask, &u0, &v0, 0.1, 10);
    println!("losses {losses:?}");
    let hidden = mask.logical_not();
    let error = (u.matmul(&v.tr()) - &truth).masked_select(&hidden);
    println!("RMSE on hidden entries {}", error.square().mean(Kind::Float).sqrt().double_value(&[]));
}
