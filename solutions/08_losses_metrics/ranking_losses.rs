// Reference solution of 08_losses_metrics/ranking_losses.

use tch::Tensor;

/// `[B, L, L]`: entry `[b, i, j]` is `scores[b, i] - scores[b, j]`.
fn score_differences(scores: &Tensor) -> Tensor {
    scores.unsqueeze(2) - scores.unsqueeze(1)
}

/// `[B, L, L]` of 0.0 and 1.0: 1 where item i is strictly more relevant than item j. Strictly:
/// a tie carries no preference, and neither does an item with itself.
fn preferred_pairs(scores: &Tensor, relevance: &Tensor) -> Tensor {
    relevance.unsqueeze(2).gt_tensor(&relevance.unsqueeze(1)).to_kind(scores.kind())
}

/// The mean of `losses` over the pairs of `pairs`, and 0 when there is none (not 0 / 0).
fn mean_over_pairs(losses: Tensor, pairs: &Tensor) -> Tensor {
    let kind = losses.kind();
    (losses * pairs).sum(kind) / pairs.sum(kind).clamp_min(1.0)
}

/// RankNet's pairwise logistic loss: `log(1 + exp(-(s_i - s_j)))` over the pairs with
/// `relevance_i > relevance_j` in the same list, averaged over all such pairs of the batch.
pub fn ranknet_loss(scores: &Tensor, relevance: &Tensor) -> Tensor {
    let pairs = preferred_pairs(scores, relevance);
    // softplus(x) = log(1 + exp(x)) without overflow: x itself for large x.
    mean_over_pairs((-score_differences(scores)).softplus(), &pairs)
}

/// The pairwise hinge: `max(0, margin - (s_i - s_j))` over the same pairs, averaged.
pub fn margin_ranking_loss(scores: &Tensor, relevance: &Tensor, margin: f64) -> Tensor {
    let pairs = preferred_pairs(scores, relevance);
    mean_over_pairs((margin - score_differences(scores)).clamp_min(0.0), &pairs)
}

/// ListNet's top-one loss: the cross entropy between `softmax(relevance)` and
/// `softmax(scores)` over each list, averaged over the lists.
pub fn listnet_loss(scores: &Tensor, relevance: &Tensor) -> Tensor {
    let kind = scores.kind();
    let target = relevance.softmax(-1, kind);
    // log_softmax, not softmax().log(): a score 100 below the best one is -100, not log(0).
    let cross_entropy = -(target * scores.log_softmax(-1, kind)).sum_dim_intlist(-1, false, kind);
    cross_entropy.mean(kind)
}

fn main() {
    // One list of four documents, relevance 3, 2, 2, 0 (a tie in the middle).
    let relevance = Tensor::from_slice(&[3.0f32, 2.0, 2.0, 0.0]).reshape([1, 4]);
    let good = Tensor::from_slice(&[2.0f32, 1.0, 1.5, -1.0]).reshape([1, 4]);
    let bad = good.flip([1]);
    for scores in [&good, &bad] {
        println!(
            "ranknet {:.4}, margin {:.4}, listnet {:.4}",
            ranknet_loss(scores, &relevance).double_value(&[]),
            margin_ranking_loss(scores, &relevance, 1.0).double_value(&[]),
            listnet_loss(scores, &relevance).double_value(&[])
        );
    }
}
