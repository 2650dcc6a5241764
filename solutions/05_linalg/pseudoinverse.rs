// Reference solution of 05_linalg/pseudoinverse.

use tch::{Kind, Tensor};

/// The machine epsilon of a floating-point kind.
fn epsilon(kind: Kind) -> f64 {
    if kind == Kind::Double { f64::EPSILON } else { f32::EPSILON as f64 }
}

/// The Moore-Penrose pseudoinverse of every matrix of `a` (`[.., m, n]` gives `[.., n, m]`),
/// through the SVD, dropping the singular values at or below `rtol * s.max()` of each matrix;
/// `rtol` defaults to `max(m, n) * eps`, as in `torch.linalg.pinv`.
pub fn pinv(a: &Tensor, rtol: Option<f64>) -> Tensor {
    let (m, n) = (a.size()[a.dim() - 2], a.size()[a.dim() - 1]);
    let rtol = rtol.unwrap_or(m.max(n) as f64 * epsilon(a.kind()));
    let (u, s, v) = a.svd(true, true);
    // Each matrix's own largest singular value (the first: they are sorted), as [.., 1].
    let cutoff = s.narrow(-1, 0, 1) * rtol;
    let keep = s.gt_tensor(&cutoff);
    // 1 / s where s is kept, 0 elsewhere. Choosing after the division: a dropped 0 gives an
    // inf that is thrown away, where multiplying by a 0/1 mask would give inf * 0 = NaN.
    let s_inv = s.reciprocal().where_self(&keep, &s.zeros_like());
    // a = u diag(s) v^T, so a^+ = v diag(1/s) u^T.
    (v * s_inv.unsqueeze(-2)).matmul(&u.transpose(-2, -1))
}

/// The least-squares solution of minimum norm of `a x = b` for every matrix of the batch
/// (`a` `[.., m, n]`, `b` `[.., m, k]`, `x` `[.., n, k]`): `pinv(a) b`.
pub fn least_squares(a: &Tensor, b: &Tensor) -> Tensor {
    pinv(a, None).matmul(b)
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
