//! Checks of 04_complex_gradients/wgan_gradient_penalty.
//!
//! interpolate, with a given epsilon: against eps * real + (1 - eps) * fake entry by entry, on a
//! square batch [4, 4] first (where an epsilon not broadcast runs, along the last dimension, and is
//! named), on [batch, D] with D != batch (where it fails to broadcast), on images
//! [batch, C, H, W], a batch of one, a non-contiguous real, and epsilon 0 and 1.
//!
//! penalty_at: against the closed form for a linear critic x . w (every sample's gradient is w:
//! the penalty is lambda (|w| - 1)^2 and its gradient 2 lambda (|w| - 1) w / |w|); against the
//! reference, value and the gradient with respect to every parameter of an MLP critic (double
//! backward), for critics returning [batch] and [batch, 1]; on images (the norm over C, H and W
//! together); at a sample where the critic's gradient is exactly 0 (a ReLU critic with every unit
//! off there: sqrt(sum(g^2)) gives NaN gradients, the norm does not); in float64 against finite
//! differences with respect to the parameters; a batch of one; a non-contiguous x_hat; lambda 1
//! and 10. Wrong values are diagnosed: the sum instead of the mean, the norm of the whole batch,
//! the norm over dim 1 alone, lambda forgotten; a penalty without a graph (no create_graph) is
//! named. The penalty is a scalar; penalty_at calls no backward (the parameters get no
//! gradient); x_hat is left as it was.
//!
//! gradient_penalty: the critic records what it is called on, so the check reads the
//! interpolates the learner made: every sample must be real and fake mixed with ONE epsilon
//! (the ratio (x_hat - fake) / (real - fake) constant over the sample: not broadcast along the
//! wrong dimension, not one per entry), epsilons in [0, 1], different across the batch (not one
//! for the batch), and over 64 samples looking uniform (mean and spread). Its penalty must equal
//! the reference's penalty_at those interpolates, gradients included. real and fake are left as
//! they were.

use std::cell::RefCell;

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("04_complex_gradients/wgan_gradient_penalty.rs");

/// The parameters of a critic: `[w1, b1, w2, b2]` of an MLP, or `[w, b]` of a linear critic.
/// Leaves that require grad.
struct Params(Vec<Tensor>);

impl Params {
    fn mlp(features: i64, hidden: i64, kind: Kind, device: Device) -> Params {
        Params(vec![
            randn(&[features, hidden], kind, device),
            randn(&[hidden], kind, device),
            randn(&[hidden, 1], kind, device),
            randn(&[1], kind, device),
        ])
        .fresh()
    }

    /// Fresh leaves with the same values (no gradient yet).
    fn fresh(&self) -> Params {
        Params(self.0.iter().map(|p| p.detach().copy().set_requires_grad(true)).collect())
    }
}

/// How the critic computes its score from `[batch, ...]`.
#[derive(Clone, Copy)]
enum Shape {
    /// tanh hidden layer, scores `[batch, 1]`.
    Tanh,
    /// tanh hidden layer, scores `[batch]`.
    TanhSqueezed,
    /// ReLU hidden layer, scores `[batch, 1]`.
    Relu,
    /// x . w + b, scores `[batch]`.
    Linear,
}

fn score(params: &[Tensor], shape: Shape, x: &Tensor) -> Tensor {
    let flat = x.reshape([x.size()[0], -1]);
    if let Shape::Linear = shape {
        return flat.mv(&params[0]) + &params[1];
    }
    let h = flat.matmul(&params[0]) + &params[1];
    let h = if let Shape::Relu = shape { h.relu() } else { h.tanh() };
    let out = h.matmul(&params[2]) + &params[3];
    if let Shape::TanhSqueezed = shape { out.squeeze_dim(1) } else { out }
}

fn names(shape: Shape) -> &'static [&'static str] {
    if let Shape::Linear = shape { &["w", "b"] } else { &["w1", "b1", "w2", "b2"] }
}

