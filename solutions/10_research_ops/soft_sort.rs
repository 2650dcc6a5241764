// Reference solution of 10_research_ops/soft_sort.

use tch::Tensor;

/// SoftSort's relaxed permutation matrix of `s` ([.., n]), descending: [.., n, n].
pub fn soft_sort_matrix(s: &Tensor, tau: f64) -> Tensor {
    // The sorted values keep their gradient (sort's backward routes it to the entries).
    let (sorted, _) = s.sort(-1, true);
    // Row i compares the i-th largest value with every entry: [.., n, 1] - [.., 1, n].
    let distance = (sorted.unsqueeze(-1) - s.unsqueeze(-2)).abs();
    // Each row is a softmax over the entries j: it sums to 1, and puts its weight on the entries
    // closest to the i-th largest value, the entry itself at low temperature.
    (-distance / tau).softmax(-1, s.kind())
}

/// The soft-sorted values of `s`, descending: `P @ s` for `P = soft_sort_matrix(s, tau)`.
pub fn soft_sort(s: &Tensor, tau: f64) -> Tensor {
    soft_sort_matrix(s, tau).matmul(&s.unsqueeze(-1)).squeeze_dim(-1)
}

fn main() {
    let s = Tensor::from_slice(&[0.5f32, 2.0, -1.0]);
    for tau in [1.0, 0.1] {
        // At low temperature P is the permutation matrix that sorts s: [[0, 1, 0], [1, 0, 0], [0, 0, 1]].
        soft_sort_matrix(&s, tau).print();
        soft_sort(&s, tau).print();
    }
}
