// A wrong answer to 00_intro/broadcasting.
// Subtracts the mean of the whole matrix, not of each column.
// expect: for x of shape [5, 3] (magnitude 1e0): `center_columns(x)` differs from the reference

use tch::{Device, Kind, Tensor};

/// Subtracts each column's mean.
pub fn center_columns(x: &Tensor) -> Tensor {
    // keepdim = true leaves the mean as [1, d], which broadcasts over the rows.
    x - x.mean(x.kind())
}

/// Every pairwise sum `a[i] + b[j]`, shape `[n, m]`.
pub fn outer_sum(a: &Tensor, b: &Tensor) -> Tensor {
    a.unsqueeze(1) + b.unsqueeze(0)
}

/// Scales row `i` of `x` by `w[i]`.
pub fn scale_rows(x: &Tensor, w: &Tensor) -> Tensor {
    // [n, d] * [n, 1]: the 1 stretches along the columns.
    x * w.unsqueeze(1)
}

fn main() {
    let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]);
    center_columns(&x).print();
    let a = Tensor::arange(3, (Kind::Float, Device::Cpu));
    outer_sum(&a, &a).print();
    scale_rows(&x, &Tensor::from_slice(&[10.0f32, 100.0])).print();
}
