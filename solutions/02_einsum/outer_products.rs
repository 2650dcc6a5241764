// Reference solution of 02_einsum/outer_products.

use tch::Tensor;

/// The outer product of each pair of rows of `x` and `y`, as einsum.
pub fn batch_outer(x: &Tensor, y: &Tensor) -> Tensor {
    // b pairs the rows up; i and j each come from one operand and stay: nothing is summed.
    Tensor::einsum("bi,bj->bij", &[x, y], None::<i64>)
}

/// The outer product of every pair of rows of `x`, as einsum.
pub fn all_pairs_outer(x: &Tensor) -> Tensor {
    // x twice, with its row letter and its feature letter different each time: i and j range
    // over the rows independently, d and e over the features. The output lists the two rows
    // first, then the features of x[i] (d), then those of x[j] (e).
    Tensor::einsum("id,je->ijde", &[x, x], None::<i64>)
}

fn main() {
    let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]);
    let y = Tensor::from_slice(&[1.0f32, 10.0, 100.0, 1.0, 10.0, 100.0]).reshape([2, 3]);
    // Two 2x3 tables: [[1, 10, 100], [2, 20, 200]] and [[3, 30, 300], [4, 40, 400]].
    batch_outer(&x, &y).print();
    // result[0][1] is outer([1, 2], [3, 4]) = [[3, 4], [6, 8]].
    all_pairs_outer(&x).get(0).get(1).print();
}
