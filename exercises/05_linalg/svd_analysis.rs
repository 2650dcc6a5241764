// Exercise 05_linalg/svd_analysis: what the singular value decomposition tells about a matrix.
//
// Every matrix a ([m, n]) is u diag(s) v^T, with u's and v's columns orthonormal and the
// singular values s >= 0 sorted from the largest. tch's `a.svd(true, true)` returns (u, s, v)
// for a matrix or a batch of them: u [.., m, k], s [.., k], v [.., n, k] with k = min(m, n).
// Note v, not v^T as torch.linalg.svd's Vh. (`Tensor::linalg_svd` fails on the CPU in this
// libtorch for every driver string, `svd` works; `svd(true, false)` skips u and v when only
// the singular values are needed.)
//
// The singular values answer the questions one asks of a matrix:
// - its rank: how many singular values are not zero. In floating point, "zero" means "below
//   the rounding noise", which is about eps * s.max() per dimension: torch.linalg.matrix_rank
//   counts the singular values above s.max() * max(m, n) * eps, with eps the machine epsilon of
//   the matrix's dtype (1.19e-7 for float32, 2.2e-16 for float64). A fixed tolerance such as
//   1e-6 is wrong for a matrix of norm 1e6 or 1e-6: the rank must not change when the matrix
//   is scaled. And it is per matrix: in a batch each matrix has its own s.max().
// - its condition number s.max() / s.min(): how much a relative error in the input of a
//   linear solve can grow in the output.
// - its best approximation of rank k (the theorem of Eckart and Young): keep the k largest
//   singular values and their vectors. No matrix of rank k is closer, and the distance
//   |a - a_k|_F is exactly sqrt(s[k]^2 + s[k+1]^2 + ...), the singular values dropped.
//
// u and v are not unique (a column of u and the same column of v can both change sign, and
// inside a repeated singular value any rotation works), so the checks never compare them: they
// compare what is unique, the reconstructions, ranks, condition numbers and approximations.
// Every function works on a batch of matrices ([.., m, n]) as well as on one.

use tch::{Device, Kind, Tensor};

/// `u diag(s) v^T` for every matrix of a batch: `u` `[.., m, k]`, `s` `[.., k]`, `v` `[.., n, k]`.
///
/// PyTorch:
/// ```python
/// (u * s.unsqueeze(-2)) @ v.mT      # or u @ torch.diag_embed(s) @ v.mT
/// ```
pub fn reconstruct(u: &Tensor, s: &Tensor, v: &Tensor) -> Tensor {
    // TODO: scale the columns of u by s, then multiply by v transposed (its last two dims).
    todo!("reconstruct from u {:?}, s {:?}, v {:?}", u.size(), s.size(), v.size())
}

/// The numerical rank of every matrix of `a` (`[.., m, n]`): how many singular values are
/// greater than `s.max() * max(m, n) * eps` (eps: the machine epsilon of `a`'s kind, `f32::EPSILON`
/// or `f64::EPSILON`), as an int64 tensor of shape `[..]`.
///
/// PyTorch:
/// ```python
/// torch.linalg.matrix_rank(a)
/// ```
pub fn numerical_rank(a: &Tensor) -> Tensor {
    // TODO: the singular values, each matrix's tolerance, then count (sum_dim_intlist to Int64).
    todo!("numerical_rank of shape {:?}", a.size())
}

/// The 2-norm condition number of every matrix of `a`: its largest singular value over its
/// smallest, of shape `[..]`.
///
/// PyTorch:
/// ```python
/// torch.linalg.cond(a)
/// ```
pub fn condition_number(a: &Tensor) -> Tensor {
    // TODO
    todo!("condition_number of shape {:?}", a.size())
}

/// The best approximation of rank `k` of every matrix of `a` (keep the `k` largest singular
/// values and their vectors), and its error `|a - approximation|_F` (shape `[..]`): the square
/// root of the sum of the squares of the singular values that were dropped. `k` may be 0 (the
/// approximation is zero) or `min(m, n)` (it is `a`).
///
/// PyTorch:
/// ```python
/// u, s, vh = torch.linalg.svd(a, full_matrices=False)
/// approximation = (u[..., :k] * s[..., None, :k]) @ vh[..., :k, :]
/// error = s[..., k:].square().sum(-1).sqrt()
/// ```
pub fn best_rank_k(a: &Tensor, k: i64) -> (Tensor, Tensor) {
    // TODO: narrow the last dimension of u, s and v to the first k.
    todo!("best_rank_k of shape {:?} with k = {k}", a.size())
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
