// Reference solution of 05_linalg/svd_analysis.

use tch::{Device, Kind, Tensor};

/// `u diag(s) v^T` for every matrix of a batch: `u` `[.., m, k]`, `s` `[.., k]`, `v` `[.., n, k]`.
pub fn reconstruct(u: &Tensor, s: &Tensor, v: &Tensor) -> Tensor {
    // Scaling column j of u by s[j] is u * s broadcast as a row ([.., 1, k]): no diagonal matrix.
    (u * s.unsqueeze(-2)).matmul(&v.transpose(-2, -1))
}

/// The machine epsilon of a floating-point kind.
fn epsilon(kind: Kind) -> f64 {
    if kind == Kind::Double { f64::EPSILON } else { f32::EPSILON as f64 }
}

/// The numerical rank of every matrix of `a` (`[.., m, n]`): how many singular values exceed
/// `s.max() * max(m, n) * eps`, as int64 of shape `[..]`.
pub fn numerical_rank(a: &Tensor) -> Tensor {
    let (m, n) = (a.size()[a.dim() - 2], a.size()[a.dim() - 1]);
    // Only the singular values: compute_uv = false.
    let (_, s, _) = a.svd(true, false);
    // Singular values come sorted, largest first: the first is each matrix's own maximum. The
    // tolerance is relative to it, so scaling a matrix does not change its rank.
    let tol = s.narrow(-1, 0, 1) * (m.max(n) as f64 * epsilon(a.kind()));
    s.gt_tensor(&tol).sum_dim_intlist(-1, false, Kind::Int64)
}

/// The 2-norm condition number of every matrix of `a`: its largest singular value over its
/// smallest, of shape `[..]`.
pub fn condition_number(a: &Tensor) -> Tensor {
    let (_, s, _) = a.svd(true, false);
    s.select(-1, 0) / s.select(-1, -1)
}

/// The best approximation of rank `k` of every matrix of `a` (Eckart-Young: keep the `k`
/// largest singular values), and its error `|a - approximation|_F`, which is the square root
/// of the sum of the squared singular values that were dropped.
pub fn best_rank_k(a: &Tensor, k: i64) -> (Tensor, Tensor) {
    let (u, s, v) = a.svd(true, true);
    let r = s.size()[s.dim() - 1];
    // The first k columns of u and v (the last dimension), the first k singular values.
    let approximation = reconstruct(&u.narrow(-1, 0, k), &s.narrow(-1, 0, k), &v.narrow(-1, 0, k));
    let error = s.narrow(-1, k, r - k).square().sum_dim_intlist(-1, false, None::<Kind>).sqrt();
    (approximation, error)
}

fn main() {
    // A rank-1 matrix: the outer product of (1, 2, 3) and (1, 1).
    let a = Tensor::from_slice(&[1.0f32, 1.0, 2.0, 2.0, 3.0, 3.0]).reshape([3, 2]);
    let (u, s, v) = a.svd(true, true);
    reconstruct(&u, &s, &v).print();
    println!("rank {}", numerical_rank(&a).int64_value(&[]));
    let b = Tensor::eye(3, (Kind::Float, Device::Cpu)) * Tensor::from_slice(&[4.0f32, 2.0, 1.0]);
    println!("condition number {}", condition_number(&b).double_value(&[]));
    let (approximation, error) = best_rank_k(&b, 1);
    approximation.print();
    // sqrt(2^2 + 1^2)
    println!("error {}", error.double_value(&[]));
}
