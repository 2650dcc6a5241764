// Reference solution of 10_research_ops/relative_attention.

use tch::{Device, Kind, Tensor};

/// The [len, len] int64 matrix of clip(j - i, -max_distance, max_distance) + max_distance.
pub fn relative_positions(len: i64, max_distance: i64, device: Device) -> Tensor {
    let positions = Tensor::arange(len, (Kind::Int64, device));
    // Row i, column j: how far key j is from query i, positive when the key comes later.
    let distance = positions.unsqueeze(0) - positions.unsqueeze(1);
    // Beyond max_distance every distance shares one embedding; the shift makes rows of the table.
    distance.clamp(-max_distance, max_distance) + max_distance
}

/// Self-attention with relative position representations (Shaw et al. 2018).
pub fn relative_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    rel_k: &Tensor,
    rel_v: &Tensor,
    max_distance: i64,
) -> Tensor {
    let (len, d) = (q.size()[1], q.size()[2]);
    let index = relative_positions(len, max_distance, q.device());
    // One embedding per (i, j) pair: [len, len, d], shared by the whole batch.
    let a_k = rel_k.index_select(0, &index.flatten(0, 1)).reshape([len, len, d]);
    let a_v = rel_v.index_select(0, &index.flatten(0, 1)).reshape([len, len, d]);
    // Content scores q_i . k_j plus position scores q_i . a_k[i, j], both scaled by sqrt(d).
    let content = Tensor::einsum("bid,bjd->bij", &[q, k], None::<i64>);
    let position = Tensor::einsum("bid,ijd->bij", &[q, &a_k], None::<i64>);
    let weights = ((content + position) / (d as f64).sqrt()).softmax(-1, q.kind());
    // The values get their relative embedding too: sum_j w_ij (v_j + a_v[i, j]).
    Tensor::einsum("bij,bjd->bid", &[&weights, v], None::<i64>)
        + Tensor::einsum("bij,ijd->bid", &[&weights, &a_v], None::<i64>)
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
