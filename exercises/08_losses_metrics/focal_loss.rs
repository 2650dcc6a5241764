// Exercise 08_losses_metrics/focal_loss: focal loss, multi-class and binary, finite for any logits.
//
// Cross entropy keeps paying for examples the model already gets right: with 10,000 easy
// background boxes for every object (RetinaNet's problem), their small losses add up and drown
// the few hard ones. Focal loss (Lin et al., 2017) multiplies each sample's cross entropy by
// (1 - p_t)^gamma, where p_t is the probability the model gives to the true class: about 0 for an
// easy sample (p_t near 1), about 1 for a hard one. gamma = 0 is plain cross entropy; gamma = 2
// is the usual choice. alpha_t weighs the classes on top: one number, or one per class.
//
//     FL = alpha_t * (1 - p_t)^gamma * CE,   CE = -log p_t
//
// Stability. Logits of +-100 are common in a network that trains long or overfits. softmax
// then rounds the probability of a class that is 200 behind to exactly 0 (e^-200 is below
// float32's smallest number), and log(0) = -inf: the loss is infinite and every gradient NaN.
// log_softmax computes x - logsumexp(x) instead, which is -200, exact. So take log p_t from
// log_softmax (or cross_entropy_loss with Reduction::None, which does the same), never from
// softmax(..).log().
//
// Then p_t itself. The seed of this course computes it as exp(-CE), and that is right here and
// stable: CE >= 0, so exp(-CE) is in [0, 1] and never overflows; when CE is huge, p_t underflows
// to 0, which is the right answer (the factor (1 - p_t)^gamma is then 1). What rounding costs is
// relative precision in 1 - p_t when p_t is within 1e-7 of 1, where the loss is ~0 anyway
// ((-CE).expm1().neg() would keep those digits). It is NOT right for the binary loss below with
// soft targets: exp(-BCE) is p_t only when the target is exactly 0 or 1.
//
// The binary (sigmoid) form is torchvision.ops.sigmoid_focal_loss, one independent yes/no per
// element (RetinaNet's per-class sigmoids): the checks compare yours with its numbers.
// Its cross entropy is binary_cross_entropy_with_logits, which works through log-sigmoid: finite
// at +-100, where sigmoid(..).log() is not.

use tch::{Reduction, Tensor};

/// How `focal_loss` weighs the classes: one weight for all (`alpha_t = a`), or one per class
/// (`alpha_t = weights[target]`, a tensor of shape `[C]`).
pub enum Alpha<'a> {
    Scalar(f64),
    PerClass(&'a Tensor),
}

/// Multi-class focal loss on `logits` of shape `[N, C]` and `targets` of shape `[N]` (class
/// indices, int64): per sample `alpha_t * (1 - p_t)^gamma * CE` with `CE = -log p_t`, `p_t` the
/// softmax probability of the target class, and `alpha_t` as `alpha` says (per class: the weight
/// of the sample's *target* class). Then `reduction`: `Reduction::None` returns the `[N]` losses,
/// `Mean` their plain mean (divided by N, also with per-class alpha), `Sum` their sum.
/// Finite values and gradients for any logits: log p_t from log_softmax.
///
/// PyTorch (the seed's solution, with alpha per class and the reductions):
/// ```python
/// ce = F.cross_entropy(logits, targets, reduction="none")   # or -log_softmax(..).gather(..)
/// pt = torch.exp(-ce)
/// loss = alpha_t * (1 - pt) ** gamma * ce                   # alpha_t = alpha[targets] per class
/// loss.mean()  # or .sum(), or loss itself
/// ```
pub fn focal_loss(
    logits: &Tensor,
    targets: &Tensor,
    alpha: Alpha,
    gamma: f64,
    reduction: Reduction,
) -> Tensor {
    // TODO: log p_t (log_softmax, then gather at the targets), CE, p_t = exp(-CE), the factor,
    // alpha_t, and the reduction (match on it: Reduction::None, Mean, Sum).
    todo!(
        "focal_loss of logits {:?} and targets {:?} with {}, gamma {gamma}, reduction {reduction:?}",
        logits.size(),
        targets.size(),
        match alpha {
            Alpha::Scalar(a) => format!("alpha {a}"),
            Alpha::PerClass(weights) => format!("alpha per class {:?}", weights.size()),
        }
    )
}

/// Binary focal loss on logits, element by element, as `torchvision.ops.sigmoid_focal_loss`:
/// `inputs` and `targets` have the same (any) shape, targets in [0, 1] (0 or 1, or soft labels).
/// `p = sigmoid(inputs)`, `p_t = p t + (1 - p)(1 - t)`, `loss = BCE_with_logits * (1 - p_t)^gamma`,
/// times `alpha_t = alpha t + (1 - alpha)(1 - t)` when `alpha` is `Some` (torchvision's -1 is
/// `None` here). Reductions as for `focal_loss`.
///
/// PyTorch (torchvision's code):
/// ```python
/// p = torch.sigmoid(inputs)
/// ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
/// p_t = p * targets + (1 - p) * (1 - targets)
/// loss = ce_loss * ((1 - p_t) ** gamma)
/// if alpha >= 0:
///     loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
/// ```
pub fn sigmoid_focal_loss(
    inputs: &Tensor,
    targets: &Tensor,
    alpha: Option<f64>,
    gamma: f64,
    reduction: Reduction,
) -> Tensor {
    // TODO
    todo!(
        "sigmoid_focal_loss of inputs {:?} and targets {:?}, alpha {alpha:?}, gamma {gamma}, reduction {reduction:?}",
        inputs.size(),
        targets.size()
    )
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
