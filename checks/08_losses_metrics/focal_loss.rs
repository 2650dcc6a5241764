//! Checks of 08_losses_metrics/focal_loss.
//!
//! - `focal_loss` (multi-class): gamma 0 with alpha 1 is cross entropy (against libtorch's
//!   `cross_entropy_loss`, each reduction); gamma 2 with a scalar alpha and with one alpha per
//!   class (looked up by the target, not by the prediction), each reduction; gamma 0 with
//!   per-class alpha is weighted cross entropy per sample (its mean is a plain mean, not
//!   cross_entropy's weighted one); logits of +-100 in float32, where log(softmax) is log(0) and
//!   the values and gradients must stay finite; one sample, one class and no samples;
//!   a transposed (non-contiguous) view of the logits; float64.
//! - `sigmoid_focal_loss` (binary): against `torchvision.ops.sigmoid_focal_loss`'s numbers,
//!   carried below as literals (hard and soft targets, alpha 0.25 and none, gamma 2, 1.5 and 0,
//!   each reduction, and a gradient), in float64 and float32; gamma 0 without alpha is libtorch's
//!   `binary_cross_entropy_with_logits`; random shapes, a transposed view, logits of +-100.
//! - Gradients: against the reference's through autograd everywhere, and by gradcheck in float64.
//! - Inputs left as they were.
//!
//! The torchvision numbers come from torchvision 0.28's `sigmoid_focal_loss` (run from its source
//! file) on torch 2.13 in float64:
//!
//! ```python
//! x = torch.tensor([[-100.0, -3.0, -0.5, 0.0], [0.25, 1.5, 4.0, 100.0]], dtype=torch.float64)
//! hard = torch.tensor([[0.0, 1, 0, 1], [1, 0, 1, 0]], dtype=torch.float64)
//! soft = torch.tensor([[0.1, 0.9, 0.05, 0.95], [0.9, 0.1, 0.95, 0.05]], dtype=torch.float64)
//! sigmoid_focal_loss(x, hard, 0.25, 2, "none")   # and "mean", "sum"; alpha -1 is "none" here
//! ```

use tch::{Device, Kind, Reduction, Tensor};
use tensorlings_support::compare::assert_grad_close;
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::{randint, randn, uniform};
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("08_losses_metrics/focal_loss.rs");

/// Values and gradients: a few roundings apart between two correct ways (log_softmax and gather
/// or cross_entropy_loss, pow or a product), relative to values up to 200.
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-9) } else { Tolerance::new(1e-6, 1e-5) }
}

const LOG_OF_PROBABILITY: &str = "at logits this far apart a probability rounds to 0 and its log \
     is -inf (or its gradient NaN): take logarithms of probabilities through log_softmax (or \
     binary_cross_entropy_with_logits / log_sigmoid), never as softmax(..).log() or sigmoid(..).log()";

/// Adds `hint` to a failed comparison when `got` is NaN or infinite where `expected` is finite.
fn explain_nonfinite(failure: Failure, got: &Tensor, expected: &Tensor, hint: &str) -> Failure {
    let bad = got.size() == expected.size()
        && got.numel() > 0
        && got.isfinite().logical_not().logical_and(&expected.isfinite()).any().int64_value(&[]) != 0;
    if bad { Failure::new(format!("{}\n  {hint}", failure.message())) } else { failure }
}

/// Weights for the outputs of an unreduced loss, so that a gradient check sees each element with
/// its own weight (a sum would not notice two samples swapped).
fn output_weights(out: &Tensor) -> Tensor {
    let n = out.numel() as i64;
    ((Tensor::arange(n, (out.kind(), out.device())) + 1.0) / n as f64).reshape(out.size())
}

/// The gradient of `loss(x)` (weighted by `output_weights` when not reduced) with respect to
/// `x`, through autograd on a copy of `x`; an undefined tensor when the loss does not depend on
/// `x` differentiably (it was detached).
fn gradient(loss: impl Fn(&Tensor) -> Tensor, x: &Tensor) -> Result<Tensor, Failure> {
    let leaf = x.detach().copy().set_requires_grad(true);
    let out = loss(&leaf);
    // run_backward from a root that does not require grad crashes libtorch: test first.
    if !out.requires_grad() {
        return Ok(Tensor::new());
    }
    let root = (&out * output_weights(&out)).sum(out.kind());
    Ok(Tensor::f_run_backward(&[root], &[&leaf], false, false)?.remove(0))
}

/// alpha as a check holds it (the exercise and the reference each have their own `Alpha`).
#[derive(Clone, Copy)]
enum Weights<'a> {
    Scalar(f64),
    PerClass(&'a Tensor),
}

