//! Checks of 09_numerical_stability/loss_scaling. grad_norms: a deep tanh network whose gradients
//! vanish and a deep linear one whose gradients explode (norms compared relatively, layer by
//! layer, in order), parameters without a gradient (frozen, unused) in the middle of the list,
//! no parameters, float16 gradients whose norm is beyond float16's range, float64. grads_are_finite:
//! finite float16 gradients whose sum overflows, then inf, -inf and NaN, in the last parameter
//! only, and a missing gradient. LossScaler: a fresh scaler, scale_loss, unscale in place, then a
//! scripted sequence of 18 steps with overflows to inf and NaN (growth interval 3): after every
//! step the scale, whether the step was taken, whether the optimizer was called, and the
//! gradients it saw (unscaled) are compared with GradScaler's semantics (the reference run in
//! lockstep).

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, within};

tensorlings_support::exercise_modules!("09_numerical_stability/loss_scaling.rs");

/// Norms compared relatively: they span many orders of magnitude in a deep network, and two
/// correct answers differ only in the order of summation.
const NORM_TOL: Tolerance = Tolerance::new(1e-30, 1e-5);

/// The norms of the learner and of the reference, compared as tensors (so a failure shows the
/// layer and the largest error).
fn norms_match(what: &str, params: &[Tensor]) -> CheckResult {
    within(format!("for {what}"), || {
        let expected = solution::grad_norms(params);
        let got = exercise::grad_norms(params);
        if got.len() != expected.len() {
            return Err(Failure::new(format!(
                "`grad_norms(params)` returned {} norms for {} parameters: one per parameter, \
                 0 for a parameter without a gradient",
                got.len(),
                params.len()
            )));
        }
        if let Some(i) = (0..got.len()).find(|&i| got[i].is_infinite() && expected[i].is_finite()) {
            return Err(Failure::new(format!(
                "`grad_norms(params)` is inf for parameter {i}, whose gradient ({}) has the finite \
                 norm {}: compute the norm in float32 (`grad.to_kind(Kind::Float).norm()`), not \
                 in float16, whose largest value is 65504",
                tensorlings_support::compare::kind_name(params[i].kind()),
                expected[i]
            )));
        }
        assert_close(
            "grad_norms(params)",
            &Tensor::from_slice(&got),
            &Tensor::from_slice(&expected),
            NORM_TOL,
        )
    })
}

/// A deep network's weights and biases, as leaves, after one backward pass of its output's sum:
/// `depth` layers of width 6, weights of standard deviation `std`, tanh between layers or not.
fn deep_network(depth: usize, std: f64, tanh: bool, device: Device) -> Vec<Tensor> {
    let mut params = Vec::new();
    let mut h = randn(&[5, 6], Kind::Float, device);
    for _ in 0..depth {
        let w = (randn(&[6, 6], Kind::Float, device) * std).set_requires_grad(true);
        let b = (randn(&[6], Kind::Float, device) * 0.1).set_requires_grad(true);
        h = h.matmul(&w) + &b;
        if tanh {
            h = h.tanh();
        }
        params.push(w);
        params.push(b);
    }
    h.sum(None::<Kind>).backward();
    params
}

/// A leaf of `kind` whose gradient is `grad` exactly: the gradient of sum(p * grad).
fn with_grad(grad: &Tensor) -> Tensor {
    let p = grad.zeros_like().set_requires_grad(true);
    (&p * grad).sum(None::<Kind>).backward();
    p
}

fn finite_matches(what: &str, params: &[Tensor]) -> CheckResult {
    within(format!("for {what}"), || {
        let expected = solution::grads_are_finite(params);
        let got = exercise::grads_are_finite(params);
        if got == expected {
            return Ok(());
        }
        Err(Failure::new(format!(
            "`grads_are_finite(params)` is {got}, expected {expected}: test every entry with \
             isfinite (`grad.isfinite().all()`): a sum of large finite entries overflows to inf, \
             `max() < inf` misses NaN and -inf, and every parameter counts, the last one too"
        )))
    })
}

/// What happens at one step of the script.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Event {
    Good,
    Inf,
    NaN,
}

/// 18 steps with growth interval 3: growth on the 3rd good step in a row, overflows that reset
/// the count (two good steps, then NaN: no growth on the next good step), inf and NaN both, two
/// overflows in a row, and six good steps at the end, which grow twice.
const SCRIPT: [Event; 18] = {
    use Event::*;
    [Good, Good, Good, Inf, Good, Good, NaN, Good, Good, Good, Inf, Inf, Good, Good, Good, Good, Good, Good]
};
const INIT_SCALE: f64 = 4096.0;
const GROWTH_INTERVAL: i64 = 3;

