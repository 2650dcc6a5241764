// Reference solution of 02_einsum/einsum_attention.

use tch::Tensor;

/// Scaled dot-product attention, with einsum.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Tensor {
    let d = q.size()[2];
    // d is shared by q and k and summed: every query against every key, [b, lq, lk]. Scaling by
    // 1/sqrt(d) keeps the scores' spread the same whatever d is.
    let scores = Tensor::einsum("bqd,bkd->bqk", &[q, k], None::<i64>) / (d as f64).sqrt();
    // true = may attend: fill the others. -inf becomes an exact 0 after the softmax, and the
    // remaining weights of the row still sum to 1. A [lq, lk] mask broadcasts over the batch.
    let scores = match mask {
        Some(mask) => scores.masked_fill(&mask.logical_not(), f64::NEG_INFINITY),
        None => scores,
    };
    // Over the keys, the last dimension: each query's weights sum to 1. softmax subtracts each
    // row's maximum first, so large scores do not overflow.
    let weights = scores.softmax(-1, scores.kind());
    // The same k in both operands: weight [b, q, k] meets value row k. "bqk,bvd->bqd" would sum
    // the weights over k and the values over v separately.
    Tensor::einsum("bqk,bkd->bqd", &[&weights, v], None::<i64>)
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