impl Weights<'_> {
    fn describe(&self) -> String {
        match self {
            Weights::Scalar(a) => format!("alpha {a}"),
            Weights::PerClass(w) => format!(
                "per-class alpha {:?}",
                Vec::<f64>::try_from(&w.to_kind(Kind::Double).to_device(Device::Cpu)).unwrap_or_default()
            ),
        }
    }
}

fn exercise_focal(
    logits: &Tensor,
    targets: &Tensor,
    alpha: Weights,
    gamma: f64,
    reduction: Reduction,
) -> Tensor {
    let alpha = match alpha {
        Weights::Scalar(a) => exercise::Alpha::Scalar(a),
        Weights::PerClass(w) => exercise::Alpha::PerClass(w),
    };
    exercise::focal_loss(logits, targets, alpha, gamma, reduction)
}

fn solution_focal(
    logits: &Tensor,
    targets: &Tensor,
    alpha: Weights,
    gamma: f64,
    reduction: Reduction,
) -> Tensor {
    let alpha = match alpha {
        Weights::Scalar(a) => solution::Alpha::Scalar(a),
        Weights::PerClass(w) => solution::Alpha::PerClass(w),
    };
    solution::focal_loss(logits, targets, alpha, gamma, reduction)
}

/// `focal_loss` on these inputs against the reference, values and gradients, inputs unchanged;
/// and against `builtin` (a libtorch loss it must equal) when there is one.
fn focal_matches(
    logits: &Tensor,
    targets: &Tensor,
    alpha: Weights,
    gamma: f64,
    reduction: Reduction,
    builtin: Option<Tensor>,
) -> CheckResult {
    let description = format!(
        "for {} logits of shape {:?}, {}, gamma {gamma}, reduction {reduction:?}",
        tensorlings_support::compare::kind_name(logits.kind()),
        logits.size(),
        alpha.describe()
    );
    within(description, || {
        let (logits_before, targets_before) = (logits.copy(), targets.copy());
        let alpha_copy = match alpha {
            Weights::PerClass(w) => Some(w.copy()),
            Weights::Scalar(_) => None,
        };
        let expected = solution_focal(&logits.copy(), &targets.copy(), alpha, gamma, reduction);
        let got = exercise_focal(logits, targets, alpha, gamma, reduction);
        assert_unchanged("logits", logits, &logits_before)?;
        assert_unchanged("targets", targets, &targets_before)?;
        if let (Weights::PerClass(w), Some(before)) = (alpha, &alpha_copy) {
            assert_unchanged("the per-class alpha", w, before)?;
        }
        let tol = tolerance(logits.kind());
        let what = "focal_loss(logits, targets, alpha, gamma, reduction)";
        assert_close(what, &got, &expected, tol)
            .map_err(|f| explain_nonfinite(f, &got, &expected, LOG_OF_PROBABILITY))?;
        if let Some(builtin) = builtin {
            assert_close(&format!("{what}, compared with libtorch's cross entropy,"), &got, &builtin, tol)?;
        }
        let expected_grad = gradient(|x| solution_focal(x, targets, alpha, gamma, reduction), logits)?;
        let got_grad = gradient(|x| exercise_focal(x, targets, alpha, gamma, reduction), logits)?;
        if got_grad.defined() && expected_grad.defined() {
            assert_close("the gradient with respect to the logits", &got_grad, &expected_grad, tol)
                .map_err(|f| explain_nonfinite(f, &got_grad, &expected_grad, LOG_OF_PROBABILITY))?;
        }
        assert_grad_close("logits", &got_grad, &expected_grad, tol)
    })
}

const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

/// Logits of +-100 and 0 with targets picked so that some samples are right by 200 (CE 0) and
/// some wrong by 200 (CE 200).
fn extreme_logits(device: Device) -> (Tensor, Tensor) {
    let logits = Tensor::from_slice(&[
        100.0f32, 0.0, -100.0, // target 0: right by 100 and 200
        100.0, 0.0, -100.0, // target 2: wrong by 200
        -100.0, 100.0, -100.0, // target 1: right
        0.0, -100.0, 100.0, // target 1: wrong by 200
    ])
    .reshape([4, 3])
    .to_device(device);
    (logits, Tensor::from_slice(&[0i64, 2, 1, 1]).to_device(device))
}