/// The inputs of the loss at one step: x for w, y for v; an overflow puts inf or NaN in x.
fn step_inputs(event: Event, device: Device) -> (Tensor, Tensor) {
    let x = randn(&[3], Kind::Float, device);
    let y = randn(&[2, 2], Kind::Float, device);
    let x = match event {
        Event::Good => x,
        Event::Inf => x.index_fill(0, &Tensor::from_slice(&[1i64]).to_device(device), f64::INFINITY),
        Event::NaN => x.index_fill(0, &Tensor::from_slice(&[0i64]).to_device(device), f64::NAN),
    };
    (x, y)
}

/// loss = sum(w * x) + 0.5 * sum(v * y): the unscaled gradients are x and 0.5 y.
fn loss(params: &[Tensor], x: &Tensor, y: &Tensor) -> Tensor {
    (&params[0] * x).sum(None::<Kind>) + (&params[1] * y).sum(None::<Kind>) * 0.5
}

fn fresh_params(device: Device) -> Vec<Tensor> {
    vec![
        randn(&[3], Kind::Float, device).set_requires_grad(true),
        randn(&[2, 2], Kind::Float, device).set_requires_grad(true),
    ]
}

fn sgd(params: &[Tensor]) {
    tch::no_grad(|| {
        for p in params {
            let mut p = p.shallow_clone();
            let _ = p.g_sub_(&(p.grad() * 0.01));
        }
    });
}

fn zero_grads(params: &[Tensor]) {
    for p in params {
        let mut p = p.shallow_clone();
        p.zero_grad();
    }
}

/// Why the scale is what it is after `event`, for a message.
fn why(event: Event, before: f64, after: f64) -> String {
    match event {
        Event::Inf | Event::NaN => format!("an overflow halves the scale, {before} * 0.5"),
        Event::Good if after > before => {
            format!("the {GROWTH_INTERVAL}rd good step in a row since the last overflow or growth doubles it")
        }
        Event::Good => format!(
            "a good step keeps it until {GROWTH_INTERVAL} good steps in a row since the last \
             overflow or growth"
        ),
    }
}

/// The scripted run: the learner's scaler and the reference's side by side, each on its own
/// parameters, the same inputs.
fn scripted_run(device: Device) -> CheckResult {
    let params = fresh_params(device);
    let ref_params: Vec<Tensor> = params.iter().map(|p| p.detach().copy().set_requires_grad(true)).collect();
    let mut scaler = exercise::LossScaler::new(INIT_SCALE, GROWTH_INTERVAL);
    let mut reference = solution::LossScaler::new(INIT_SCALE, GROWTH_INTERVAL);
    let script: Vec<String> = SCRIPT.iter().map(|e| format!("{e:?}")).collect();
    let script = script.join(", ");
    for (t, &event) in SCRIPT.iter().enumerate() {
        let (x, y) = step_inputs(event, device);
        let context = format!(
            "at step {t} ({event:?}) of the script [{script}], growth interval {GROWTH_INTERVAL}, \
             initial scale {INIT_SCALE}"
        );
        within(&context, || {
            let before = reference.scale();
            reference.scale_loss(&loss(&ref_params, &x, &y)).backward();
            let expected_taken = reference.step(&ref_params, || sgd(&ref_params));
            let expected_scale = reference.scale();

            if scaler.scale() != before {
                return Err(Failure::new(format!(
                    "before the step, `scale()` is {}, expected {before}",
                    scaler.scale()
                )));
            }
            scaler.scale_loss(&loss(&params, &x, &y)).backward();
            let mut seen: Option<Vec<Tensor>> = None;
            let taken = scaler.step(&params, || {
                seen = Some(params.iter().map(|p| p.grad().copy()).collect());
                sgd(&params);
            });
            match (&seen, expected_taken) {
                (Some(_), false) => {
                    return Err(Failure::new(
                        "your step called the optimizer although a gradient is inf or NaN: skip it",
                    ));
                }
                (None, true) => {
                    return Err(Failure::new(
                        "your step did not call the optimizer although every gradient is finite",
                    ));
                }
                _ => {}
            }
            if taken != expected_taken {
                return Err(Failure::new(format!(
                    "`step` returned {taken}, but the step was {}taken",
                    if expected_taken { "" } else { "not " }
                )));
            }
            if let Some(seen) = &seen {
                let why = format!(
                    "the gradient the optimizer saw (it must be divided by the scale {before} \
                     the loss was multiplied by)"
                );
                assert_close(&format!("{why}, of w,"), &seen[0], &x, Tolerance::new(1e-6, 1e-5))?;
                assert_close(&format!("{why}, of v,"), &seen[1], &(&y * 0.5), Tolerance::new(1e-6, 1e-5))?;
            }
            if scaler.scale() != expected_scale {
                return Err(Failure::new(format!(
                    "after the step the scale is {}, expected {expected_scale}: {}",
                    scaler.scale(),
                    why(event, before, expected_scale)
                )));
            }
            Ok(())
        })?;
        zero_grads(&params);
        zero_grads(&ref_params);
    }
    Ok(())
}

