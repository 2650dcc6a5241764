// Exercise 05_linalg/pseudoinverse: the Moore-Penrose pseudoinverse, and why not (A^T A)^-1 A^T.
//
// A matrix a ([m, n]) that is not square, or not of full rank, has no inverse, but it has a
// pseudoinverse a^+ ([n, m]): the unique matrix x with the four Penrose conditions
//     a x a = a,   x a x = x,   (a x)^T = a x,   (x a)^T = x a.
// x = a^+ b is then the least-squares solution of a x = b, and among those the one of smallest
// norm (torch.linalg.lstsq's answer).
//
// From the SVD a = u diag(s) v^T it is a^+ = v diag(1/s) u^T, with one catch: a singular
// value that is zero (or only rounding noise, about eps * s.max()) must be dropped, its
// 1/s set to 0, not inverted into a huge number. torch.linalg.pinv drops the singular values
// at or below rtol * s.max() of each matrix, with rtol = max(m, n) * eps by default (eps: the
// machine epsilon of the dtype). Two traps in that line:
// - a zero singular value gives 1/0 = inf: choose 0 where s is dropped after the division
//   (`where_self`), because multiplying inf by a 0/1 mask gives NaN, not 0. The zero matrix,
//   whose pseudoinverse is the zero matrix, has nothing but such values, and a cutoff of 0.
// - s.max() is each matrix's own: in a batch, a matrix 1e7 times smaller than its neighbour
//   still has its singular values.
//
// The textbook formula for a tall matrix of full rank, (a^T a)^-1 a^T, is no way to compute it:
// a^T a squares the condition number (1e4 becomes 1e8, beyond float32's 1e7 digits), it is
// singular for a rank-deficient or wide a, and its inverse then is garbage or an error. The
// checks try an ill-conditioned matrix.
//
// Use `a.svd(true, true)` -> (u, s, v) (v, not v^T; `Tensor::linalg_svd` fails on the CPU in
// this libtorch). Both functions work on a batch of matrices ([.., m, n]) too.

use tch::{Kind, Tensor};

/// The Moore-Penrose pseudoinverse of every matrix of `a` (`[.., m, n]` gives `[.., n, m]`),
/// through the SVD, dropping the singular values at or below `rtol * s.max()` of each matrix.
/// `rtol` defaults to `max(m, n) * eps` (`f32::EPSILON` or `f64::EPSILON`, for `a`'s kind).
///
/// PyTorch:
/// ```python
/// torch.linalg.pinv(a, rtol=rtol)        # rtol=None: max(m, n) * eps
/// ```
pub fn pinv(a: &Tensor, rtol: Option<f64>) -> Tensor {
    // TODO: svd, each matrix's cutoff (s is sorted: s.narrow(-1, 0, 1) is its maximum), 1 / s
    // where kept and 0 elsewhere, then v diag(1/s) u^T.
    todo!("pinv of shape {:?} with rtol {rtol:?}", a.size())
}

/// The least-squares solution of minimum norm of `a x = b` for every matrix of the batch
/// (`a` `[.., m, n]`, `b` `[.., m, k]`, `x` `[.., n, k]`).
///
/// PyTorch:
/// ```python
/// torch.linalg.pinv(a) @ b      # = torch.linalg.lstsq(a, b, driver="gelsd").solution
/// ```
pub fn least_squares(a: &Tensor, b: &Tensor) -> Tensor {
    // TODO
    todo!("least_squares of shapes {:?} and {:?}", a.size(), b.size())
}

fn main() {
    // A rank-1 matrix: its pseudoinverse is its transpose over the square of its norm.
    let a = Tensor::from_slice(&[1.0f32, 2.0, 2.0, 4.0]).reshape([2, 2]);
    pinv(&a, None).print();
    // The same in float64, where the cutoff is max(m, n) * f64::EPSILON.
    pinv(&a.to_kind(Kind::Double), None).print();
    // The closest fit of y = c * x through (1, 2) and (2, 3): c = 8 / 5.
    let x = Tensor::from_slice(&[1.0f32, 2.0]).reshape([2, 1]);
    let y = Tensor::from_slice(&[2.0f32, 3.0]).reshape([2, 1]);
    least_squares(&x, &y).print();
}
