// Reference solution of 02_einsum/einsum_matmul.

use tch::{Device, Kind, Tensor};

/// The matrix product `a @ b`, as einsum.
pub fn matmul(a: &Tensor, b: &Tensor) -> Tensor {
    // j is shared by both operands and missing from the output: it is summed over. i and k
    // stay, in the order a's rows, b's columns.
    Tensor::einsum("ij,jk->ik", &[a, b], None::<i64>)
}

/// The matrix-vector product `a @ x`, as einsum.
pub fn matvec(a: &Tensor, x: &Tensor) -> Tensor {
    // The same contraction with no k: x's only dimension pairs with a's columns.
    Tensor::einsum("ij,j->i", &[a, x], None::<i64>)
}

fn main() {
    let a = Tensor::arange(6, (Kind::Float, Device::Cpu)).reshape([2, 3]);
    let b = Tensor::ones([3, 2], (Kind::Float, Device::Cpu));
    // [[3, 3], [12, 12]]: each row of a summed, twice.
    matmul(&a, &b).print();
    // [-2, -2]: first minus last element of each row.
    matvec(&a, &Tensor::from_slice(&[1.0f32, 0.0, -1.0])).print();
}