fn main() {
    Checks::new()
        .check("grad_norms of a deep tanh network, whose gradients vanish", |ctx| {
            norms_match(
                "a 12-layer tanh network with weights of std 0.3",
                &deep_network(12, 0.3, true, ctx.device()),
            )
        })
        .check("grad_norms of a deep linear network, whose gradients explode", |ctx| {
            norms_match(
                "a 10-layer linear network with weights of std 2",
                &deep_network(10, 2.0, false, ctx.device()),
            )
        })
        .check("grad_norms with parameters without a gradient, and with none", |ctx| {
            let mut params = deep_network(3, 0.5, true, ctx.device());
            // A frozen parameter and one that the loss did not use: no gradient, norm 0.
            params.insert(2, randn(&[4], Kind::Float, ctx.device()));
            params.insert(4, randn(&[4], Kind::Float, ctx.device()).set_requires_grad(true));
            norms_match("a frozen and an unused parameter at positions 2 and 4", &params)?;
            norms_match("no parameters", &[])
        })
        .check("grad_norms of float16 gradients beyond float16's range, and of float64 ones", |ctx| {
            let big = randn(&[64], Kind::Float, ctx.device()).sign() * 3e4;
            let params =
                [with_grad(&big.to_kind(Kind::Half)), with_grad(&randn(&[5], Kind::Double, ctx.device()))];
            norms_match("a float16 gradient of 64 entries of about 3e4 and a float64 one", &params)
        })
        .check("grads_are_finite: large finite float16, inf, -inf, NaN, missing", |ctx| {
            let dev = ctx.device();
            let finite = || with_grad(&randn(&[4], Kind::Float, dev));
            let large = with_grad(&(Tensor::ones([8], (Kind::Float, dev)) * 6e4).to_kind(Kind::Half));
            finite_matches("finite float16 gradients whose sum overflows", &[finite(), large])?;
            for (name, value) in [("inf", f64::INFINITY), ("-inf", f64::NEG_INFINITY), ("NaN", f64::NAN)] {
                let bad = randn(&[2, 3], Kind::Float, dev).index_fill(
                    1,
                    &Tensor::from_slice(&[2i64]).to_device(dev),
                    value,
                );
                finite_matches(
                    &format!("a gradient with {name} in the last parameter"),
                    &[finite(), finite(), with_grad(&bad)],
                )?;
                let bad = bad.to_kind(Kind::Half);
                finite_matches(&format!("a float16 gradient with {name}"), &[with_grad(&bad)])?;
            }
            let missing = randn(&[3], Kind::Float, dev).set_requires_grad(true);
            finite_matches("a parameter without a gradient", &[finite(), missing])
        })
        .check("a fresh scaler: scale(), scale_loss and unscale in place", |ctx| {
            within("for LossScaler::new(1024.0, 5)", || {
                let scaler = exercise::LossScaler::new(1024.0, 5);
                if scaler.scale() != 1024.0 {
                    return Err(Failure::new(format!("`scale()` is {}, expected 1024", scaler.scale())));
                }
                let params = fresh_params(ctx.device());
                let (x, y) = step_inputs(Event::Good, ctx.device());
                let loss = loss(&params, &x, &y);
                let scaled = scaler.scale_loss(&loss);
                assert_close("scale_loss(loss)", &scaled, &(&loss * 1024.0), Tolerance::new(1e-6, 1e-6))?;
                scaled.backward();
                let finite = scaler.unscale(&params);
                if !finite {
                    return Err(Failure::new("`unscale(params)` returned false for finite gradients"));
                }
                let why = "the gradient after unscale(params) (divided in place by the scale: \
                           p.grad() shares its storage with the parameter's gradient)";
                assert_close(&format!("{why}, of w,"), &params[0].grad(), &x, Tolerance::new(1e-6, 1e-5))?;
                assert_close(
                    &format!("{why}, of v,"),
                    &params[1].grad(),
                    &(&y * 0.5),
                    Tolerance::new(1e-6, 1e-5),
                )
            })
        })
        .check("a scripted run of 18 steps with overflows to inf and NaN", |ctx| scripted_run(ctx.device()))
        .run()
}