fn tolerance(kind: Kind) -> Tolerance {
    // float32: a double backward through two small layers, rounded in float32, against the
    // reference's own rounding: a few hundred epsilons (1.2e-7) of margin.
    if kind == Kind::Double { Tolerance::new(1e-10, 1e-9) } else { Tolerance::new(1e-5, 1e-4) }
}

fn describe(what: &str, x: &Tensor) -> String {
    let contiguity = if x.is_contiguous() { "" } else { " (non-contiguous)" };
    format!("for {what} of shape {:?}{contiguity} in {:?}", x.size(), x.kind())
}

fn is_close(got: &Tensor, expected: &Tensor, tol: Tolerance) -> bool {
    got.size() == expected.size() && assert_close("", got, expected, tol).is_ok()
}

/// The critic's gradient with respect to each sample, `[batch, -1]`, without a graph.
fn critic_gradients(params: &Params, shape: Shape, x_hat: &Tensor) -> Tensor {
    let params = params.fresh();
    let x = x_hat.detach().set_requires_grad(true);
    let scores = score(&params.0, shape, &x);
    Tensor::run_backward(&[scores.sum(scores.kind())], &[&x], false, false)
        .remove(0)
        .reshape([x.size()[0], -1])
}

/// What a wrong penalty value probably is.
fn explain_penalty(got: &Tensor, params: &Params, shape: Shape, x_hat: &Tensor, lambda: f64) -> &'static str {
    let tol = tolerance(x_hat.kind());
    let g = critic_gradients(params, shape, x_hat);
    let batch = x_hat.size()[0];
    let per_sample = (g.norm_scalaropt_dim(2.0, [1], false) - 1.0).square();
    let whole_batch = (g.norm() - 1.0).square() * lambda;
    if batch > 1 && is_close(got, &(per_sample.sum(g.kind()) * lambda), tol) {
        return "\n  it is the sum over the batch: take the mean";
    }
    if batch > 1 && is_close(got, &whole_batch, tol) {
        return "\n  it uses the norm of the whole batch's gradient: take one norm per sample, over the non-batch \
                dimensions (reshape to [batch, -1], norm over dim 1)";
    }
    if x_hat.dim() > 2 {
        let g_full = g.reshape(x_hat.size());
        let dim1 = (g_full.norm_scalaropt_dim(2.0, [1], false) - 1.0).square().mean(g.kind()) * lambda;
        if is_close(got, &dim1, tol) {
            return "\n  it takes the norm over dim 1 alone: one norm per sample over every non-batch dimension \
                    (reshape to [batch, -1] first)";
        }
    }
    if lambda != 1.0 && is_close(got, &(per_sample.mean(g.kind())), tol) {
        return "\n  lambda is missing: multiply the mean by lambda";
    }
    ""
}

