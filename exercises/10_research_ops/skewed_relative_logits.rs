// Exercise 10_research_ops/skewed_relative_logits: relative position logits in O(L d) extra
// memory, with the "skewing" trick of Music Transformer (Huang et al. 2018).
//
// Exercise relative_attention gathered an embedding for every (query, key) pair: an [L, L, d]
// tensor, too much for long sequences (Music Transformer's were 2048 tokens long). For causal
// attention (key j <= query i) the distance j - i runs from -(L - 1) to 0, and one table
// e_rel ([L, d]) holds them all: row r is the embedding of distance r - (L - 1). The logit
// that attention adds for query i and key j is
//
//     S_rel[i, j] = q_i . e_rel[L - 1 - i + j]          (j <= i)
//
// q @ e_rel^T ([L, L]) computes every q_i . e_rel[r] in one matrix product, but indexed by
// distance r, not by key j: entry [i, r] must move to [i, r - (L - 1) + i], a different shift for
// every row. The skew does that with no gather at all:
//
//     1. pad one column of zeros on the left:     [L, L]     -> [L, L + 1]
//     2. reshape (same numbers, row by row):      [L, L + 1] -> [L + 1, L]
//     3. drop the first row:                      [L + 1, L] -> [L, L]
//
// Now entry [i, j] is qe[i, L - 1 - i + j] for every j <= i. Above the diagonal are leftovers
// (the padding and numbers of the next row), which causal attention masks anyway: set them to 0.
// Work on the last two dimensions, so any leading batch and head dimensions pass through.
//
// The checks compare with a loop over queries and keys, check the gradients, and read your
// code: no gather, index_select, take or index (that is the memory this avoids).

use tch::Tensor;

/// The skew of `qe` ([.., L, L], column r for the distance r - (L - 1)): [.., L, L] whose entry
/// [i, j] is qe[.., i, L - 1 - i + j] for j <= i (above the diagonal: whatever the steps leave).
///
/// PyTorch:
/// ```python
/// L = qe.size(-1)
/// padded = F.pad(qe, (1, 0))                              # [.., L, L + 1]
/// return padded.reshape(*qe.shape[:-2], L + 1, L)[..., 1:, :]
/// ```
pub fn skew(qe: &Tensor) -> Tensor {
    // TODO
    todo!("skew qe {:?}", qe.size())
}

/// Relative logits for causal attention: for `q` ([.., L, d]) and `e_rel` ([L, d]), the
/// [.., L, L] tensor with entry [i, j] = q_i . e_rel[L - 1 - i + j] for j <= i, and 0 above the
/// diagonal.
///
/// PyTorch: `skew(q @ e_rel.T).tril()`
pub fn relative_logits(q: &Tensor, e_rel: &Tensor) -> Tensor {
    // TODO
    todo!("relative logits of q {:?} with e_rel {:?}", q.size(), e_rel.size())
}

fn main() {
    // Column r of qe holds distance r - 3: [-3, -2, -1, 0]. After the skew, row i starts at the
    // distance -i (key 0 seen from query i) and ends at 0 on the diagonal.
    let qe = Tensor::arange(4, (tch::Kind::Float, tch::Device::Cpu)).repeat([4, 1]) - 3.0;
    skew(&qe).tril(0).print();
}
