// Reference solution of 02_einsum/batched_trace.

use tch::{Device, Kind, Tensor};

/// The trace of every matrix of a batch, as einsum.
pub fn traces(m: &Tensor) -> Tensor {
    // i twice in one operand: the diagonal; i not in the output: summed.
    Tensor::einsum("bii->b", &[m], None::<i64>)
}

/// The diagonal of every matrix of a batch, as einsum.
pub fn diagonals(m: &Tensor) -> Tensor {
    // The same diagonal, with i kept in the output: nothing is summed.
    Tensor::einsum("bii->bi", &[m], None::<i64>)
}

fn main() {
    // The identity and twice the identity: traces 3 and 6.
    let eye = Tensor::eye(3, (Kind::Float, Device::Cpu));
    let m = Tensor::stack(&[&eye, &(&eye * 2.0)], 0);
    traces(&m).print();
    diagonals(&m).print();
}
