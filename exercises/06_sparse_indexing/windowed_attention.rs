// Exercise 06_sparse_indexing/windowed_attention: attention over a window of keys, by gathering
// them instead of masking a full matrix.
//
// Local (sliding-window) attention lets query i see only the `window` keys up to it:
// i - window < j <= i (Mistral's sliding window; Longformer's looks both ways). The easy way is
// the attention of einsum_attention with a mask: compute every score, [b, len, len], and set
// those outside the window to -inf.
// It gives the right numbers and wastes almost all of its work and memory: for len = 32768 and
// a window of 512, 98% of each [len, len] matrix is thrown away, and one such float32 matrix is
// 4 GB per batch entry.
//
// Advanced indexing computes only what is used. Make the [len, window] table of which key each
// query uses, index[i][w] = i - window + 1 + w, and gather those keys:
//
//     keys = k[:, index]                     # [b, len, window, d] (index_select on a flat index)
//     scores = einsum("bld,blwd->blw", q, keys) / sqrt(d)
//     weights = softmax(scores, dim=-1)
//     out = einsum("blw,blwd->bld", weights, v[:, index])
//
// Memory is now proportional to len * window, not len * len. The first queries have fewer than
// `window` keys before them: their index would be negative. Clamp it to 0 (any valid key will
// do) and remember where it was invalid, to give those slots a score of -inf: otherwise key 0
// counts several times in the first queries' softmax.
//
// The checks compare both of your versions with the reference and with
// scaled_dot_product_attention, and measure the memory the gathered version allocates: it must
// stay below the size of one [b, len, len] score matrix for a long sequence.

use tch::{Device, Kind, Tensor};

/// For a sequence of `len` positions and a causal window of `window` keys, which key each query
/// uses: `index` (`[len, window]`, int64) with `index[i][w] = max(i - window + 1 + w, 0)` (the
/// last slot is the query's own position), and `valid` (`[len, window]`, bool), true where
/// `i - window + 1 + w >= 0`, that is where the index was not clamped.
///
/// PyTorch:
/// ```python
/// key = torch.arange(len)[:, None] + torch.arange(window)[None, :] - (window - 1)
/// key.clamp(min=0), key >= 0
/// ```
pub fn window_indices(len: i64, window: i64, device: Device) -> (Tensor, Tensor) {
    // TODO
    todo!("window_indices for len {len} and window {window} on {device:?}")
}

/// The `[len, len]` boolean mask of the same windows: true at `(i, j)` when query `i` may see key
/// `j`, that is when `i - window < j <= i`.
///
/// PyTorch: `(j <= i) & (j > i - window)` with `i = torch.arange(len)[:, None]`,
/// `j = torch.arange(len)[None, :]`
pub fn window_mask(len: i64, window: i64, device: Device) -> Tensor {
    // TODO
    todo!("window_mask for len {len} and window {window} on {device:?}")
}

/// Windowed attention the dense way: for `q`, `k` (`[b, len, d]`) and `v` (`[b, len, dv]`),
/// the `[b, len, dv]` output of `softmax(q @ k.T / sqrt(d))` with the scores outside
/// `window_mask` at -inf, times `v`.
///
/// PyTorch: `F.scaled_dot_product_attention(q, k, v, attn_mask=window_mask(len, window))`
pub fn dense_window_attention(q: &Tensor, k: &Tensor, v: &Tensor, window: i64) -> Tensor {
    // TODO: einsum_attention's attention, with window_mask as the mask.
    todo!("dense_window_attention of q {:?}, k {:?}, v {:?}, window {window}", q.size(), k.size(), v.size())
}

/// The same attention, computing only `[b, len, window]` scores: gather each query's `window`
/// keys and values with `window_indices`, score them, softmax with the invalid slots at -inf,
/// and sum the gathered values with the weights. Nothing of size `len * len` may be made.
///
/// PyTorch:
/// ```python
/// index, valid = window_indices(len, window)
/// keys = k[:, index.flatten()].reshape(b, len, window, d)
/// values = v[:, index.flatten()].reshape(b, len, window, dv)
/// scores = torch.einsum("bld,blwd->blw", q, keys) / math.sqrt(d)
/// weights = scores.masked_fill(~valid, float("-inf")).softmax(-1)
/// torch.einsum("blw,blwd->bld", weights, values)
/// ```
pub fn windowed_attention(q: &Tensor, k: &Tensor, v: &Tensor, window: i64) -> Tensor {
    // TODO
    todo!("windowed_attention of q {:?}, k {:?}, v {:?}, window {window}", q.size(), k.size(), v.size())
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
