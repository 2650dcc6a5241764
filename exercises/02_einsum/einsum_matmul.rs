// Exercise 02_einsum/einsum_matmul: matrix products written as Einstein summation.
//
// einsum gives every dimension of every operand a letter, and says after `->` which letters
// the result keeps, in which order:
//
//     torch.einsum("ij,jk->ik", a, b)    # result[i, k] = sum over j of a[i, j] * b[j, k]
//
// Three rules read any equation:
// - a letter shared by two operands pairs their elements up along that dimension (the sizes
//   must agree);
// - a letter missing from the output is summed over;
// - the output's letters are its dimensions, in that order.
//
// Why bother, when `a @ b` exists? Because the same notation writes batched products, traces,
// outer products and attention (the rest of this section) without a single transpose or
// reshape, and the equation documents the shapes.
//
// The trap: a wrong equation is only an error when the sizes disagree. "ij,jk->ki" is
// (a @ b).T and "ij,kj->ik" is a @ b.T; on square matrices both run and return wrong numbers.
// The checks use square inputs too.
//
// tch: `Tensor::einsum("ij,jk->ik", &[a, b], None::<i64>)`. The operands go in a slice; the last
// argument is an optional contraction path (the order in which to contract three or more
// operands, as opt_einsum computes it): `None::<i64>` lets libtorch choose.
//
// Without `->` (implicit mode), einsum keeps the letters that appear once, in alphabetical
// order, and sums the rest: "ij,jk" is "ij,jk->ik", but "bnd,de" is "bnd,de->ben", not
// "->bne". Always write the `->`.
//
// This section is about einsum: the checks read your code, which must use `Tensor::einsum` and
// must not call `matmul`, `mm`, `mv` or `bmm` (what your results are compared with). `main` is
// yours to play in: compare with `a.matmul(&b)` there if you like.

use tch::{Device, Kind, Tensor};

/// The matrix product of `a` (shape `[n, m]`) and `b` (shape `[m, p]`): the `[n, p]` matrix with
/// `result[i][k] = sum over j of a[i][j] * b[j][k]`, written with einsum.
///
/// PyTorch:
/// ```python
/// torch.einsum("ij,jk->ik", a, b)   # the same as a @ b
/// ```
pub fn matmul(a: &Tensor, b: &Tensor) -> Tensor {
    // TODO
    todo!("matmul of shapes {:?} and {:?}", a.size(), b.size())
}

/// The product of the matrix `a` (shape `[n, m]`) and the vector `x` (shape `[m]`): the `[n]`
/// vector with `result[i] = sum over j of a[i][j] * x[j]`, written with einsum.
///
/// PyTorch:
/// ```python
/// torch.einsum("ij,j->i", a, x)   # the same as a @ x
/// ```
pub fn matvec(a: &Tensor, x: &Tensor) -> Tensor {
    // TODO
    todo!("matvec of shapes {:?} and {:?}", a.size(), x.size())
}

fn main() {
    let a = Tensor::arange(6, (Kind::Float, Device::Cpu)).reshape([2, 3]);
    let b = Tensor::ones([3, 2], (Kind::Float, Device::Cpu));
    // [[3, 3], [12, 12]]: each row of a summed, twice.
    matmul(&a, &b).print();
    // [-2, -2]: first minus last element of each row.
    matvec(&a, &Tensor::from_slice(&[1.0f32, 0.0, -1.0])).print();
}
