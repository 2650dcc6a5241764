// Reference solution of 10_research_ops/skewed_relative_logits.

use tch::Tensor;

/// The skewing of Music Transformer: `qe` ([.., L, L], column r for relative distance
/// r - (L - 1)) rearranged so that entry [i, j] is qe[i, L - 1 - i + j], for j <= i.
pub fn skew(qe: &Tensor) -> Tensor {
    let size = qe.size();
    let len = size[size.len() - 1];
    // One zero column on the left: [.., L, L + 1]. Read row by row, the L (L + 1) numbers are
    // each row followed by a zero; regrouped into rows of L, row i + 1 starts i places later in
    // its original row, which is exactly the shift from distance to key position.
    let padded = qe.constant_pad_nd([1, 0]);
    let mut shape = size[..size.len() - 2].to_vec();
    shape.extend([len + 1, len]);
    // The first row of the regrouping is the padding's leftovers: drop it.
    padded.reshape(shape.as_slice()).narrow(-2, 1, len)
}

/// Relative logits for causal attention: [.., L, L] with entry [i, j] = q_i . e_rel[L - 1 - i + j]
/// for j <= i, and 0 above the diagonal.
pub fn relative_logits(q: &Tensor, e_rel: &Tensor) -> Tensor {
    // [.., L, d] @ [d, L]: every query against every distance's embedding, L x L numbers, no
    // [L, L, d] tensor of gathered embeddings.
    let qe = q.matmul(&e_rel.tr());
    // Above the diagonal the skew leaves the padding and entries of the next row: keys after the
    // query, which causal attention masks anyway. Zero them.
    skew(&qe).tril(0)
}

fn main() {
    // Column r of qe holds distance r - 3: [-3, -2, -1, 0]. After the skew, row i starts at the
    // distance -i (key 0 seen from query i) and ends at 0 on the diagonal.
    let qe = Tensor::arange(4, (tch::Kind::Float, tch::Device::Cpu)).repeat([4, 1]) - 3.0;
    skew(&qe).tril(0).print();
}
