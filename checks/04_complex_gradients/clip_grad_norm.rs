//! Checks of 04_complex_gradients/clip_grad_norm, against torch.nn.utils.clip_grad_norm_'s
//! semantics: the reference, and closed forms computed in float64 over all the gradients
//! concatenated into one vector.
//!
//! Regimes: p = 2, 1, infinity (with the largest entry negative, so max is not max |.|), 3 (odd:
//! the entries' signs matter) and 0.5; several parameters of different shapes; a parameter
//! without a gradient (skipped), none with one (0), an empty list; float32 and float64. Clipping
//! when the norm is above max_norm (every gradient scaled by one factor, the returned norm from
//! before), below it (unchanged), at it with tiny norms (1e-5, where PyTorch's 1e-6 makes a 10%
//! difference and `if total > max_norm` none), twice it with tiny norms (a missing 1e-6 gives 0.5
//! instead of 0.476), zero gradients with max_norm 0 (0 / 0 without the 1e-6). A NaN or an
//! infinite gradient: with error_if_nonfinite, Err(NonFiniteNorm) with the gradients untouched;
//! without, the gradients as PyTorch leaves them (all NaN for a NaN norm; for an infinite norm a
//! coefficient of 0: finite entries 0, infinite ones NaN). Per-parameter clipping: each
//! gradient by its own norm, the norms from before returned, None where there is no gradient.
//! The parameters' values never change; the gradients are changed in place.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("04_complex_gradients/clip_grad_norm.rs");

/// The gradients to give a list of parameters (`None`: that parameter gets none).
struct Case {
    grads: Vec<Option<Tensor>>,
}

impl Case {
    fn random(shapes: &[&[i64]], kind: Kind, device: Device) -> Case {
        Case { grads: shapes.iter().map(|s| Some(randn(s, kind, device))).collect() }
    }

    fn with_missing(mut self, index: usize) -> Case {
        self.grads.insert(index, None);
        self
    }

    /// Every gradient times `factor`.
    fn scaled(self, factor: f64) -> Case {
        Case { grads: self.grads.into_iter().map(|g| g.map(|g| g * factor)).collect() }
    }

    fn describe(&self, p: f64) -> String {
        let shapes: Vec<String> = self
            .grads
            .iter()
            .map(|g| match g {
                Some(g) => format!("{:?}", g.size()),
                None => "no gradient".to_string(),
            })
            .collect();
        let kind =
            self.grads.iter().flatten().next().map_or(String::new(), |g| format!(" in {:?}", g.kind()));
        format!("for parameters with gradients [{}]{kind}, p = {p}", shapes.join(", "))
    }

    /// Fresh parameters whose `grad()` holds exactly these gradients: backward from
    /// sum(p * g) gives g.
    fn params(&self) -> Vec<Tensor> {
        self.grads
            .iter()
            .map(|g| match g {
                Some(g) => {
                    let p = Tensor::full_like(g, 0.5).set_requires_grad(true);
                    (&p * g).sum(g.kind()).backward();
                    p
                }
                None => Tensor::zeros([2], (Kind::Float, Device::Cpu)).set_requires_grad(true),
            })
            .collect()
    }

    /// The p-norm of every entry of every gradient, in float64.
    fn closed_form_norm(&self, p: f64) -> f64 {
        let flat: Vec<Tensor> = self
            .grads
            .iter()
            .flatten()
            .map(|g| g.to_kind(Kind::Double).reshape([-1]).to_device(Device::Cpu))
            .collect();
        if flat.is_empty() {
            return 0.0;
        }
        let all = Tensor::cat(&flat, 0).abs();
        if p.is_infinite() {
            all.max().double_value(&[])
        } else {
            all.pow_tensor_scalar(p).sum(Kind::Double).double_value(&[]).powf(1.0 / p)
        }
    }
}

/// Two numbers equal within `rtol`, NaN matching NaN and infinities the same infinity.
fn same_number(got: f64, expected: f64, rtol: f64) -> bool {
    if got.is_nan() || expected.is_nan() {
        return got.is_nan() && expected.is_nan();
    }
    if got.is_infinite() || expected.is_infinite() {
        return got == expected;
    }
    (got - expected).abs() <= rtol * expected.abs()
}

/// float32 norms are computed in float32 by PyTorch: a few epsilons (1.2e-7) of relative error
/// per entry summed, with margin for another order of summation.
fn rtol(case: &Case) -> f64 {
    let double = case.grads.iter().flatten().all(|g| g.kind() == Kind::Double);
    if double { 1e-12 } else { 1e-5 }
}

