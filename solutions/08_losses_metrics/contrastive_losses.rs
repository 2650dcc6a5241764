// Reference solution of 08_losses_metrics/contrastive_losses.

use tch::{Kind, Reduction, Tensor};

/// NT-Xent (SimCLR's InfoNCE) over two views: row i of `z1` and row i of `z2` are the positive
/// pair; every other row of both views is a negative.
pub fn nt_xent_loss(z1: &Tensor, z2: &Tensor, temperature: f64) -> Tensor {
    let n = z1.size()[0];
    let device = z1.device();
    // [2N, D]: view 1 on top, view 2 below, so row i's positive is row (i + N) mod 2N.
    let z = Tensor::cat(&[z1, z2], 0);
    // F.normalize: divide by max(|z|, 1e-12), so an all-zero embedding stays 0 instead of NaN.
    let z = &z / z.norm_scalaropt_dim(2.0, [1], true).clamp_min(1e-12);
    // Every cosine similarity at once, divided by the temperature: [2N, 2N].
    let logits = z.matmul(&z.tr()) / temperature;
    // A row is always most similar to itself: -inf takes it out of the softmax's denominator.
    let self_pairs = Tensor::eye(2 * n, (Kind::Bool, device));
    let logits = logits.masked_fill(&self_pairs, f64::NEG_INFINITY);
    // The class of row i is its positive: N..2N for the first view, 0..N for the second.
    let positives = Tensor::cat(
        &[Tensor::arange_start(n, 2 * n, (Kind::Int64, device)), Tensor::arange(n, (Kind::Int64, device))],
        0,
    );
    // Cross entropy works through log_softmax: finite at any temperature.
    logits.cross_entropy_loss(&positives, None::<Tensor>, Reduction::Mean, -100, 0.0)
}

/// The margin contrastive loss of Hadsell, Chopra and LeCun (2006), averaged over the pairs:
/// `d^2` for a similar pair, `max(0, margin - d)^2` for a dissimilar one, `d = |x1 - x2|`.
pub fn margin_contrastive_loss(x1: &Tensor, x2: &Tensor, similar: &Tensor, margin: f64) -> Tensor {
    // The norm's gradient at 0 is 0 (libtorch masks it); sqrt(sum of squares) would give NaN
    // for a pair of identical points.
    let d = (x1 - x2).norm_scalaropt_dim(2.0, [1], false);
    let y = similar.to_kind(d.kind());
    let pull = &y * d.square();
    let push = (1.0f64 - &y) * (margin - &d).clamp_min(0.0).square();
    (pull + push).mean(d.kind())
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
