// Reference solution of 02_einsum/einsum_bmm.

use tch::{Device, Kind, Tensor};

/// A batch of matrix products, `torch.bmm(a, b)`, as einsum.
pub fn bmm(a: &Tensor, b: &Tensor) -> Tensor {
    // b is in both operands and in the output: a batch index, kept and paired up. j is summed.
    Tensor::einsum("bij,bjk->bik", &[a, b], None::<i64>)
}

/// `x @ w` for every matrix of the batch `x`, as einsum.
pub fn shared_weights(x: &Tensor, w: &Tensor) -> Tensor {
    // w has no b: the same w meets every x[b], without expanding it into copies.
    Tensor::einsum("bnd,de->bne", &[x, w], None::<i64>)
}

fn main() {
    // Two 2x2 matrices times the identity and times twice the identity.
    let a = Tensor::arange(8, (Kind::Float, Device::Cpu)).reshape([2, 2, 2]);
    let eye = Tensor::eye(2, (Kind::Float, Device::Cpu));
    let b = Tensor::stack(&[&eye, &(&eye * 2.0)], 0);
    bmm(&a, &b).print();
    // Swaps the two features of every row of every batch.
    let swap = Tensor::from_slice(&[0.0f32, 1.0, 1.0, 0.0]).reshape([2, 2]);
    shared_weights(&a, &swap).print();
}