/// The learner's penalty (made with the critic `params`, fresh leaves) against `expected` and
/// against the gradients `expected_grads` of the parameters.
fn penalty_and_grads_match(
    got: &Tensor,
    learner_params: &Params,
    expected: &Tensor,
    expected_grads: &[Tensor],
    shape: Shape,
    explain: impl Fn(&Tensor) -> &'static str,
) -> CheckResult {
    for (p, name) in learner_params.0.iter().zip(names(shape)) {
        if p.grad().defined() {
            return Err(Failure::new(format!(
                "the critic's parameter {name} has a gradient now: return the penalty without calling backward \
                 (the training loop adds it to the critic's loss)"
            )));
        }
    }
    if !got.size().is_empty() {
        return Err(Failure::new(format!(
            "the penalty has shape {:?}: it must be a scalar, lambda times the mean over the batch",
            got.size()
        )));
    }
    let tol = tolerance(expected.kind());
    assert_close("the penalty", &got.detach(), &expected.detach(), tol)
        .map_err(|f| Failure::new(format!("{}{}", f.message(), explain(got))))?;
    if !got.requires_grad() {
        return Err(Failure::new(
            "the penalty does not require grad: it has no graph back to the critic's parameters, so training \
             the critic with it does nothing. Compute the gradient with create_graph = true \
             (run_backward(.., true, true)): the penalty's backward then goes through it",
        ));
    }
    let grads = Tensor::f_run_backward(&[got], &learner_params.0, false, false)?;
    for (((g, e), name), p) in grads.iter().zip(expected_grads).zip(names(shape)).zip(&learner_params.0) {
        let what = format!("the gradient of the penalty with respect to the critic's {name}");
        // Undefined where the penalty does not depend on a parameter (the output bias): 0.
        let zeros_if_undefined =
            |t: &Tensor, p: &Tensor| if t.defined() { t.shallow_clone() } else { p.zeros_like() };
        let (g, e) = (&zeros_if_undefined(g, p), &zeros_if_undefined(e, p));
        let nan = g.isnan().any().int64_value(&[]) != 0 && e.isnan().any().int64_value(&[]) == 0;
        assert_close(&what, g, e, tol).map_err(|f| {
            let why = if nan {
                "\n  NaN: the critic's gradient is exactly 0 for a sample here, and sqrt(sum(g^2)) has an infinite \
                 derivative at 0. Use norm_scalaropt_dim(2.0, [1], false), whose backward is 0 there"
            } else {
                ""
            };
            Failure::new(format!("{}{why}", f.message()))
        })?;
    }
    Ok(())
}

/// penalty_at against the reference, value and gradients.
fn penalty_matches(params: &Params, shape: Shape, x_hat: &Tensor, lambda: f64) -> CheckResult {
    within(format!("{}, lambda {lambda}", describe("x_hat", x_hat)), || {
        let reference_params = params.fresh();
        let expected =
            solution::penalty_at(&|x: &Tensor| score(&reference_params.0, shape, x), &x_hat.copy(), lambda);
        let expected_grads = Tensor::run_backward(&[&expected], &reference_params.0, false, false);
        let learner_params = params.fresh();
        let before = x_hat.copy();
        let got = exercise::penalty_at(&|x: &Tensor| score(&learner_params.0, shape, x), x_hat, lambda);
        assert_unchanged("x_hat", x_hat, &before)?;
        penalty_and_grads_match(&got, &learner_params, &expected, &expected_grads, shape, |got| {
            explain_penalty(got, params, shape, x_hat, lambda)
        })
    })
}