/// What a wrong total norm probably is.
fn explain_norm(case: &Case, p: f64, got: f64) -> &'static str {
    let norms: Vec<f64> = case
        .grads
        .iter()
        .flatten()
        .map(|g| Case { grads: vec![Some(g.shallow_clone())] }.closed_form_norm(p))
        .collect();
    let signed_max = case
        .grads
        .iter()
        .flatten()
        .filter(|g| g.numel() > 0)
        .map(|g| g.max().double_value(&[]))
        .fold(f64::NEG_INFINITY, f64::max);
    let tol = rtol(case);
    if norms.len() > 1 && same_number(got, norms.iter().sum(), tol) && p != 1.0 {
        "\n  that is the sum of the parameters' norms: the total is the norm of the norms (all the gradients as one vector)"
    } else if norms.len() > 1
        && same_number(got, norms.iter().copied().fold(0.0, f64::max), tol)
        && !p.is_infinite()
    {
        "\n  that is the largest of the parameters' norms: the total is the norm of the norms (all the gradients as one vector)"
    } else if p.is_infinite() && same_number(got, signed_max, tol) {
        "\n  that is the largest entry: the infinity norm is the largest |entry|"
    } else {
        ""
    }
}

fn params_unchanged(params: &[Tensor], before: &[Tensor]) -> CheckResult {
    for (i, (p, b)) in params.iter().zip(before).enumerate() {
        assert_unchanged(&format!("parameter {i}"), &p.detach(), b)?;
    }
    Ok(())
}

fn total_matches(case: &Case, p: f64) -> CheckResult {
    within(case.describe(p), || {
        let expected = case.closed_form_norm(p);
        let reference = solution::total_grad_norm(&case.params(), p);
        if !same_number(reference, expected, rtol(case)) {
            return Err(Failure::new(format!(
                "the reference gives {reference}, the closed form {expected} (a bug in the check)"
            )));
        }
        let params = case.params();
        let before: Vec<Tensor> = params.iter().map(|t| t.detach().copy()).collect();
        let grads_before: Vec<Tensor> =
            params.iter().map(|t| t.grad()).filter(Tensor::defined).map(|g| g.copy()).collect();
        let got = exercise::total_grad_norm(&params, p);
        params_unchanged(&params, &before)?;
        let grads_after: Vec<Tensor> = params.iter().map(|t| t.grad()).filter(Tensor::defined).collect();
        for (i, (g, b)) in grads_after.iter().zip(&grads_before).enumerate() {
            assert_unchanged(&format!("gradient {i} (total_grad_norm only reads them)"), g, b)?;
        }
        if !same_number(got, expected, rtol(case)) {
            return Err(Failure::new(format!(
                "`total_grad_norm(params, {p})` is {got}, but the {p}-norm of all the gradients as one vector is {expected}{}",
                explain_norm(case, p, got)
            )));
        }
        Ok(())
    })
}

/// The gradients of `params`, parameter by parameter (undefined where there is none).
fn grads_of(params: &[Tensor]) -> Vec<Tensor> {
    params.iter().map(Tensor::grad).collect()
}

/// Each learner's gradient against the reference's; `why` says what the reference did, and a
/// gradient left as it was (`case`'s) where it should have changed is named.
fn grads_match(case: &Case, got: &[Tensor], expected: &[Tensor], why: &str, tol: Tolerance) -> CheckResult {
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        match (g.defined(), e.defined()) {
            (false, false) => {}
            (true, false) => {
                return Err(Failure::new(format!(
                    "parameter {i} has a gradient now: it had none and must keep none"
                )));
            }
            (false, true) => return Err(Failure::new(format!("parameter {i} lost its gradient"))),
            (true, true) => {
                assert_close(&format!("the gradient of parameter {i}"), g, e, tol).map_err(|failure| {
                    let unchanged = case.grads[i].as_ref().is_some_and(|original| {
                        assert_close("", g, original, Tolerance::EXACT).is_ok()
                            && assert_close("", e, original, Tolerance::EXACT).is_err()
                    });
                    let hint = if unchanged {
                        "\n  it is the gradient as it was: nothing was scaled. Scale p.grad() itself in place (not a \
                         copy), and always, by the clamped coefficient: even at total_norm == max_norm it is \
                         below 1, because of the 1e-6"
                    } else {
                        ""
                    };
                    Failure::new(format!("{}\n  expected: {why}{hint}", failure.message()))
                })?
            }
        }
    }
    Ok(())
}