// The torchvision numbers (see the header).
const BINARY_INPUTS: [f64; 8] = [-100.0, -3.0, -0.5, 0.0, 0.25, 1.5, 4.0, 100.0];
const HARD: [f64; 8] = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
const SOFT: [f64; 8] = [0.1, 0.9, 0.05, 0.95, 0.9, 0.1, 0.95, 0.05];
const HARD_A025_G2: [f64; 8] = [
    0.0,
    0.6915701102563155,
    0.05068011788812772,
    0.04332169878499658,
    0.02760037281621379,
    0.8529542367143825,
    1.4678924304673092e-06,
    75.0,
];
const HARD_A025_G2_MEAN: f64 = 9.583266000544057;
const HARD_A025_G2_SUM: f64 = 76.66612800435246;
const HARD_NOALPHA_G15: [f64; 8] = [
    0.0,
    2.834306517297994,
    0.10997512964790017,
    0.2450645358671368,
    0.16684969071505285,
    1.257768763653063,
    4.378087054081968e-05,
    100.0,
];
const SOFT_A025_G2: [f64; 8] = [
    0.06999999999999997,
    0.612780706055286,
    0.05497425629415354,
    0.04765386866349624,
    0.036549072960313095,
    0.6174998677101246,
    0.00026280939717503664,
    62.15968749999999,
];
// Its 0.693.. is ln 2: binary cross entropy at a logit of 0, whatever the target.
#[allow(clippy::approx_constant)]
const SOFT_NOALPHA_G0: [f64; 8] = [
    10.0,
    2.7485873515737422,
    0.4990769841801067,
    0.6931471805599453,
    0.6009394198788436,
    1.5514132779827525,
    0.2181499279178099,
    95.0,
];
/// d/dx of sigmoid_focal_loss(x, hard, 0.25, 2, "sum").
const GRAD_HARD_A025_G2_SUM: [f64; 8] = [
    0.0,
    -0.28168747015872214,
    0.10345274801318578,
    -0.07457169878499659,
    -0.05201409478121608,
    0.7210685156027701,
    -4.337632805384433e-06,
    0.75,
];

fn literal(values: &[f64], shape: &[i64], kind: Kind, device: Device) -> Tensor {
    Tensor::from_slice(values).reshape(shape).to_kind(kind).to_device(device)
}

/// `sigmoid_focal_loss` against the reference (values, gradients, inputs unchanged) and, when
/// given, against torchvision's numbers.
fn sigmoid_focal_matches(
    inputs: &Tensor,
    targets: &Tensor,
    alpha: Option<f64>,
    gamma: f64,
    reduction: Reduction,
    torchvision: Option<&Tensor>,
) -> CheckResult {
    let description = format!(
        "for {} inputs of shape {:?}, alpha {alpha:?}, gamma {gamma}, reduction {reduction:?}",
        tensorlings_support::compare::kind_name(inputs.kind()),
        inputs.size()
    );
    within(description, || {
        let (inputs_before, targets_before) = (inputs.copy(), targets.copy());
        let expected = solution::sigmoid_focal_loss(&inputs.copy(), &targets.copy(), alpha, gamma, reduction);
        let got = exercise::sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction);
        assert_unchanged("inputs", inputs, &inputs_before)?;
        assert_unchanged("targets", targets, &targets_before)?;
        let tol = tolerance(inputs.kind());
        let what = "sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction)";
        if let Some(torchvision) = torchvision {
            assert_close(&format!("{what}, compared with torchvision's,"), &got, torchvision, tol)
                .map_err(|f| explain_nonfinite(f, &got, torchvision, LOG_OF_PROBABILITY))?;
        }
        assert_close(what, &got, &expected, tol)
            .map_err(|f| explain_nonfinite(f, &got, &expected, LOG_OF_PROBABILITY))?;
        let expected_grad =
            gradient(|x| solution::sigmoid_focal_loss(x, targets, alpha, gamma, reduction), inputs)?;
        let got_grad =
            gradient(|x| exercise::sigmoid_focal_loss(x, targets, alpha, gamma, reduction), inputs)?;
        if got_grad.defined() && expected_grad.defined() {
            assert_close("the gradient with respect to the inputs", &got_grad, &expected_grad, tol)
                .map_err(|f| explain_nonfinite(f, &got_grad, &expected_grad, LOG_OF_PROBABILITY))?;
        }
        assert_grad_close("inputs", &got_grad, &expected_grad, tol)
    })
}