fn interpolate_matches(real: &Tensor, fake: &Tensor, epsilon: &Tensor) -> CheckResult {
    within(
        format!(
            "{} and epsilon [{}]",
            describe("real and fake", real),
            Vec::<f64>::try_from(epsilon.to_kind(Kind::Double).to_device(Device::Cpu))
                .unwrap_or_default()
                .iter()
                .map(|e| format!("{e:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        || {
            let (real_before, fake_before, eps_before) = (real.copy(), fake.copy(), epsilon.copy());
            let expected = solution::interpolate(&real.copy(), &fake.copy(), &epsilon.copy());
            let got = exercise::interpolate(real, fake, epsilon);
            assert_unchanged("real", real, &real_before)?;
            assert_unchanged("fake", fake, &fake_before)?;
            assert_unchanged("epsilon", epsilon, &eps_before)?;
            let tol = Tolerance::for_kind(real.kind());
            assert_close("interpolate(real, fake, epsilon)", &got, &expected, tol).map_err(|f| {
            // epsilon as a [batch] tensor broadcasts along the last dimension.
            let last = epsilon * real + (1.0 - epsilon) * fake;
            let why = if real.dim() >= 2 && is_close(&got, &last, tol) {
                "\n  epsilon was broadcast along the last dimension (a [batch] tensor lines up with the last one): \
                 reshape it to [batch, 1, ...] so that epsilon[i] goes with sample i"
            } else {
                ""
            };
            Failure::new(format!("{}{why}", f.message()))
        })
        },
    )
}

/// Samples for gradient_penalty: real around +3, fake around -3, so real - fake is never near 0
/// and the ratio (x_hat - fake) / (real - fake) recovers epsilon.
fn samples(shape: &[i64], kind: Kind, device: Device) -> (Tensor, Tensor) {
    (randn(shape, kind, device) * 0.5 + 3.0, randn(shape, kind, device) * 0.5 - 3.0)
}

/// The epsilon of each sample of `x_hat`, checked to be one number per sample.
fn epsilons(real: &Tensor, fake: &Tensor, x_hat: &Tensor) -> Result<Vec<f64>, Failure> {
    let batch = real.size()[0];
    let d = |t: &Tensor| t.detach().to_kind(Kind::Double).to_device(Device::Cpu).reshape([batch, -1]);
    let ratio = (d(x_hat) - d(fake)) / (d(real) - d(fake));
    let mut result = Vec::new();
    for i in 0..batch {
        let row = ratio.get(i);
        let (low, high) = (row.min().double_value(&[]), row.max().double_value(&[]));
        // float32 interpolates: the ratio is good to about 1e-6.
        if (high - low).is_nan() || high - low > 1e-4 {
            return Err(Failure::new(format!(
                "sample {i} of the interpolates is not real[{i}] and fake[{i}] mixed with one epsilon: \
                 (x_hat - fake) / (real - fake) goes from {low:.4} to {high:.4} across its entries. Draw one epsilon \
                 per sample, shape [batch], and reshape it to [batch, 1, ...] so that it is the same for all of \
                 sample {i}'s entries"
            )));
        }
        result.push(row.mean(Kind::Double).double_value(&[]));
    }
    Ok(result)
}

fn penalty_drawn_matches(
    params: &Params,
    shape: Shape,
    real: &Tensor,
    fake: &Tensor,
    lambda: f64,
) -> CheckResult {
    within(format!("{}, lambda {lambda}", describe("real and fake", real)), || {
        let learner_params = params.fresh();
        let seen = RefCell::new(Vec::new());
        let critic = |x: &Tensor| {
            seen.borrow_mut().push(x.detach().copy());
            score(&learner_params.0, shape, x)
        };
        let (real_before, fake_before) = (real.copy(), fake.copy());
        let got = exercise::gradient_penalty(&critic, real, fake, lambda);
        assert_unchanged("real", real, &real_before)?;
        assert_unchanged("fake", fake, &fake_before)?;
        let seen = seen.take();
        let Some(x_hat) = seen.last() else {
            return Err(Failure::new("gradient_penalty never called the critic"));
        };
        if x_hat.size() != real.size() {
            return Err(Failure::new(format!(
                "the critic was called on a tensor of shape {:?}: call it on the interpolates, of the samples' shape {:?}",
                x_hat.size(),
                real.size()
            )));
        }
        let eps = epsilons(real, fake, x_hat)?;
        if let Some((i, e)) = eps.iter().enumerate().find(|(_, e)| !(-1e-6..=1.0 + 1e-6).contains(*e)) {
            return Err(Failure::new(format!(
                "sample {i} was interpolated with epsilon {e:.4}, outside [0, 1]: draw epsilon uniformly in [0, 1) \
                 with Tensor::rand, not randn"
            )));
        }
        let (low, high) =
            eps.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &e| (l.min(e), h.max(e)));
        if eps.len() >= 4 && high - low < 1e-6 {
            return Err(Failure::new(format!(
                "every sample was interpolated with the same epsilon {low:.4}: draw one per sample, \
                 Tensor::rand([batch], ..), not one for the whole batch"
            )));
        }
        if eps.len() >= 64 {
            let n = eps.len() as f64;
            let mean = eps.iter().sum::<f64>() / n;
            let std = (eps.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt();
            // U[0, 1) has mean 0.5 and standard deviation 0.289; over 64 draws the sample mean
            // is within 0.15 of 0.5 and the standard deviation within 0.09 of 0.289 with odds
            // of failure below one in a million.
            if (mean - 0.5).abs() > 0.15 || (std - 0.289).abs() > 0.09 {
                return Err(Failure::new(format!(
                    "the {} epsilons have mean {mean:.3} and standard deviation {std:.3}; uniform ones on [0, 1) \
                     have 0.5 and 0.289: draw them with Tensor::rand",
                    eps.len()
                )));
            }
        }
        let reference_params = params.fresh();
        let expected =
            solution::penalty_at(&|x: &Tensor| score(&reference_params.0, shape, x), x_hat, lambda);
        let expected_grads = Tensor::run_backward(&[&expected], &reference_params.0, false, false);
        penalty_and_grads_match(&got, &learner_params, &expected, &expected_grads, shape, |got| {
            explain_penalty(got, params, shape, x_hat, lambda)
        })
    })
}

fn main() {
    Checks::new()
        .check("interpolate with one epsilon per sample, on a square batch [4, 4] and on [4, 3]", |ctx| {
            let device = ctx.device();
            // Square first: an epsilon that is not broadcast runs there, and is named.
            let eps = Tensor::from_slice(&[0.1f32, 0.4, 0.7, 0.9]).to_device(device);
            interpolate_matches(&randn(&[4, 4], Kind::Float, device), &randn(&[4, 4], Kind::Float, device), &eps)?;
            let (real, fake) = (randn(&[4, 3], Kind::Float, device), randn(&[4, 3], Kind::Float, device));
            interpolate_matches(&real, &fake, &uniform(&[4], 0.0, 1.0, Kind::Float, device))?;
            interpolate_matches(&real, &fake, &Tensor::from_slice(&[0.0f32, 1.0, 0.0, 1.0]).to_device(device))
        })
        .check("interpolate on images [4, 2, 3, 3]", |ctx| {
            let device = ctx.device();
            let eps = Tensor::from_slice(&[0.1f32, 0.4, 0.7, 0.9]).to_device(device);
            let images = [4, 2, 3, 3];
            interpolate_matches(&randn(&images, Kind::Float, device), &randn(&images, Kind::Float, device), &eps)
        })
        .check("interpolate with a batch of one and a non-contiguous real, in float64", |ctx| {
            let device = ctx.device();
            let one = Tensor::from_slice(&[0.25f64]).to_device(device);
            interpolate_matches(&randn(&[1, 5], Kind::Double, device), &randn(&[1, 5], Kind::Double, device), &one)?;
            let real = randn(&[3, 5], Kind::Double, device).tr();
            interpolate_matches(&real, &randn(&[5, 3], Kind::Double, device), &uniform(&[5], 0.0, 1.0, Kind::Double, device))
        })
        .check("penalty_at with a linear critic: lambda (|w| - 1)^2 and its gradient, closed forms", |ctx| {
            let device = ctx.device();
            let w = randn(&[6], Kind::Double, device);
            let params = Params(vec![w.shallow_clone(), randn(&[1], Kind::Double, device)]).fresh();
            let x_hat = randn(&[5, 6], Kind::Double, device);
            let lambda = 10.0;
            let norm = w.norm().double_value(&[]);
            let expected = Tensor::from(lambda * (norm - 1.0).powi(2)).to_device(device);
            let expected_grads = [&w * (2.0 * lambda * (norm - 1.0) / norm), Tensor::zeros([1], (Kind::Double, device))];
            within(format!("{}, lambda {lambda}, critic x . w + b", describe("x_hat", &x_hat)), || {
                let learner = params.fresh();
                let got = exercise::penalty_at(&|x: &Tensor| score(&learner.0, Shape::Linear, x), &x_hat, lambda);
                penalty_and_grads_match(&got, &learner, &expected, &expected_grads, Shape::Linear, |got| {
                    explain_penalty(got, &params, Shape::Linear, &x_hat, lambda)
                })
            })
        })
        .check("penalty_at with an MLP critic: the value and every parameter's gradient (double backward)", |ctx| {
            let device = ctx.device();
            let params = Params::mlp(5, 7, Kind::Float, device);
            let x_hat = randn(&[8, 5], Kind::Float, device);
            penalty_matches(&params, Shape::Tanh, &x_hat, 10.0)?;
            penalty_matches(&params, Shape::TanhSqueezed, &x_hat, 10.0)
        })
        .check("penalty_at on images [4, 2, 3, 3]: one norm per sample over C, H and W", |ctx| {
            let device = ctx.device();
            let params = Params::mlp(18, 6, Kind::Float, device);
            penalty_matches(&params, Shape::Tanh, &randn(&[4, 2, 3, 3], Kind::Float, device), 10.0)
        })
        .check("penalty_at where a sample's critic gradient is exactly 0 (every ReLU off): no NaN", |ctx| {
            let device = ctx.device();
            // Positive first-layer weights and no bias: a sample with negative entries turns every
            // unit off (its gradient is 0), one with positive entries turns every unit on.
            let mut params = Params::mlp(4, 5, Kind::Float, device);
            params.0[0] = params.0[0].abs().detach().set_requires_grad(true);
            params.0[1] = params.0[1].zeros_like().detach().set_requires_grad(true);
            let x_hat = Tensor::cat(&[-uniform(&[1, 4], 0.5, 1.5, Kind::Float, device), uniform(&[3, 4], 0.5, 1.5, Kind::Float, device)], 0);
            penalty_matches(&params, Shape::Relu, &x_hat, 10.0)
        })
        .check("penalty_at in float64 against finite differences with respect to the critic's parameters", |ctx| {
            let device = ctx.device();
            let params = Params::mlp(3, 4, Kind::Double, device);
            let x_hat = randn(&[4, 3], Kind::Double, device);
            let inputs: Vec<Tensor> = params.0.iter().map(|p| p.detach()).collect();
            gradcheck(
                |ps| exercise::penalty_at(&|x: &Tensor| score(ps, Shape::Tanh, x), &x_hat, 10.0),
                &inputs,
                GradcheckOptions::default(),
            )
            .map_err(|f| f.context("for x_hat of shape [4, 3] in Double, lambda 10, the penalty as a function of [w1, b1, w2, b2]"))
        })
        .check("penalty_at with a batch of one, a non-contiguous x_hat, lambda 1", |ctx| {
            let device = ctx.device();
            let params = Params::mlp(5, 7, Kind::Float, device);
            penalty_matches(&params, Shape::Tanh, &randn(&[1, 5], Kind::Float, device), 10.0)?;
            penalty_matches(&params, Shape::Tanh, &randn(&[5, 6], Kind::Float, device).tr(), 1.0)
        })
        .check("gradient_penalty draws one uniform epsilon per sample (64 samples), and its penalty is penalty_at's", |ctx| {
            let device = ctx.device();
            let params = Params::mlp(3, 5, Kind::Float, device);
            let (real, fake) = samples(&[64, 3], Kind::Float, device);
            penalty_drawn_matches(&params, Shape::Tanh, &real, &fake, 10.0)
        })
        .check("gradient_penalty on images [6, 2, 3, 3] and on a square batch [4, 4]", |ctx| {
            let device = ctx.device();
            let (real, fake) = samples(&[6, 2, 3, 3], Kind::Float, device);
            penalty_drawn_matches(&Params::mlp(18, 5, Kind::Float, device), Shape::Tanh, &real, &fake, 10.0)?;
            let (real, fake) = samples(&[4, 4], Kind::Float, device);
            penalty_drawn_matches(&Params::mlp(4, 5, Kind::Float, device), Shape::TanhSqueezed, &real, &fake, 10.0)
        })
        .run()
}
