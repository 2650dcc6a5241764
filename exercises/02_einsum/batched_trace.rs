// Exercise 02_einsum/batched_trace: a letter repeated in one operand takes a diagonal.
//
// So far a letter appeared at most once per operand. Written twice in the same operand, it
// walks both dimensions together, which picks the diagonal:
//
//     torch.einsum("ii->i", m)   # m.diagonal(): result[i] = m[i, i]
//     torch.einsum("ii->", m)    # m.trace():    the diagonal, summed (i is not in the output)
//
// With a batch letter in front this works on a whole stack of matrices at once: "bii->b" gives
// one trace per matrix, with no loop over the batch and no diagonal(..) with dimension numbers
// to get right. Both dimensions that share a letter must have the same size: the matrices must
// be square.
//
// The trap: "bij->b" has the right shape and sums every entry, not only the diagonal. "bij->bi"
// has the right shape too and gives row sums. The checks compare values, not only shapes.
//
// The checks read your code: use `Tensor::einsum`, and do not call `diagonal`, `diag` or
// `trace` (what your results are compared with) outside `main`.

use tch::{Device, Kind, Tensor};

/// The trace of every matrix of a batch: for `m` of shape `[batch, n, n]`, the `[batch]` tensor
/// with `result[s] = sum over i of m[s][i][i]`, written with einsum.
///
/// PyTorch:
/// ```python
/// torch.einsum("bii->b", m)   # the same as m.diagonal(dim1=-2, dim2=-1).sum(-1)
/// ```
pub fn traces(m: &Tensor) -> Tensor {
    // TODO
    todo!("traces of shape {:?}", m.size())
}

/// The diagonal of every matrix of a batch: for `m` of shape `[batch, n, n]`, the `[batch, n]`
/// tensor with `result[s][i] = m[s][i][i]`, written with einsum.
///
/// PyTorch:
/// ```python
/// torch.einsum("bii->bi", m)   # the same as m.diagonal(dim1=-2, dim2=-1)
/// ```
pub fn diagonals(m: &Tensor) -> Tensor {
    // TODO
    todo!("diagonals of shape {:?}", m.size())
}

fn main() {
    // The identity and twice the identity: traces 3 and 6.
    let eye = Tensor::eye(3, (Kind::Float, Device::Cpu));
    let m = Tensor::stack(&[&eye, &(&eye * 2.0)], 0);
    traces(&m).print();
    diagonals(&m).print();
}