fn clip_matches(case: &Case, max_norm: f64, p: f64, error_if_nonfinite: bool) -> CheckResult {
    let flag = if error_if_nonfinite { ", error_if_nonfinite" } else { "" };
    within(format!("{}, max_norm {max_norm}{flag}", case.describe(p)), || {
        let total = case.closed_form_norm(p);
        let reference_params = case.params();
        let reference = solution::clip_grad_norm(&reference_params, max_norm, p, error_if_nonfinite);
        let expected_grads = grads_of(&reference_params);
        let params = case.params();
        let before: Vec<Tensor> = params.iter().map(|t| t.detach().copy()).collect();
        let got = exercise::clip_grad_norm(&params, max_norm, p, error_if_nonfinite);
        params_unchanged(&params, &before)?;
        let tol = Tolerance::new(0.0, rtol(case));
        match (got, reference) {
            (Err(error), Err(_)) => {
                if !same_number(error.total_norm, total, tol.rtol) || error.norm_type != p {
                    return Err(Failure::new(format!(
                        "the error is {error:?}: it must carry norm_type {p} and the total norm {total}"
                    )));
                }
                let why = "an error leaves the gradients as they were";
                grads_match(case, &grads_of(&params), &expected_grads, why, tol)
            }
            (Ok(norm), Err(_)) => Err(Failure::new(format!(
                "`clip_grad_norm` returned Ok({norm}), but the total norm is {total} and error_if_nonfinite is true: \
                 return Err(NonFiniteNorm {{ norm_type, total_norm }}) before scaling anything"
            ))),
            (Err(error), Ok(_)) => Err(Failure::new(format!(
                "`clip_grad_norm` returned {error:?}, but the total norm is {total}{}",
                if error_if_nonfinite {
                    ", which is finite"
                } else {
                    " and error_if_nonfinite is false: scale anyway, as PyTorch does"
                }
            ))),
            (Ok(norm), Ok(_)) => {
                if !same_number(norm, total, tol.rtol) {
                    return Err(Failure::new(format!(
                        "`clip_grad_norm` returned {norm}, but the total norm from before the clipping is {total}{}",
                        explain_norm(case, p, norm)
                    )));
                }
                let coefficient = max_norm / (total + 1e-6);
                let why = if coefficient < 1.0 {
                    format!(
                        "scaled by max_norm / (total_norm + 1e-6) = {max_norm} / ({total} + 1e-6) = {coefficient:.6}"
                    )
                } else if coefficient.is_nan() {
                    "the coefficient max_norm / (total_norm + 1e-6) is NaN; torch.clamp keeps it and every gradient becomes NaN \
                     (f64::min(NaN, 1.0) would be 1.0)"
                        .to_string()
                } else {
                    "max_norm / (total_norm + 1e-6) >= 1, clamped to 1: left as it was".to_string()
                };
                grads_match(case, &grads_of(&params), &expected_grads, &why, tol)
            }
        }
    })
}

fn per_parameter_matches(case: &Case, max_norm: f64, p: f64) -> CheckResult {
    within(format!("{}, max_norm {max_norm}", case.describe(p)), || {
        let reference_params = case.params();
        let reference = solution::clip_grad_norm_per_parameter(&reference_params, max_norm, p);
        let params = case.params();
        let before: Vec<Tensor> = params.iter().map(|t| t.detach().copy()).collect();
        let got = exercise::clip_grad_norm_per_parameter(&params, max_norm, p);
        params_unchanged(&params, &before)?;
        if got.len() != reference.len() {
            return Err(Failure::new(format!(
                "`clip_grad_norm_per_parameter` returned {} norms for {} parameters: one per parameter, None where there is no gradient",
                got.len(),
                reference.len()
            )));
        }
        for (i, (g, e)) in got.iter().zip(&reference).enumerate() {
            let same = match (g, e) {
                (Some(g), Some(e)) => same_number(*g, *e, rtol(case)),
                (None, None) => true,
                _ => false,
            };
            if !same {
                return Err(Failure::new(format!(
                    "`clip_grad_norm_per_parameter` returned {g:?} for parameter {i}, where its gradient's norm from before is {e:?}"
                )));
            }
        }
        let tol = Tolerance::new(0.0, rtol(case));
        let why = "each scaled by min(1, max_norm / (its own norm + 1e-6))";
        grads_match(case, &grads_of(&params), &grads_of(&reference_params), why, tol)
    })
}

const INF: f64 = f64::INFINITY;

