// Exercise 08_losses_metrics/ranking_losses: pairwise and listwise ranking losses, ties included.
//
// A search engine or recommender scores every candidate of a list; what matters is the order of
// the scores, not their values. Ranking metrics (NDCG, the next exercise) are built from a sort
// and are flat almost everywhere: no gradient. Learning-to-rank trains on smooth surrogates.
//
// Pairwise (RankNet, Burges et al. 2005): for every pair of items in the same list where item i
// is more relevant than item j, the model should score s_i > s_j. RankNet models
// P(i above j) = sigmoid(s_i - s_j) and minimizes its negative log:
//
//     log(1 + exp(-(s_i - s_j)))  =  softplus(-(s_i - s_j))
//
// The margin version (a hinge) asks for s_i - s_j >= margin and pays max(0, margin - (s_i - s_j)),
// torch.nn.MarginRankingLoss with target 1 on each pair.
//
// All pairs at once: scores.unsqueeze(2) - scores.unsqueeze(1) is [B, L, L], the difference of
// every pair of every list, and the relevances compared the same way give a mask of the pairs
// that count. Ties: two items of equal relevance carry no preference, and an item with itself
// neither: the mask is relevance_i > relevance_j, strictly. A list where every item is equally
// relevant has no pair at all, and its loss is 0, not 0 / 0 = NaN.
//
// Listwise (ListNet, Cao et al. 2007): turn both the relevances and the scores of a list into
// "top-one" probability distributions with a softmax and take their cross entropy,
// -sum softmax(relevance) * log softmax(scores). Ties need nothing special: equal relevances get
// equal target probabilities.
//
// Stability: scores of +-100 are easy to reach. exp(100) overflows float32, so write
// log(1 + exp(x)) as softplus, and log(softmax(x)) as log_softmax.

// Kind is for your code.
#[allow(unused_imports)]
use tch::{Kind, Tensor};

/// RankNet's loss on `scores` and `relevance` of shape `[B, L]` (B lists of L items; relevance
/// grades may tie): `log(1 + exp(-(s_i - s_j)))` for every pair `(i, j)` of the same list with
/// `relevance_i > relevance_j`, averaged over all such pairs of the whole batch; 0 when there is
/// none. A scalar, finite for any scores.
///
/// PyTorch:
/// ```python
/// diff = scores[:, :, None] - scores[:, None, :]                    # [B, L, L]
/// pairs = (relevance[:, :, None] > relevance[:, None, :]).float()   # strictly: no ties
/// (F.softplus(-diff) * pairs).sum() / pairs.sum().clamp(min=1)
/// ```
pub fn ranknet_loss(scores: &Tensor, relevance: &Tensor) -> Tensor {
    // TODO
    todo!("ranknet_loss of scores {:?} and relevance {:?}", scores.size(), relevance.size())
}

/// The pairwise hinge on the same pairs: `max(0, margin - (s_i - s_j))`, averaged over the pairs
/// with `relevance_i > relevance_j` of the batch; 0 when there is none.
///
/// PyTorch: `F.margin_ranking_loss(s_i, s_j, torch.ones_like(s_i), margin)` over those pairs, or
/// ```python
/// ((margin - diff).clamp(min=0) * pairs).sum() / pairs.sum().clamp(min=1)
/// ```
pub fn margin_ranking_loss(scores: &Tensor, relevance: &Tensor, margin: f64) -> Tensor {
    // TODO
    todo!(
        "margin_ranking_loss of scores {:?} and relevance {:?}, margin {margin}",
        scores.size(),
        relevance.size()
    )
}

/// ListNet's top-one loss: for each list (row), the cross entropy
/// `-sum_i softmax(relevance)_i * log_softmax(scores)_i`, then the mean over the B lists.
///
/// PyTorch:
/// ```python
/// target = relevance.softmax(dim=-1)
/// (-(target * scores.log_softmax(dim=-1)).sum(dim=-1)).mean()
/// ```
pub fn listnet_loss(scores: &Tensor, relevance: &Tensor) -> Tensor {
    // TODO
    todo!("listnet_loss of scores {:?} and relevance {:?}", scores.size(), relevance.size())
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
