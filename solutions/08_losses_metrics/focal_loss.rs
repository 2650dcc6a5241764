// Reference solution of 08_losses_metrics/focal_loss.

use tch::{Reduction, Tensor};

/// How `focal_loss` weighs the classes: one weight for all (`alpha_t = a`), or one per class
/// (`alpha_t = weights[target]`, a tensor of shape `[C]`).
pub enum Alpha<'a> {
    Scalar(f64),
    PerClass(&'a Tensor),
}

/// The losses of every sample, reduced as asked: none (as they are), mean or sum.
fn reduce(loss: Tensor, reduction: Reduction) -> Tensor {
    match reduction {
        Reduction::None => loss,
        Reduction::Mean => loss.mean(loss.kind()),
        Reduction::Sum => loss.sum(loss.kind()),
        Reduction::Other(r) => panic!("unknown reduction {r}"),
    }
}

/// Multi-class focal loss: `alpha_t * (1 - p_t)^gamma * CE`, with `CE = -log p_t` and `p_t` the
/// softmax probability of the target class.
pub fn focal_loss(
    logits: &Tensor,
    targets: &Tensor,
    alpha: Alpha,
    gamma: f64,
    reduction: Reduction,
) -> Tensor {
    // log p_t straight from log_softmax (logsumexp inside, never log(softmax)): finite for any
    // logits, -200 where the target's logit is 100 below another one.
    let log_pt = logits.log_softmax(-1, logits.kind()).gather(1, &targets.unsqueeze(1), false).squeeze_dim(1);
    let ce = -&log_pt;
    // p_t = exp(-CE), the seed's way: CE >= 0, so the exponent is <= 0 and exp never overflows; a
    // large CE underflows to p_t = 0, which is right (the modulating factor becomes 1).
    let pt = (-&ce).exp();
    let loss = (1.0f64 - pt).pow_tensor_scalar(gamma) * &ce;
    let loss = match alpha {
        Alpha::Scalar(a) => loss * a,
        // alpha_t = weights[target], one per sample.
        Alpha::PerClass(weights) => loss * weights.index_select(0, targets),
    };
    reduce(loss, reduction)
}

/// Binary focal loss on logits, element by element, as `torchvision.ops.sigmoid_focal_loss`:
/// `p_t = p t + (1 - p)(1 - t)`, `loss = BCE * (1 - p_t)^gamma`, times
/// `alpha_t = alpha t + (1 - alpha)(1 - t)` unless `alpha` is `None`.
pub fn sigmoid_focal_loss(
    inputs: &Tensor,
    targets: &Tensor,
    alpha: Option<f64>,
    gamma: f64,
    reduction: Reduction,
) -> Tensor {
    let p = inputs.sigmoid();
    // BCE on logits is computed through log-sigmoid: finite at +-100, where log(sigmoid) is not.
    let ce =
        inputs.binary_cross_entropy_with_logits(targets, None::<Tensor>, None::<Tensor>, Reduction::None);
    // Not exp(-BCE): with a soft target (0.9, label smoothing) exp(-BCE) is not p_t.
    let p_t: Tensor = &p * targets + (1.0 - &p) * (1.0 - targets);
    let mut loss = (1.0f64 - p_t).pow_tensor_scalar(gamma) * &ce;
    if let Some(alpha) = alpha {
        loss = (targets * alpha + (1.0 - targets) * (1.0 - alpha)) * loss;
    }
    reduce(loss, reduction)
}

fn main() {
    // Three samples of three classes; the last one is confidently wrong by 200.
    let logits = Tensor::from_slice(&[2.0f32, 0.5, -1.0, 0.1, 0.2, 0.3, 100.0, 0.0, -100.0]).reshape([3, 3]);
    let targets = Tensor::from_slice(&[0i64, 2, 2]);
    // With gamma 0 and alpha 1 this is cross entropy: [0.24, 1.00, 200.0].
    focal_loss(&logits, &targets, Alpha::Scalar(1.0), 0.0, Reduction::None).print();
    // gamma 2 shrinks the loss of the easy first sample most.
    focal_loss(&logits, &targets, Alpha::Scalar(1.0), 2.0, Reduction::None).print();
    let weights = Tensor::from_slice(&[0.25f32, 0.25, 0.5]);
    focal_loss(&logits, &targets, Alpha::PerClass(&weights), 2.0, Reduction::Mean).print();
    let binary_targets = Tensor::from_slice(&[1.0f32, 0.0, 1.0]);
    sigmoid_focal_loss(&logits.get(2), &binary_targets, Some(0.25), 2.0, Reduction::None).print();
}
