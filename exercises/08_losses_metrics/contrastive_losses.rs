// Exercise 08_losses_metrics/contrastive_losses: NT-Xent (InfoNCE) and the margin contrastive loss.
//
// Contrastive learning learns embeddings without labels: two augmentations ("views") of the
// same image should embed close together, views of different images far apart.
//
// NT-Xent ("normalized temperature-scaled cross entropy", SimCLR) does it with a softmax. Stack
// the two views of N samples into 2N rows, normalize each row to length 1, and take every
// cosine similarity divided by a temperature tau: a [2N, 2N] matrix. Row i (view 1 of sample i)
// has one positive, row i + N (view 2 of the same sample), and 2N - 2 negatives; so does row
// i + N, whose positive is row i. The loss of a row is cross entropy with its positive as the
// class, over every other row:
//
//     loss_i = -log( exp(s_i,pos / tau) / sum over k != i of exp(s_i,k / tau) )
//
// and NT-Xent is the mean over all 2N rows. Three things to get right:
// - k != i: a row's similarity with itself is 1, the largest of all; left in the denominator it
//   is a free "positive" that teaches nothing. Fill the diagonal with -inf before the softmax
//   (exp(-inf) = 0).
// - the temperature: tau = 0.01 makes the logits as large as 100, and exp(100) overflows
//   float32. cross_entropy_loss (log_softmax inside) subtracts the maximum first; a hand-written
//   exp().sum().log() is infinite.
// - normalization divides by the norm: F.normalize divides by max(|z|, 1e-12), so an embedding of
//   all zeros (a dead ReLU layer) stays 0 and its similarities are 0, not NaN.
//
// The margin contrastive loss (Hadsell, Chopra and LeCun, 2006) works on labelled pairs instead:
// a similar pair is pulled together by d^2, a dissimilar one pushed apart by max(0, margin - d)^2
// until it is at least `margin` apart, d = |x1 - x2|. The pitfall is the gradient of d at d = 0
// (two identical points, common for duplicates in a dataset): sqrt(sum of squares) has an
// infinite derivative there and gives NaN; the norm functions of libtorch define it as 0.

// Kind and Reduction are for your code.
#[allow(unused_imports)]
use tch::{Kind, Reduction, Tensor};

/// NT-Xent over two views `z1` and `z2` of shape `[N, D]` (row i of each is the same sample):
/// the mean over the 2N rows of `z = cat([z1, z2])` of the cross entropy of the row's
/// cosine similarities to all *other* rows, divided by `temperature`, with its positive (row
/// `i + N` for row `i < N`, row `i - N` for row `i >= N`) as the class. Rows are normalized as
/// `F.normalize` does (divided by `max(|z|, 1e-12)`). Returns a scalar, differentiable in both
/// views. N = 1 is allowed: each row then has only its positive, and the loss is 0.
///
/// PyTorch:
/// ```python
/// z = F.normalize(torch.cat([z1, z2]), dim=1)                # [2N, D]
/// logits = z @ z.T / temperature                             # [2N, 2N]
/// logits.fill_diagonal_(float("-inf"))                       # no self-similarity
/// targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
/// F.cross_entropy(logits, targets)
/// ```
pub fn nt_xent_loss(z1: &Tensor, z2: &Tensor, temperature: f64) -> Tensor {
    // TODO: normalize, similarities / temperature, -inf on the diagonal, the positives, cross
    // entropy (mean).
    todo!("nt_xent_loss of views {:?} and {:?} at temperature {temperature}", z1.size(), z2.size())
}

/// The margin contrastive loss of pairs `(x1[i], x2[i])` (both `[N, D]`), `similar` a bool
/// tensor `[N]`: the mean over the pairs of `d^2` where similar and `max(0, margin - d)^2` where
/// not, with `d = |x1[i] - x2[i]|` (Euclidean). The gradient must stay finite for identical
/// points (d = 0): take d from a norm function, not as sqrt of a sum of squares.
///
/// PyTorch:
/// ```python
/// d = torch.linalg.norm(x1 - x2, dim=1)
/// y = similar.float()
/// (y * d**2 + (1 - y) * (margin - d).clamp(min=0) ** 2).mean()
/// ```
pub fn margin_contrastive_loss(x1: &Tensor, x2: &Tensor, similar: &Tensor, margin: f64) -> Tensor {
    // TODO
    todo!(
        "margin_contrastive_loss of pairs {:?} and {:?}, similar {:?}, margin {margin}",
        x1.size(),
        x2.size(),
        similar.size()
    )
}

fn main() {
    // Two views of three samples: the second view is the first, slightly perturbed.
    let z1 = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, -1.0, 0.0]).reshape([3, 2]);
    let z2 = &z1 + Tensor::from_slice(&[0.1f32, 0.0, 0.0, -0.1, 0.1, 0.1]).reshape([3, 2]);
    // Small: each view is closest to its own positive.
    nt_xent_loss(&z1, &z2, 0.5).print();
    // Larger: the second view shuffled, the positives are now far apart.
    nt_xent_loss(&z1, &z2.flip([0]), 0.5).print();
    // One pair of each kind: a similar pair at distance 1 (loss 1), a dissimilar one at distance 3
    // beyond the margin 2 (loss 0): mean 0.5.
    let a = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 0.0]).reshape([2, 2]);
    let b = Tensor::from_slice(&[1.0f32, 0.0, 3.0, 0.0]).reshape([2, 2]);
    let similar = Tensor::from_slice(&[true, false]);
    margin_contrastive_loss(&a, &b, &similar, 2.0).print();
}
