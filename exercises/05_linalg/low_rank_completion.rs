// Exercise 05_linalg/low_rank_completion: fill in a matrix's missing entries by a low-rank fit.
//
// A matrix of ratings (users x items) is mostly empty, and mostly explained by a few factors:
// m ~ u v^T with u [n, r] and v [p, r] for a small rank r. Fitting u and v to the entries that
// are known (mask true) predicts the others. The loss, with L2 regularization that keeps the
// factors small (and the problem well posed where a row has few known entries):
//
//     L(u, v) = sum over observed (i, j) of (m[i, j] - u[i] . v[j])^2 + lambda (|u|_F^2 + |v|_F^2)
//
// Gradient descent on L works, slowly, with a learning rate to tune. Alternating least squares
// (ALS) is the classic: for a fixed v, L is a separate ridge regression for every row u[i],
//
//     (sum over observed j of v[j] v[j]^T + lambda I) u[i] = sum over observed j of m[i, j] v[j],
//
// solved exactly; then the same for v with u fixed (the transposed problem: m^T ~ v u^T). Each
// half-step minimizes L over half the variables exactly, so the loss can only go down. And all
// rows are solved at once: the n Gram matrices are one einsum with the mask as weights, [n, r, r],
// and linalg_solve takes the batch of systems (the checks read solve_rows: no Rust loop).
//
// The hidden entries must not leak into the fit: the checks put NaN and huge numbers there and
// expect the very same result. That rules out `m * mask`, since NaN * 0 is NaN: select with
// `m.where_self(mask, &zeros)`. A row with no known entry has the system lambda I u = 0: u = 0.

use tch::{Device, Kind, Tensor};

/// The regularized squared error of `u v^T` on the observed entries of `m` (`mask` true, a
/// bool tensor of `m`'s shape), as a scalar tensor:
/// `sum over observed (i, j) of (m[i, j] - u[i] . v[j])^2 + lambda (|u|_F^2 + |v|_F^2)`.
/// The hidden entries of `m` may hold anything, NaN included.
///
/// PyTorch:
/// ```python
/// residual = torch.where(mask, m - u @ v.T, 0)
/// (residual ** 2).sum() + lam * (u.square().sum() + v.square().sum())
/// ```
pub fn completion_loss(m: &Tensor, mask: &Tensor, u: &Tensor, v: &Tensor, lambda: f64) -> Tensor {
    // TODO
    todo!(
        "completion_loss of {:?} with mask {:?}, u {:?}, v {:?}, lambda {lambda}",
        m.size(),
        mask.size(),
        u.size(),
        v.size()
    )
}

/// The rows `u` (`[n, r]`) that minimize `completion_loss` for a fixed `v` (`[p, r]`), every row
/// at once: `(sum over observed j of v[j] v[j]^T + lambda I) u[i] = sum over observed j of
/// m[i, j] v[j]`.
///
/// PyTorch:
/// ```python
/// w = mask.to(v.dtype)
/// gram = torch.einsum("ij,jr,js->irs", w, v, v) + lam * torch.eye(r)   # [n, r, r]
/// rhs = torch.where(mask, m, 0) @ v                                   # [n, r]
/// torch.linalg.solve(gram, rhs)
/// ```
pub fn solve_rows(m: &Tensor, mask: &Tensor, v: &Tensor, lambda: f64) -> Tensor {
    // TODO
    todo!("solve_rows of {:?} with mask {:?}, v {:?}, lambda {lambda}", m.size(), mask.size(), v.size())
}

/// Alternating least squares from `u0` (`[n, r]`) and `v0` (`[p, r]`): `iterations` times, `u`
/// from `v` (solve_rows), then `v` from the new `u` (solve_rows on the transposed problem).
/// Returns `u`, `v` and the losses: before the first iteration and after every one
/// (`iterations + 1` numbers). `u0` and `v0` are left as they are.
pub fn factorize(
    m: &Tensor,
    mask: &Tensor,
    u0: &Tensor,
    v0: &Tensor,
    lambda: f64,
    iterations: usize,
) -> (Tensor, Tensor, Vec<f64>) {
    // TODO: start from copies of u0 and v0; record the loss with `.double_value(&[])`.
    todo!(
        "factorize of {:?} with mask {:?}, u0 {:?}, v0 {:?}, lambda {lambda}, {iterations} iterations",
        m.size(),
        mask.size(),
        u0.size(),
        v0.size()
    )
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
