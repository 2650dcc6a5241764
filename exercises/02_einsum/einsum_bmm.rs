// Exercise 02_einsum/einsum_bmm: a batch of matrix products, and one weight shared by a batch.
//
// A letter can play three parts in an equation:
// - in two operands and not in the output: summed over (j in "bij,bjk->bik");
// - in an operand and in the output, nowhere else: a free index (i and k);
// - in every operand and in the output: a batch index (b), which pairs the operands up
//   element by element and is neither summed nor multiplied across.
//
// So "bij,bjk->bik" is `torch.bmm`: a[s] @ b[s] for every s. Leave the batch letter out of one
// operand, "bnd,de->bne", and one matrix applies to every matrix of the batch: this is what a
// linear layer does to a batch of sequences, x @ w with x of shape [batch, tokens, features].
// No reshape to [batch * tokens, features] and back, no expand of w into a batch of copies.
//
// The trap of the previous exercise returns: "bij,bkj->bik" (b's matrices transposed) runs
// without an error whenever they are square, and "bnd,ed->bne" (w transposed, which is how
// nn.Linear stores its weight) whenever d == e. The checks try square shapes too.
//
// The checks read your code: use `Tensor::einsum`, and no `matmul`, `mm`, `mv` or `bmm` outside `main`.

use tch::{Device, Kind, Tensor};

/// A batch of matrix products: for `a` of shape `[batch, n, m]` and `b` of shape
/// `[batch, m, p]`, the `[batch, n, p]` tensor with `result[s] = a[s] @ b[s]` for every `s`,
/// written with einsum.
///
/// PyTorch:
/// ```python
/// torch.einsum("bij,bjk->bik", a, b)   # the same as torch.bmm(a, b)
/// ```
pub fn bmm(a: &Tensor, b: &Tensor) -> Tensor {
    // TODO
    todo!("bmm of shapes {:?} and {:?}", a.size(), b.size())
}

/// One weight matrix applied to a whole batch: for `x` of shape `[batch, n, d]` and `w` of shape
/// `[d, e]`, the `[batch, n, e]` tensor with `result[s] = x[s] @ w` for every `s`, written with
/// einsum. (A linear layer without bias on a batch of sequences, with the weight stored as
/// `[in, out]`.)
///
/// PyTorch:
/// ```python
/// torch.einsum("bnd,de->bne", x, w)   # the same as x @ w
/// ```
pub fn shared_weights(x: &Tensor, w: &Tensor) -> Tensor {
    // TODO
    todo!("shared_weights of shapes {:?} and {:?}", x.size(), w.size())
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
