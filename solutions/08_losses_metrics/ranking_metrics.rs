// Reference solution of 08_losses_metrics/ranking_metrics.

use tch::{Kind, Tensor};

/// `[B, n, n]` of 0.0 and 1.0: entry `[b, i, j]` is 1 where `scores[b, j] >= scores[b, i]`, the
/// items at or above item i's score.
fn at_or_above(scores: &Tensor) -> Tensor {
    scores.unsqueeze(1).ge_tensor(&scores.unsqueeze(2)).to_kind(Kind::Double)
}

/// ROC AUC of each row: the fraction of (positive, negative) pairs that the scores order
/// correctly, a tie counting one half; NaN for a row without positives or negatives.
pub fn roc_auc(scores: &Tensor, labels: &Tensor) -> Tensor {
    let pos = labels.to_kind(Kind::Double);
    let neg = pos.ones_like() - &pos;
    // [B, n, n]: [b, i, j] compares a candidate positive i with a candidate negative j.
    let (si, sj) = (scores.unsqueeze(2), scores.unsqueeze(1));
    let credit = si.gt_tensor(&sj).to_kind(Kind::Double) + si.eq_tensor(&sj).to_kind(Kind::Double) * 0.5;
    let pairs = pos.unsqueeze(2) * neg.unsqueeze(1);
    // 0 / 0 = NaN where a row has no pair: the AUC is undefined there (sklearn raises).
    (credit * &pairs).sum_dim_intlist([1, 2].as_slice(), false, Kind::Double)
        / pairs.sum_dim_intlist([1, 2].as_slice(), false, Kind::Double)
}

/// Average precision of each row, as sklearn: the mean over the positives of the precision at
/// their score (every item scored at least as high counts, ties included); 0 without positives.
pub fn average_precision(scores: &Tensor, labels: &Tensor) -> Tensor {
    let pos = labels.to_kind(Kind::Double);
    let above = at_or_above(scores);
    // For each item i: how many items, and how many positives, score >= s_i.
    let retrieved = above.sum_dim_intlist(2, false, Kind::Double);
    let relevant = above.matmul(&pos.unsqueeze(2)).squeeze_dim(2);
    let precision = relevant / retrieved;
    let positives = pos.sum_dim_intlist(1, false, Kind::Double);
    (precision * &pos).sum_dim_intlist(1, false, Kind::Double) / positives.clamp_min(1.0)
}

/// NDCG@k of each row with linear gains, ties in the scores averaged as sklearn's ndcg_score
/// does; 0 for a row whose relevances are all 0.
pub fn ndcg_at_k(scores: &Tensor, relevance: &Tensor, k: i64) -> Tensor {
    let n = scores.size()[1];
    let k = k.min(n);
    let device = scores.device();
    let gains = relevance.to_kind(Kind::Double);
    // discount_sums[p] = sum of 1 / log2(q + 2) over positions q < p that are inside the top k.
    let positions = Tensor::arange(n, (Kind::Double, device));
    let discounts = (positions + 2.0).log2().reciprocal()
        * Tensor::arange(n, (Kind::Int64, device)).lt(k).to_kind(Kind::Double);
    let discount_sums =
        Tensor::cat(&[Tensor::zeros([1], (Kind::Double, device)), discounts.cumsum(0, Kind::Double)], 0);
    // Item i's tie group takes positions first..first + size (0-based), first = the number of items
    // scored strictly higher; each member gets the group's mean gain on each of those positions.
    let (si, sj) = (scores.unsqueeze(2), scores.unsqueeze(1));
    let first = sj.gt_tensor(&si).sum_dim_intlist(2, false, Kind::Int64);
    let size = sj.eq_tensor(&si).sum_dim_intlist(2, false, Kind::Int64);
    let spread = discount_sums.index_select(0, &(&first + &size).reshape([-1])).reshape(first.size())
        - discount_sums.index_select(0, &first.reshape([-1])).reshape(first.size());
    let dcg = (&gains * spread / size.to_kind(Kind::Double)).sum_dim_intlist(1, false, Kind::Double);
    // The ideal DCG: the relevances in decreasing order.
    let (ideal, _) = gains.sort(1, true);
    let idcg = (ideal * discounts.unsqueeze(0)).sum_dim_intlist(1, false, Kind::Double);
    // 0 where nothing is relevant (sklearn's convention), instead of 0 / 0.
    let safe = idcg.clamp_min(f64::MIN_POSITIVE);
    (dcg / safe).where_self(&idcg.gt(0.0), &idcg.zeros_like())
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
