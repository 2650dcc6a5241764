// Exercise 10_research_ops/soft_sort: a differentiable sort (SoftSort, Prillo and Eisenschlos
// 2020).
//
// Sorting is a permutation: sort(s) = P s with P a permutation matrix (P[i, j] = 1 when entry j
// is the i-th largest). P is piecewise constant in s, so its gradient is 0 wherever it exists:
// a model cannot learn through the ranks. SoftSort relaxes each row of P into a softmax:
//
//     P[i, j] = softmax over j of ( -|sort(s)_i - s_j| / tau )        (sort descending)
//
// Row i puts its weight on the entries whose value is close to the i-th largest value, most of
// all on that entry itself. Every row sums to 1 (a softmax); as tau -> 0 each row becomes one-hot
// and P the hard permutation matrix, whose columns then sum to 1 as well (for distinct values).
// The soft-sorted values are P s. Gradients flow through the softmax, and through sort(s):
// sorting routes each sorted value's gradient back to the entry it came from, so keep it (no
// detach).
//
// Compare NeuralSort (Grover et al. 2019), which builds each row from sums of pairwise distances:
// SoftSort is simpler and as accurate. The checks compare with the reference, with the hard
// permutation matrix at low temperature, and run gradcheck.

use tch::Tensor;

/// SoftSort's relaxed permutation matrix of `s` (shape [.., n], any leading batch dimensions):
/// [.., n, n], row i a softmax over j of `-|sort(s, descending)_i - s_j| / tau`.
///
/// PyTorch:
/// ```python
/// sorted_s = s.sort(dim=-1, descending=True).values
/// distance = (sorted_s.unsqueeze(-1) - s.unsqueeze(-2)).abs()
/// return (-distance / tau).softmax(dim=-1)
/// ```
pub fn soft_sort_matrix(s: &Tensor, tau: f64) -> Tensor {
    // TODO
    todo!("the SoftSort matrix of s {:?} at temperature {tau}", s.size())
}

/// The soft-sorted values of `s`, descending: `P @ s` for `P = soft_sort_matrix(s, tau)`, the
/// shape of `s`.
///
/// PyTorch: `(soft_sort_matrix(s, tau) @ s.unsqueeze(-1)).squeeze(-1)`
pub fn soft_sort(s: &Tensor, tau: f64) -> Tensor {
    // TODO
    todo!("soft-sort s {:?} at temperature {tau}", s.size())
}

fn main() {
    let s = Tensor::from_slice(&[0.5f32, 2.0, -1.0]);
    for tau in [1.0, 0.1] {
        // At low temperature P is the permutation matrix that sorts s: [[0, 1, 0], [1, 0, 0], [0, 0, 1]].
        soft_sort_matrix(&s, tau).print();
        soft_sort(&s, tau).print();
    }
}
