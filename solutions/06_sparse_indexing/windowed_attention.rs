// Reference solution of 06_sparse_indexing/windowed_attention.

use tch::{Device, Kind, Tensor};

/// The keys of each query's causal window of `window` keys in a sequence of `len`: `index`
/// (`[len, window]`, int64) with `index[i][w] = max(i - window + 1 + w, 0)`, and `valid`
/// (`[len, window]`, bool), true where `i - window + 1 + w >= 0`.
pub fn window_indices(len: i64, window: i64, device: Device) -> (Tensor, Tensor) {
    let query = Tensor::arange(len, (Kind::Int64, device)).unsqueeze(1);
    let offset = Tensor::arange(window, (Kind::Int64, device)).unsqueeze(0) - (window - 1);
    // [len, 1] + [1, window]: key i - window + 1 + w, the last one (w = window - 1) is i itself.
    let key = query + offset;
    let valid = key.ge(0);
    // Before the start of the sequence: read key 0 (any valid index would do), masked later.
    (key.clamp_min(0), valid)
}

/// The `[len, len]` boolean mask of the same windows: true at `(i, j)` when
/// `i - window < j <= i`.
pub fn window_mask(len: i64, window: i64, device: Device) -> Tensor {
    let query = Tensor::arange(len, (Kind::Int64, device)).unsqueeze(1);
    let key = Tensor::arange(len, (Kind::Int64, device)).unsqueeze(0);
    key.le_tensor(&query).logical_and(&key.gt_tensor(&(query - window)))
}

/// Windowed attention through the full `[b, len, len]` score matrix, masked.
pub fn dense_window_attention(q: &Tensor, k: &Tensor, v: &Tensor, window: i64) -> Tensor {
    let (len, d) = (q.size()[1], q.size()[2]);
    let scores = Tensor::einsum("bqd,bkd->bqk", &[q, k], None::<i64>) / (d as f64).sqrt();
    let mask = window_mask(len, window, q.device());
    let weights = scores.masked_fill(&mask.logical_not(), f64::NEG_INFINITY).softmax(-1, q.kind());
    Tensor::einsum("bqk,bkd->bqd", &[&weights, v], None::<i64>)
}

/// The same attention, gathering each query's `window` keys and values: `[b, len, window]`
/// scores instead of `[b, len, len]`.
pub fn windowed_attention(q: &Tensor, k: &Tensor, v: &Tensor, window: i64) -> Tensor {
    let (b, len, d) = (q.size()[0], q.size()[1], q.size()[2]);
    let dv = v.size()[2];
    let (index, valid) = window_indices(len, window, q.device());
    // One index_select per tensor: row i * window + w of the flat index is query i's key w.
    let flat = index.reshape([-1]);
    let keys = k.index_select(1, &flat).reshape([b, len, window, d]);
    let values = v.index_select(1, &flat).reshape([b, len, window, dv]);
    // Each query against its own window's keys only.
    let scores = Tensor::einsum("bld,blwd->blw", &[q, &keys], None::<i64>) / (d as f64).sqrt();
    // Keys before the start were clamped to key 0: -inf, so they get weight 0.
    let weights = scores.masked_fill(&valid.logical_not(), f64::NEG_INFINITY).softmax(-1, q.kind());
    Tensor::einsum("blw,blwd->bld", &[&weights, &values], None::<i64>)
}

fn main() {
    let (index, valid) = window_indices(5, 3, Device::Cpu);
    // [[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4]]
    index.print();
    valid.print();
    window_mask(5, 3, Device::Cpu).print();
    let q = Tensor::randn([1, 6, 4], (Kind::Float, Device::Cpu));
    let k = Tensor::randn([1, 6, 4], (Kind::Float, Device::Cpu));
    let v = Tensor::randn([1, 6, 2], (Kind::Float, Device::Cpu));
    let gathered = windowed_attention(&q, &k, &v, 3);
    let dense = dense_window_attention(&q, &k, &v, 3);
    println!("largest difference: {}", (gathered - dense).abs().max().double_value(&[]));
}
