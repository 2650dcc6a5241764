// Exercise 10_research_ops/relative_attention: attention that knows how far apart tokens are
// (Shaw, Uszkoreit and Vaswani 2018, "Self-Attention with Relative Position Representations").
//
// Attention by itself ignores order: permute the keys and values together and nothing changes.
// Absolute position embeddings added to the input are one fix; relative ones are another, and
// they generalize to lengths not seen in training. Each distance j - i (how far key j is from
// query i) has a learned embedding, for the keys and for the values. Distances beyond
// max_distance = K share the embedding of +-K, so the tables have 2K + 1 rows, row
// clip(j - i, -K, K) + K:
//
//     e_ij   = (q_i . k_j + q_i . a_k[i, j]) / sqrt(d)      a_k[i, j] = rel_k[clip(j - i, -K, K) + K]
//     w_ij   = softmax over j of e_ij
//     out_i  = sum_j w_ij (v_j + a_v[i, j])                 a_v[i, j] = rel_v[the same row]
//
// Gather the [L, L, d] embeddings with index_select on the flattened index matrix, and let
// einsum do the rest ("bid,ijd->bij": one query against the embedding of each pair). That costs
// L^2 d memory; exercise skewed_relative_logits shows the trick that avoids it.
//
// The checks compare with a loop over i and j, with distances that are clipped and distances
// that are not, and compare the gradients of the embedding tables.

use tch::{Device, Kind, Tensor};

/// The [len, len] int64 matrix whose entry [i, j] is clip(j - i, -max_distance, max_distance)
/// + max_distance: the row of the embedding tables for query i and key j.
///
/// PyTorch:
/// ```python
/// pos = torch.arange(length, device=device)
/// return (pos[None, :] - pos[:, None]).clamp(-max_distance, max_distance) + max_distance
/// ```
pub fn relative_positions(len: i64, max_distance: i64, device: Device) -> Tensor {
    // TODO
    todo!("relative positions of {len} tokens clipped at {max_distance} on {device:?}")
}

/// Self-attention with relative position representations: `q`, `k`, `v` of shape [b, L, d]
/// (queries and keys of one sequence), `rel_k` and `rel_v` of shape [2 max_distance + 1, d];
/// returns [b, L, d].
///
/// PyTorch:
/// ```python
/// idx = relative_positions(L, K, q.device)
/// a_k, a_v = rel_k[idx], rel_v[idx]                              # [L, L, d]
/// e = (torch.einsum("bid,bjd->bij", q, k) + torch.einsum("bid,ijd->bij", q, a_k)) / math.sqrt(d)
/// w = e.softmax(dim=-1)
/// return torch.einsum("bij,bjd->bid", w, v) + torch.einsum("bij,ijd->bid", w, a_v)
/// ```
pub fn relative_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    rel_k: &Tensor,
    rel_v: &Tensor,
    max_distance: i64,
) -> Tensor {
    // TODO
    todo!(
        "relative attention of q {:?}, k {:?}, v {:?} with tables {:?} and {:?}, clipped at {max_distance}",
        q.size(),
        k.size(),
        v.size(),
        rel_k.size(),
        rel_v.size()
    )
}

fn main() {
    // Distances clipped at 2 for a sequence of 5: row i is [2 - i, ..] clipped into 0..=4.
    relative_positions(5, 2, Device::Cpu).print();
    tch::manual_seed(0);
    let (q, k, v) = (
        Tensor::randn([1, 5, 4], (Kind::Float, Device::Cpu)),
        Tensor::randn([1, 5, 4], (Kind::Float, Device::Cpu)),
        Tensor::randn([1, 5, 4], (Kind::Float, Device::Cpu)),
    );
    let (rel_k, rel_v) = (
        Tensor::randn([5, 4], (Kind::Float, Device::Cpu)),
        Tensor::randn([5, 4], (Kind::Float, Device::Cpu)),
    );
    relative_attention(&q, &k, &v, &rel_k, &rel_v, 2).print();
}
