// Exercise 02_einsum/outer_products: einsum with nothing to sum.
//
// When every letter of the inputs appears in the output, einsum sums nothing: it multiplies every
// combination of elements and lays the products out in the order the output names.
//
//     torch.einsum("i,j->ij", x, y)   # the outer product: result[i, j] = x[i] * y[j]
//
// This is broadcasting with the unsqueezes written for you: "i,j->ij" is
// x[:, None] * y[None, :]. Its size is the product of all the output's dimensions, so it grows
// fast: [n, n, d, d] below holds n^2 d^2 numbers.
//
// The same tensor may appear twice among the operands, with different letters:
// `Tensor::einsum("id,je->ijde", &[x, x], None::<i64>)` pairs every row of x with every row.
//
// The trap: with nothing summed, every output order has the same number of elements, and often
// the same shape. "id,je->ijed" gives result[i, j] = outer(x[j], x[i]), that is
// outer(x[i], x[j]) transposed: the right answer whenever i == j or d == 1, where the outer
// product is symmetric. The checks compare pairs of different rows, with d > 1.
//
// The checks read your code: use `Tensor::einsum`.

use tch::Tensor;

/// The outer product of each pair of rows: for `x` of shape `[batch, n]` and `y` of shape
/// `[batch, m]`, the `[batch, n, m]` tensor with `result[s][i][j] = x[s][i] * y[s][j]`, written
/// with einsum.
///
/// PyTorch:
/// ```python
/// torch.einsum("bi,bj->bij", x, y)   # the same as x[:, :, None] * y[:, None, :]
/// ```
pub fn batch_outer(x: &Tensor, y: &Tensor) -> Tensor {
    // TODO
    todo!("batch_outer of shapes {:?} and {:?}", x.size(), y.size())
}

/// The outer product of every pair of rows of `x` (shape `[n, d]`): the `[n, n, d, d]` tensor
/// with `result[i][j] = outer(x[i], x[j])`, that is `result[i][j][a][c] = x[i][a] * x[j][c]`,
/// written with einsum.
///
/// PyTorch:
/// ```python
/// torch.einsum("id,je->ijde", x, x)   # the same as x[:, None, :, None] * x[None, :, None, :]
/// ```
pub fn all_pairs_outer(x: &Tensor) -> Tensor {
    // TODO
    todo!("all_pairs_outer of shape {:?}", x.size())
}

fn main() {
    let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]);
    let y = Tensor::from_slice(&[1.0f32, 10.0, 100.0, 1.0, 10.0, 100.0]).reshape([2, 3]);
    // Two 2x3 tables: [[1, 10, 100], [2, 20, 200]] and [[3, 30, 300], [4, 40, 400]].
    batch_outer(&x, &y).print();
    // result[0][1] is outer([1, 2], [3, 4]) = [[3, 4], [6, 8]].
    all_pairs_outer(&x).get(0).get(1).print();
}