/// The literal inputs of the header on `device` in `kind`, checked against torchvision's numbers.
fn torchvision_numbers(kind: Kind, device: Device) -> CheckResult {
    let x = literal(&BINARY_INPUTS, &[2, 4], kind, device);
    let hard = literal(&HARD, &[2, 4], kind, device);
    let soft = literal(&SOFT, &[2, 4], kind, device);
    let vs = |values: &[f64]| literal(values, &[2, 4], kind, device);
    let scalar = |v: f64| Tensor::from(v).to_kind(kind).to_device(device);
    sigmoid_focal_matches(&x, &hard, Some(0.25), 2.0, Reduction::None, Some(&vs(&HARD_A025_G2)))?;
    sigmoid_focal_matches(&x, &hard, Some(0.25), 2.0, Reduction::Mean, Some(&scalar(HARD_A025_G2_MEAN)))?;
    sigmoid_focal_matches(&x, &hard, Some(0.25), 2.0, Reduction::Sum, Some(&scalar(HARD_A025_G2_SUM)))?;
    sigmoid_focal_matches(&x, &hard, None, 1.5, Reduction::None, Some(&vs(&HARD_NOALPHA_G15)))?;
    within("for soft targets (0.1, 0.9, 0.05, 0.95, ..: label smoothing)", || {
        sigmoid_focal_matches(&x, &soft, Some(0.25), 2.0, Reduction::None, Some(&vs(&SOFT_A025_G2)))?;
        sigmoid_focal_matches(&x, &soft, None, 0.0, Reduction::None, Some(&vs(&SOFT_NOALPHA_G0)))
    })?;
    within("for the gradient of the sum with hard targets, alpha 0.25, gamma 2", || {
        let got = gradient(|x| exercise::sigmoid_focal_loss(x, &hard, Some(0.25), 2.0, Reduction::Sum), &x)?;
        assert_grad_close("inputs", &got, &vs(&GRAD_HARD_A025_G2_SUM), tolerance(kind))
    })
}

