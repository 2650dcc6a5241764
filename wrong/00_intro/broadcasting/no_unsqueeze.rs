// A wrong answer to 00_intro/broadcasting.
// Adds the vectors element by element instead of pairwise.
// expect: The size of tensor a (3) must match the size of tensor b (4)
// expect: `outer_sum(a, b)` has shape [5] but the reference has [5, 5]

use tch::{Device, Kind, Tensor};

/// Subtracts each column's mean.
pub fn center_columns(x: &Tensor) -> Tensor {
    // keepdim = true leaves the mean as [1, d], which broadcasts over the rows.
    x - x.mean_dim(0, true, x.kind())
}

/// Every pairwise sum `a[i] + b[j]`, shape `[n, m]`.
pub fn outer_sum(a: &Tensor, b: &Tensor) -> Tensor {
    a + b
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
