// Exercise 00_intro/broadcasting: let shapes line up instead of writing loops.
//
// Broadcasting works as in PyTorch: shapes are compared from the last dimension backwards,
// and a dimension of size 1 (or a missing one) stretches to match the other tensor. So
// `[n, d] - [1, d]` subtracts a row from every row, and `[n, 1] + [1, m]` gives `[n, m]`.
// `unsqueeze(dim)` inserts a dimension of size 1: PyTorch's `x[:, None]` is `x.unsqueeze(1)`.
//
// A trap worth knowing: `[n, d] * [n]` lines `n` up with `d`, not with `n`. When n == d it
// runs without an error and silently scales the wrong axis. The checks try square inputs.

use tch::{Device, Kind, Tensor};

/// Subtracts each column's mean: for `x` of shape `[n, d]`,
/// `result[i][j] = x[i][j] - mean over i of x[i][j]`.
///
/// PyTorch: `x - x.mean(dim=0, keepdim=True)`
pub fn center_columns(x: &Tensor) -> Tensor {
    // TODO: the mean of each column, kept as shape [1, d] so that it broadcasts over rows.
    todo!("center_columns of shape {:?}", x.size())
}

/// Every pairwise sum: for `a` of shape `[n]` and `b` of shape `[m]`, the `[n, m]` matrix with
/// `result[i][j] = a[i] + b[j]`.
///
/// PyTorch: `a[:, None] + b[None, :]`
pub fn outer_sum(a: &Tensor, b: &Tensor) -> Tensor {
    // TODO
    todo!("outer_sum of shapes {:?} and {:?}", a.size(), b.size())
}

/// Scales row `i` of `x` (shape `[n, d]`) by `w[i]` (`w` has shape `[n]`).
///
/// PyTorch: `x * w[:, None]`
pub fn scale_rows(x: &Tensor, w: &Tensor) -> Tensor {
    // TODO
    todo!("scale_rows of shapes {:?} and {:?}", x.size(), w.size())
}

fn main() {
    let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]);
    center_columns(&x).print();
    let a = Tensor::arange(3, (Kind::Float, Device::Cpu));
    outer_sum(&a, &a).print();
    scale_rows(&x, &Tensor::from_slice(&[10.0f32, 100.0])).print();
}
