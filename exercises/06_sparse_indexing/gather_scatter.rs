// Exercise 06_sparse_indexing/gather_scatter: reading and writing at computed positions.
//
// gather reads at positions held in an index tensor; scatter writes at them. Along dim 1 of a
// 2-d tensor:
//
//     out = x.gather(1, index)        # out[i][j] = x[i][index[i][j]]       (index: int64)
//     out = base.scatter(1, index, src)  # out[i][index[i][j]] = src[i][j]
//
// The index has as many dimensions as x, and its shape is the shape of what is read (gather)
// or of what is written (scatter): to pick one column per row, the index is [n, 1].
//
// Writing raises a question that reading does not: what if two entries go to the same place?
// - scatter and index_put (x[idx] = v) keep one of them, and which one is not defined;
// - scatter_add, index_add and index_put(.., accumulate=true) add them all up;
// - scatter_reduce(dim, index, src, reduce, include_self) combines them with "sum", "prod",
//   "mean", "amax" or "amin".
// So the sums of the rows of each segment of a batch (a graph's messages per node, the tokens of
// each sentence in a flat batch) are one index_add: no loop over segments, and repeats are what
// make it work. Careful with x[idx] += v in PyTorch: it is x[idx] = x[idx] + v, an index_put
// without accumulate, and repeated indices are counted once.
//
// scatter_reduce's include_self says whether the values already in `base` take part. Start from
// zeros with include_self=false, and a segment without rows stays 0; with true, the zeros count:
// the max of all-negative values becomes 0, and a mean divides by one row too many.
//
// In tch, torch.scatter_reduce is `internal_scatter_reduce(dim, index, src, reduce,
// include_self)`. tch's `scatter_reduce(dim, index, src, reduce)` is an older, different
// operation (torch.scatter with reduce=, "add" or "multiply" only): "sum" makes it fail with
// "reduce argument must be either add or multiply".
//
// The checks compare with loops written out element by element. They also read your code: do
// not call one_hot.

use tch::{Kind, Tensor};

/// For each row `i` of `scores` (`[n, c]`), the score of class `labels[i]` (`labels`: `[n]`,
/// int64): a `[n]` tensor. The score of the right class, as a cross-entropy loss needs it.
///
/// PyTorch: `scores.gather(1, labels[:, None]).squeeze(1)`
pub fn pick_scores(scores: &Tensor, labels: &Tensor) -> Tensor {
    // TODO
    todo!("pick_scores of scores {:?} and labels {:?}", scores.size(), labels.size())
}

/// The sum of the rows of `values` (`[n, d]`) in each segment: row `s` of the
/// `[num_segments, d]` result is the sum of the rows `i` with `segment_ids[i] == s` (`segment_ids`:
/// `[n]`, int64, in any order, with repeats); 0 for a segment without rows.
///
/// PyTorch: `torch.zeros(num_segments, d).index_add(0, segment_ids, values)`
pub fn segment_sum(values: &Tensor, segment_ids: &Tensor, num_segments: i64) -> Tensor {
    // TODO
    todo!(
        "segment_sum of values {:?} and ids {:?} into {num_segments} segments",
        values.size(),
        segment_ids.size()
    )
}

/// How `segment_reduce` combines the rows of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    Sum,
    Mean,
    Amax,
}

/// Each segment's rows of `values` (`[n, d]`) combined by `reduce`, column by column: a
/// `[num_segments, d]` tensor with, in row `s`, the sum, the mean or the maximum of the rows `i`
/// with `segment_ids[i] == s`; 0 for a segment without rows, whatever `reduce` is.
///
/// PyTorch:
/// ```python
/// index = segment_ids[:, None].expand_as(values)     # [n, d]: the same shape as values
/// torch.zeros(num_segments, d).scatter_reduce(0, index, values, "amax", include_self=False)
/// ```
pub fn segment_reduce(values: &Tensor, segment_ids: &Tensor, num_segments: i64, reduce: Reduce) -> Tensor {
    // TODO: Reduce::Sum is "sum", Reduce::Mean "mean", Reduce::Amax "amax".
    todo!(
        "segment_reduce ({reduce:?}) of values {:?} and ids {:?} into {num_segments} segments",
        values.size(),
        segment_ids.size()
    )
}

/// The one-hot encoding of `labels` (`[n]`, int64), as float32: `[n, num_classes]`, 1 at
/// `(i, labels[i])` and 0 elsewhere, made with a scatter.
///
/// PyTorch: `torch.zeros(n, num_classes).scatter(1, labels[:, None], 1.0)`
/// (what `F.one_hot(labels, num_classes).float()` gives).
pub fn one_hot_scatter(labels: &Tensor, num_classes: i64) -> Tensor {
    // TODO
    todo!("one_hot_scatter of labels {:?} into {num_classes} classes", labels.size())
}

fn main() {
    let scores = Tensor::from_slice(&[0.1f32, 0.7, 0.2, 0.5, 0.3, 0.2]).reshape([2, 3]);
    let labels = Tensor::from_slice(&[1i64, 0]);
    // [0.7, 0.5]
    pick_scores(&scores, &labels).print();
    // Rows 0 and 2 in segment 1, row 1 in segment 0, nothing in segment 2.
    let values = Tensor::from_slice(&[1.0f32, -2.0, 3.0, 4.0, 5.0, -6.0]).reshape([3, 2]);
    let ids = Tensor::from_slice(&[1i64, 0, 1]);
    // [[3, 4], [6, -8], [0, 0]]
    segment_sum(&values, &ids, 3).print();
    // [[3, 4], [5, -2], [0, 0]]
    segment_reduce(&values, &ids, 3, Reduce::Amax).print();
    // [[0, 1, 0], [1, 0, 0]], float32 like the scores it is compared with
    let one_hot = one_hot_scatter(&labels, 3);
    one_hot.print();
    assert_eq!(one_hot.kind(), Kind::Float);
}
