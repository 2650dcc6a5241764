// Exercise 07_parallel/grad_buckets: many gradients synchronized in a few all-reduces.
//
// A model has hundreds of parameter tensors, many of them small (biases, norms). One all-reduce
// per tensor pays the fixed cost of a collective (a launch, a round of messages around the ring)
// hundreds of times per step. PyTorch's DistributedDataParallel packs gradients into buckets of
// about 25 MB (`bucket_cap_mb`), flattened into one contiguous 1-D tensor each, all-reduces each
// bucket once, and copies the results back into the gradients, with their shapes.
//
// Three pieces, then the whole:
// - which gradients share a bucket: in order, greedily. A gradient joins the current bucket if
//   the bucket's total stays within `bucket_elems` elements; otherwise it starts a new bucket. A
//   gradient larger than `bucket_elems` gets a bucket of its own (it is never split).
// - flatten: the gradients of a bucket as one 1-D tensor (`torch.cat([g.reshape(-1) ...])`).
//   `reshape`, not `view`: a gradient may be a non-contiguous view, which view refuses.
// - unflatten: the 1-D tensor cut back into pieces of the gradients' sizes, each reshaped to its
//   gradient's shape (`split_with_sizes`, then `reshape`), in the same order.
//
// The all-reduce itself is passed in (`all_reduce`): here it is whatever the caller uses (the
// ring of the previous exercise, NCCL); the checks pass one that counts its calls.

use std::ops::Range;

use tch::{Device, Kind, Tensor};
use tensorlings_support::ranks::run_ranks;

/// The buckets, as ranges of indices into the list of gradients whose sizes (numbers of
/// elements) are `sizes`: consecutive gradients, greedily, each bucket holding at most
/// `bucket_elems` elements unless it holds a single gradient larger than that. Every gradient is
/// in exactly one bucket, in order; no bucket is empty; no gradients, no buckets.
///
/// For sizes [3, 4, 2, 10, 1] and bucket_elems 8: [0..2, 2..3, 3..4, 4..5] (3 + 4 = 7 fits, + 2
/// would be 9; 10 alone; then 1).
pub fn bucket_ranges(sizes: &[i64], bucket_elems: i64) -> Vec<Range<usize>> {
    // TODO: walk the sizes with the start of the current bucket and its total; close the bucket
    // (push start..i) before a gradient that does not fit, unless the bucket is still empty.
    todo!("bucket_ranges of {sizes:?} in buckets of {bucket_elems}")
}

/// The gradients as one 1-D tensor: their elements one gradient after the other, each in its
/// own (row-major) order.
///
/// PyTorch: `torch._utils._flatten_dense_tensors(grads)`, i.e.
/// `torch.cat([g.reshape(-1) for g in grads])`.
pub fn flatten_bucket(grads: &[Tensor]) -> Tensor {
    // TODO: every gradient reshaped to 1-D, then one cat.
    todo!("flatten_bucket of {} gradients", grads.len())
}

/// `flat` (as made by `flatten_bucket(like)`) cut back into tensors of the shapes of `like`, in
/// order.
///
/// PyTorch: `torch._utils._unflatten_dense_tensors(flat, like)`, i.e.
/// `[p.reshape(g.shape) for p, g in zip(flat.split([g.numel() for g in like]), like)]`.
pub fn unflatten_bucket(flat: &Tensor, like: &[Tensor]) -> Vec<Tensor> {
    // TODO: split_with_sizes by the numbers of elements, then reshape each piece.
    todo!("unflatten_bucket of {:?} into {} tensors", flat.size(), like.len())
}

/// Every gradient all-reduced, bucket by bucket: one call of `all_reduce` per bucket of
/// `bucket_ranges`, on the flattened bucket; the results unflattened to the gradients' shapes,
/// in the order of `grads`.
///
/// PyTorch (what DDP does on every backward):
/// ```python
/// for bucket in buckets:
///     flat = _flatten_dense_tensors([grads[i] for i in bucket])
///     dist.all_reduce(flat); flat /= world
///     for i, g in zip(bucket, _unflatten_dense_tensors(flat, [grads[i] for i in bucket])):
///         grads[i] = g
/// ```
pub fn bucketed_all_reduce(
    grads: &[Tensor],
    bucket_elems: i64,
    mut all_reduce: impl FnMut(&Tensor) -> Tensor,
) -> Vec<Tensor> {
    // TODO: for each bucket of bucket_ranges: flatten its gradients, all_reduce once, unflatten.
    todo!("bucketed_all_reduce of {} gradients in buckets of {bucket_elems}", grads.len())
}

fn main() {
    println!("{:?}", bucket_ranges(&[3, 4, 2, 10, 1], 8));
    // Two ranks, three gradients each: rank r's are full of r. The mean is 0.5 everywhere.
    let grads_of = |r: usize| -> Vec<Tensor> {
        [vec![2, 3], vec![4], vec![]]
            .iter()
            .map(|shape| Tensor::full(shape.as_slice(), r as f64, (Kind::Float, Device::Cpu)))
            .collect()
    };
    let (results, traffic) = run_ranks(vec![grads_of(0), grads_of(1)], |rank, grads| {
        // A naive all-reduce of the flat bucket, for the demonstration.
        bucketed_all_reduce(&grads, 8, |flat| {
            let other = 1 - rank.rank();
            rank.send(other, flat);
            (flat + rank.recv(other)) / 2.0
        })
    })
    .unwrap();
    for g in &results[0] {
        g.print();
    }
    println!("{} messages", traffic.messages.len());
}
