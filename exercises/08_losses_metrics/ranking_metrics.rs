// Exercise 08_losses_metrics/ranking_metrics: ROC AUC, average precision and NDCG@k, batched, as sklearn.
//
// Evaluation metrics are usually computed one query (one row) at a time in Python, in sklearn.
// For 100,000 queries that loop is the slowest part of an evaluation. Here every row and every
// item is computed at once: each metric is a function of comparisons between the scores of a
// row, and a [B, n, n] tensor of comparisons holds them all (fine for rows of a few hundred items;
// a sort-based version scales further). The difficulty is ties, which sklearn handles in a
// precise way that the checks compare with, number by number.
//
// ROC AUC: the probability that a random positive is scored above a random negative. Over the
// P * N (positive, negative) pairs of a row: 1 when the positive scores higher, 1/2 for a tie
// (that is what the trapezoids of sklearn's ROC curve give), 0 otherwise; divided by P * N. A row
// with no positive or no negative has no AUC (sklearn raises): NaN.
//
// Average precision: sklearn sums precision * (recall step) over the distinct score thresholds,
// high to low. A threshold t retrieves every item scored >= t, tied items together. Each positive
// adds 1/P of recall at its own score, where the precision is
//     (positives scored >= its score) / (items scored >= its score),
// so AP is the mean of that precision over the positives. A row without positive: 0 (sklearn).
//
// NDCG@k with linear gains: DCG = sum over the top k positions p (0-based) of
// relevance(item at p) / log2(p + 2), divided by the ideal DCG (relevances sorted high to low).
// With ties in the scores the order inside a tie is arbitrary, so sklearn gives every member of a
// tie group the group's mean relevance at each position the group occupies. A group whose items
// are beaten by `first` items occupies positions first .. first + size - 1; with
// D[p] = sum of the discounts of positions < p (0 beyond k), its members together contribute
// mean_relevance * (D[first + size] - D[first]). A row whose relevances are all 0: 0 (sklearn).
//
// The checks read your code: no `for`, `while` or `loop`, no iterators. Results are float64.

// Kind is for your code.
#[allow(unused_imports)]
use tch::{Kind, Tensor};

/// ROC AUC of each row of `scores` (`[B, n]`, float) with `labels` (`[B, n]`, bool, true =
/// positive): the fraction of (positive, negative) pairs of the row where the positive scores
/// higher, a tie counting 1/2; NaN for a row without positives or without negatives. Returns
/// float64 `[B]`, equal to sklearn's `roc_auc_score(labels[b], scores[b])` row by row.
///
/// PyTorch:
/// ```python
/// pos = labels.double(); neg = 1 - pos
/// si, sj = scores[:, :, None], scores[:, None, :]
/// credit = (si > sj).double() + 0.5 * (si == sj).double()      # [B, n, n]
/// pairs = pos[:, :, None] * neg[:, None, :]
/// (credit * pairs).sum((1, 2)) / pairs.sum((1, 2))
/// ```
pub fn roc_auc(scores: &Tensor, labels: &Tensor) -> Tensor {
    // TODO
    todo!("roc_auc of scores {:?} and labels {:?}", scores.size(), labels.size())
}

/// Average precision of each row, as sklearn's `average_precision_score`: the mean over the
/// row's positives of `(positives scored >= s) / (items scored >= s)` at the positive's score `s`
/// (ties count as retrieved together); 0 for a row without positives. Float64 `[B]`.
///
/// PyTorch:
/// ```python
/// above = (scores[:, None, :] >= scores[:, :, None]).double()   # [b, i, j]: s_j >= s_i
/// precision = (above @ pos[:, :, None])[..., 0] / above.sum(2)
/// (precision * pos).sum(1) / pos.sum(1).clamp(min=1)
/// ```
pub fn average_precision(scores: &Tensor, labels: &Tensor) -> Tensor {
    // TODO
    todo!("average_precision of scores {:?} and labels {:?}", scores.size(), labels.size())
}

/// NDCG@k of each row with linear gains (`relevance`, `[B, n]`, non-negative), ties in the
/// scores averaged as sklearn's `ndcg_score(relevance, scores, k=k)` does (row by row); `k`
/// larger than n means the whole row; 0 for a row whose relevances are all 0. Float64 `[B]`.
///
/// PyTorch:
/// ```python
/// discounts = 1 / torch.log2(torch.arange(n) + 2) * (torch.arange(n) < k)
/// D = torch.cat([torch.zeros(1), discounts.cumsum(0)])           # [n + 1]
/// first = (sj > si).sum(2); size = (sj == si).sum(2)             # per item, [B, n]
/// dcg = (relevance * (D[first + size] - D[first]) / size).sum(1)
/// idcg = (relevance.sort(dim=1, descending=True).values * discounts).sum(1)
/// torch.where(idcg > 0, dcg / idcg, 0)
/// ```
pub fn ndcg_at_k(scores: &Tensor, relevance: &Tensor, k: i64) -> Tensor {
    // TODO
    todo!("ndcg_at_k of scores {:?} and relevance {:?}, k {k}", scores.size(), relevance.size())
}

fn main() {
    let scores = Tensor::from_slice(&[0.9f32, 0.8, 0.8, 0.3, 0.1, 0.5]).reshape([1, 6]);
    let labels = Tensor::from_slice(&[true, false, true, false, false, true]).reshape([1, 6]);
    // sklearn: 0.8333, 0.8056
    roc_auc(&scores, &labels).print();
    average_precision(&scores, &labels).print();
    let relevance = Tensor::from_slice(&[3.0f32, 2.0, 3.0, 0.0, 1.0, 2.0]).reshape([1, 6]);
    // sklearn: 0.9889
    ndcg_at_k(&scores, &relevance, 3).print();
}
