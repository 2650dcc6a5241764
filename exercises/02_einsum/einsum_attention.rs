// Exercise 02_einsum/einsum_attention: scaled dot-product attention in two einsums.
//
// Attention is the einsums of this section put together. For queries q ([b, lq, d]), keys k
// ([b, lk, d]) and values v ([b, lk, dv]):
//
//     scores  = einsum("bqd,bkd->bqk", q, k) / sqrt(d)   # every query against every key
//     weights = softmax(scores, dim=-1)                  # over the keys: each row sums to 1
//     output  = einsum("bqk,bkd->bqd", weights, v)       # each query's weighted mean of values
//
// The first einsum is a batched q @ k.T without a transpose: d is shared and summed. The
// second is the batched matrix product of exercise einsum_bmm. The 1/sqrt(d) keeps the scores'
// spread independent of d (a dot product of d random unit-variance terms has variance d), so
// the softmax does not saturate into a one-hot for large d.
//
// A mask says which keys each query may see, with the convention of PyTorch's
// scaled_dot_product_attention: a boolean tensor, true where the query MAY attend. Masked scores
// become -inf before the softmax, so their weights are exactly 0 and the others still sum to 1.
// (Multiplying the weights by the mask after the softmax would leave rows that no longer sum to
// 1.)
//
// A well-known exercise sheet writes the second einsum as "bqk,bvd->bqd". That is wrong, and
// silently so: k and v are different letters, so einsum sums the weights over k and the values
// over v separately. Every query gets (sum of its weights, which is 1) times (the sum of all
// values): the same row for every query, whatever the queries are. The key index of the weights
// must be the row index of v: one letter, k, in both.
//
// The checks compare with torch's scaled_dot_product_attention and read your code: use einsum,
// and do not call scaled_dot_product_attention.

use tch::Tensor;

/// Scaled dot-product attention, with einsum: for `q` of shape `[b, lq, d]`, `k` of shape
/// `[b, lk, d]` and `v` of shape `[b, lk, dv]`, the `[b, lq, dv]` tensor
/// `softmax(q @ k.T / sqrt(d), over the keys) @ v`, batch by batch.
///
/// `mask`, when given, is a boolean tensor of shape `[lq, lk]` (the same for every batch) or
/// `[b, lq, lk]`, `true` where query `i` may attend to key `j`. Where it is `false`, the score
/// is `-inf` before the softmax, so that key gets weight 0. Every query must be allowed at least
/// one key (each row of the mask has a `true`): a row of `-inf` only has NaN for a softmax.
///
/// PyTorch:
/// ```python
/// d = q.shape[-1]
/// scores = torch.einsum("bqd,bkd->bqk", q, k) / math.sqrt(d)     # [b, lq, lk]
/// if mask is not None:
///     scores = scores.masked_fill(~mask, float("-inf"))
/// weights = scores.softmax(dim=-1)                                # over the keys
/// return torch.einsum("bqk,bkd->bqd", weights, v)                 # [b, lq, dv]
/// # the same as F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
/// ```
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Tensor {
    // TODO
    todo!(
        "attention of q {:?}, k {:?}, v {:?} and mask {:?}",
        q.size(),
        k.size(),
        v.size(),
        mask.map(Tensor::size)
    )
}

fn main() {
    // One batch, two queries, three keys with values 1, 10 and 100.
    let q = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0]).reshape([1, 2, 2]);
    let k = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0]).reshape([1, 3, 2]);
    let v = Tensor::from_slice(&[1.0f32, 10.0, 100.0]).reshape([1, 3, 1]);
    attention(&q, &k, &v, None).print();
    // The first query may see only the first key, so its output is exactly 1; the second sees
    // all three.
    let mask = Tensor::from_slice(&[true, false, false, true, true, true]).reshape([2, 3]);
    attention(&q, &k, &v, Some(&mask)).print();
}