fn main() {
    Checks::new()
        .check("focal_loss with gamma 0 and alpha 1 is cross entropy, each reduction", |ctx| {
            let logits = randn(&[6, 5], Kind::Float, ctx.device()) * 3.0;
            let targets = randint(&[6], 5, ctx.device());
            for reduction in REDUCTIONS {
                let ce = logits.cross_entropy_loss(&targets, None::<Tensor>, reduction, -100, 0.0);
                focal_matches(&logits, &targets, Weights::Scalar(1.0), 0.0, reduction, Some(ce))?;
            }
            Ok(())
        })
        .check("focal_loss with gamma 2 and alpha 0.25, each reduction", |ctx| {
            let logits = randn(&[8, 4], Kind::Float, ctx.device()) * 3.0;
            let targets = randint(&[8], 4, ctx.device());
            for reduction in REDUCTIONS {
                focal_matches(&logits, &targets, Weights::Scalar(0.25), 2.0, reduction, None)?;
            }
            focal_matches(&logits, &targets, Weights::Scalar(1.0), 0.5, Reduction::None, None)
        })
        .check("focal_loss with one alpha per class, looked up by the target", |ctx| {
            let logits = randn(&[9, 4], Kind::Float, ctx.device()) * 3.0;
            let targets = randint(&[9], 4, ctx.device());
            let alpha = uniform(&[4], 0.1, 1.0, Kind::Float, ctx.device());
            for reduction in REDUCTIONS {
                focal_matches(&logits, &targets, Weights::PerClass(&alpha), 2.0, reduction, None)?;
            }
            // gamma 0: cross entropy weighted per sample (before any reduction).
            let weighted = logits.cross_entropy_loss(&targets, Some(&alpha), Reduction::None, -100, 0.0);
            focal_matches(&logits, &targets, Weights::PerClass(&alpha), 0.0, Reduction::None, Some(weighted))
        })
        .check("focal_loss stays finite, values and gradients, for logits of +-100 (float32)", |ctx| {
            let (logits, targets) = extreme_logits(ctx.device());
            for (alpha, gamma) in [(1.0, 0.0), (0.25, 2.0), (1.0, 1.0)] {
                focal_matches(&logits, &targets, Weights::Scalar(alpha), gamma, Reduction::None, None)?;
            }
            let alpha = Tensor::from_slice(&[0.2f32, 0.3, 0.5]).to_device(ctx.device());
            focal_matches(&logits, &targets, Weights::PerClass(&alpha), 2.0, Reduction::Mean, None)
        })
        .check("focal_loss with one sample, one class, and no samples", |ctx| {
            let one = randn(&[1, 5], Kind::Float, ctx.device());
            focal_matches(
                &one,
                &randint(&[1], 5, ctx.device()),
                Weights::Scalar(0.25),
                2.0,
                Reduction::Mean,
                None,
            )?;
            let one_class = randn(&[4, 1], Kind::Float, ctx.device());
            let zeros = Tensor::zeros([4], (Kind::Int64, ctx.device()));
            focal_matches(&one_class, &zeros, Weights::Scalar(0.25), 2.0, Reduction::None, None)?;
            let none = randn(&[0, 3], Kind::Float, ctx.device());
            let no_targets = Tensor::zeros([0], (Kind::Int64, ctx.device()));
            focal_matches(&none, &no_targets, Weights::Scalar(0.25), 2.0, Reduction::None, None)?;
            focal_matches(&none, &no_targets, Weights::Scalar(0.25), 2.0, Reduction::Sum, None)
        })
        .check("focal_loss on a transposed view of the logits, and in float64", |ctx| {
            let stored = randn(&[3, 7], Kind::Float, ctx.device()) * 2.0;
            let targets = randint(&[7], 3, ctx.device());
            focal_matches(&stored.tr(), &targets, Weights::Scalar(0.5), 2.0, Reduction::None, None)?;
            let logits = randn(&[5, 4], Kind::Double, ctx.device()) * 3.0;
            let targets = randint(&[5], 4, ctx.device());
            let alpha = uniform(&[4], 0.1, 1.0, Kind::Double, ctx.device());
            focal_matches(&logits, &targets, Weights::PerClass(&alpha), 2.0, Reduction::Mean, None)
        })
        .check("focal_loss's gradient by finite differences (gradcheck, float64)", |ctx| {
            let logits = randn(&[4, 3], Kind::Double, ctx.device());
            let targets = randint(&[4], 3, ctx.device());
            let alpha = uniform(&[3], 0.1, 1.0, Kind::Double, ctx.device());
            within("for logits of shape [4, 3], per-class alpha, gamma 2", || {
                gradcheck(
                    |xs| exercise_focal(&xs[0], &xs[1], Weights::PerClass(&xs[2]), 2.0, Reduction::None),
                    &[logits, targets, alpha],
                    GradcheckOptions::default(),
                )
            })
        })
        .check("sigmoid_focal_loss equals torchvision's numbers (float64)", |ctx| {
            torchvision_numbers(Kind::Double, ctx.device())
        })
        .check("sigmoid_focal_loss equals torchvision's numbers (float32)", |ctx| {
            torchvision_numbers(Kind::Float, ctx.device())
        })
        .check("sigmoid_focal_loss with gamma 0 and no alpha is binary cross entropy", |ctx| {
            let x = randn(&[3, 5], Kind::Float, ctx.device()) * 4.0;
            let t = randint(&[3, 5], 2, ctx.device()).to_kind(Kind::Float);
            for reduction in REDUCTIONS {
                let bce = x.binary_cross_entropy_with_logits(&t, None::<Tensor>, None::<Tensor>, reduction);
                let what = format!("for reduction {reduction:?}: sigmoid_focal_loss(x, t, None, 0.0, ..)");
                within(&what, || {
                    let got = exercise::sigmoid_focal_loss(&x, &t, None, 0.0, reduction);
                    assert_close(
                        "sigmoid_focal_loss, compared with binary_cross_entropy_with_logits,",
                        &got,
                        &bce,
                        tolerance(Kind::Float),
                    )
                })?;
            }
            Ok(())
        })
        .check("sigmoid_focal_loss on random inputs, a transposed view and +-100, each reduction", |ctx| {
            let x = randn(&[4, 6], Kind::Float, ctx.device()) * 3.0;
            let t = randint(&[4, 6], 2, ctx.device()).to_kind(Kind::Float);
            for reduction in REDUCTIONS {
                sigmoid_focal_matches(&x, &t, Some(0.25), 2.0, reduction, None)?;
            }
            sigmoid_focal_matches(&x.tr(), &t.tr(), Some(0.75), 3.0, Reduction::None, None)?;
            let extreme = (randint(&[4, 6], 3, ctx.device()) - 1).to_kind(Kind::Float) * 100.0;
            sigmoid_focal_matches(&extreme, &t, Some(0.25), 2.0, Reduction::None, None)?;
            sigmoid_focal_matches(&extreme, &t, None, 0.0, Reduction::Sum, None)
        })
        .check("sigmoid_focal_loss's gradient by finite differences (gradcheck, float64)", |ctx| {
            let x = randn(&[2, 5], Kind::Double, ctx.device()) * 2.0;
            let t = uniform(&[2, 5], 0.0, 1.0, Kind::Double, ctx.device());
            within("for inputs of shape [2, 5], soft targets, alpha 0.25, gamma 2", || {
                gradcheck(
                    |xs| exercise::sigmoid_focal_loss(&xs[0], &t, Some(0.25), 2.0, Reduction::None),
                    &[x],
                    GradcheckOptions::default(),
                )
            })
        })
        .run()
}