fn main() {
    let shapes: &[&[i64]] = &[&[3, 4], &[5], &[2, 2, 2]];
    Checks::new()
        .check("total_grad_norm with p = 2 over three parameters, as one vector", move |ctx| {
            total_matches(&Case::random(shapes, Kind::Float, ctx.device()), 2.0)
        })
        .check("total_grad_norm with p = 1, infinity (largest entry negative), 3 and 0.5", move |ctx| {
            let case = Case::random(shapes, Kind::Double, ctx.device());
            total_matches(&case, 1.0)?;
            total_matches(&case, 3.0)?;
            total_matches(&case, 0.5)?;
            let negative = Case { grads: vec![Some(Tensor::from_slice(&[1.0f64, -7.0, 2.0]).to_device(ctx.device())), Some(Tensor::from_slice(&[3.0f64, 0.5]).to_device(ctx.device()))] };
            total_matches(&negative, INF)?;
            total_matches(&case, INF)
        })
        .check("total_grad_norm skips a parameter without a gradient, and is 0 with none", move |ctx| {
            total_matches(&Case::random(shapes, Kind::Float, ctx.device()).with_missing(1), 2.0)?;
            total_matches(&Case::random(shapes, Kind::Float, ctx.device()).with_missing(0), INF)?;
            total_matches(&Case { grads: vec![None, None] }, 2.0)?;
            total_matches(&Case { grads: vec![] }, 2.0)
        })
        .check("clip_grad_norm above max_norm: one factor for every gradient, the norm from before returned", move |ctx| {
            let case = Case::random(shapes, Kind::Float, ctx.device());
            clip_matches(&case, 1.0, 2.0, false)?;
            clip_matches(&case, 0.5, 1.0, false)?;
            clip_matches(&case, 0.5, INF, true)?;
            clip_matches(&Case::random(shapes, Kind::Double, ctx.device()), 0.25, 3.0, true)
        })
        .check("clip_grad_norm below max_norm leaves the gradients as they were", move |ctx| {
            clip_matches(&Case::random(shapes, Kind::Float, ctx.device()), 100.0, 2.0, false)
        })
        .check("clip_grad_norm skips a parameter without a gradient", move |ctx| {
            clip_matches(&Case::random(shapes, Kind::Float, ctx.device()).with_missing(1), 1.0, 2.0, true)?;
            clip_matches(&Case { grads: vec![None] }, 1.0, 2.0, true)
        })
        .check("clip_grad_norm with tiny norms: at max_norm and at twice it, the 1e-6 matters", move |ctx| {
            let unit = Case::random(shapes, Kind::Double, ctx.device());
            let norm = unit.closed_form_norm(2.0);
            let tiny = unit.scaled(1e-5 / norm);
            let at = tiny.closed_form_norm(2.0);
            // Exactly at max_norm: PyTorch scales by at / (at + 1e-6), about 0.91.
            clip_matches(&tiny, at, 2.0, true)?;
            clip_matches(&tiny, at / 2.0, 2.0, true)
        })
        .check("clip_grad_norm of zero gradients with max_norm 0 stays 0 (no 0 / 0)", move |ctx| {
            let zeros = Case { grads: vec![Some(Tensor::zeros([3], (Kind::Float, ctx.device())))] };
            clip_matches(&zeros, 0.0, 2.0, true)
        })
        .check("clip_grad_norm with a NaN or an infinite gradient and error_if_nonfinite: an error, nothing scaled", move |ctx| {
            let device = ctx.device();
            let nan = Case { grads: vec![Some(randn(&[3], Kind::Float, device)), Some(Tensor::from_slice(&[1.0f32, f32::NAN]).to_device(device))] };
            clip_matches(&nan, 1.0, 2.0, true)?;
            let inf = Case { grads: vec![Some(Tensor::from_slice(&[f32::INFINITY, 2.0]).to_device(device)), Some(randn(&[3], Kind::Float, device))] };
            clip_matches(&inf, 1.0, 2.0, true)?;
            clip_matches(&inf, 1.0, INF, true)
        })
        .check("clip_grad_norm with a NaN or an infinite gradient without error_if_nonfinite: scaled as PyTorch does", move |ctx| {
            let device = ctx.device();
            let nan = Case { grads: vec![Some(randn(&[3], Kind::Float, device)), Some(Tensor::from_slice(&[1.0f32, f32::NAN]).to_device(device))] };
            clip_matches(&nan, 1.0, 2.0, false)?;
            let inf = Case { grads: vec![Some(Tensor::from_slice(&[f32::INFINITY, 2.0]).to_device(device)), Some(randn(&[3], Kind::Float, device))] };
            clip_matches(&inf, 1.0, 2.0, false)
        })
        .check("clip_grad_norm_per_parameter: each gradient by its own norm, None without one", move |ctx| {
            let device = ctx.device();
            let case = Case::random(shapes, Kind::Float, device).with_missing(2);
            per_parameter_matches(&case, 1.0, 2.0)?;
            // One small gradient and one large: only the large one is scaled.
            let mixed = Case { grads: vec![Some(randn(&[4], Kind::Double, device) * 0.01), Some(randn(&[6], Kind::Double, device) * 10.0)] };
            per_parameter_matches(&mixed, 1.0, 2.0)?;
            per_parameter_matches(&mixed, 1.0, INF)
        })
        .run()
}
