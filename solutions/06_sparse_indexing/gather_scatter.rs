// Reference solution of 06_sparse_indexing/gather_scatter.

use tch::{Kind, Tensor};

/// For each row `i` of `scores` (`[n, c]`), the score of class `labels[i]`: a `[n]` tensor.
pub fn pick_scores(scores: &Tensor, labels: &Tensor) -> Tensor {
    // gather along dim 1 with an index of shape [n, 1]: out[i][0] = scores[i][labels[i][0]].
    scores.gather(1, &labels.unsqueeze(1), false).squeeze_dim(1)
}

/// The sum of the rows of `values` (`[n, d]`) in each segment: row `s` of the `[num_segments, d]`
/// result sums the rows `i` with `segment_ids[i] == s`; 0 for a segment without rows.
pub fn segment_sum(values: &Tensor, segment_ids: &Tensor, num_segments: i64) -> Tensor {
    let zeros = Tensor::zeros([num_segments, values.size()[1]], (values.kind(), values.device()));
    // index_add accumulates: rows with the same id are all added.
    zeros.index_add(0, segment_ids, values)
}

/// How `segment_reduce` combines the rows of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    Sum,
    Mean,
    Amax,
}

/// Each segment's rows of `values` (`[n, d]`) combined by `reduce`, column by column: a
/// `[num_segments, d]` tensor, 0 for a segment without rows.
pub fn segment_reduce(values: &Tensor, segment_ids: &Tensor, num_segments: i64, reduce: Reduce) -> Tensor {
    let name = match reduce {
        Reduce::Sum => "sum",
        Reduce::Mean => "mean",
        Reduce::Amax => "amax",
    };
    // scatter_reduce wants an index of the same shape as the source: every column of row i goes
    // to row segment_ids[i].
    let index = segment_ids.unsqueeze(1).expand_as(values);
    let zeros = Tensor::zeros([num_segments, values.size()[1]], (values.kind(), values.device()));
    // include_self = false: the zeros only show where a segment has no rows; with true they
    // would take part (a max of negative values would be 0, a mean would count one row more).
    zeros.internal_scatter_reduce(0, &index, values, name, false)
}

/// The one-hot float32 encoding of `labels` (`[n]`, int64): `[n, num_classes]`, 1 at
/// `(i, labels[i])` and 0 elsewhere.
pub fn one_hot_scatter(labels: &Tensor, num_classes: i64) -> Tensor {
    let zeros = Tensor::zeros([labels.size()[0], num_classes], (Kind::Float, labels.device()));
    zeros.scatter_value(1, &labels.unsqueeze(1), 1.0)
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
