//! Checks of 08_losses_metrics/wasserstein_1d.
//!
//! - Against `scipy.stats.wasserstein_distance`'s numbers, carried below as literals: two
//!   samples of three points moved by 5; scipy's documentation example (weighted, 4 against 2
//!   samples); ties within and across the samples (unweighted, and weighted with a zero weight);
//!   one sample each; 7 against 4 samples, unweighted and with unnormalized weights. In float64
//!   and float32.
//! - Against the reference on random samples, values and gradients with respect to the samples
//!   and the weights: equal and different sizes, weighted, a strided (non-contiguous) view, the
//!   same samples (distance 0), a shifted copy (distance = the shift); gradcheck in float64.
//! - Inputs left as they were.
//!
//! The scipy numbers (scipy 1.16) come from:
//!
//! ```python
//! from scipy.stats import wasserstein_distance
//! wasserstein_distance([3.4, 3.9, 7.5, 7.8], [4.5, 1.4], [1.4, 0.9, 3.1, 7.2], [3.2, 3.5])
//! ```
//! and the same call on each case of `SCIPY_CASES`.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::{assert_grad_close, kind_name};
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::{randn, uniform};
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("08_losses_metrics/wasserstein_1d.rs");

/// One call of scipy's wasserstein_distance and its result.
struct ScipyCase {
    what: &'static str,
    u: &'static [f64],
    v: &'static [f64],
    u_weights: Option<&'static [f64]>,
    v_weights: Option<&'static [f64]>,
    distance: f64,
}

const SCIPY_CASES: [ScipyCase; 7] = [
    ScipyCase {
        what: "three points moved by 5",
        u: &[0.0, 1.0, 3.0],
        v: &[5.0, 6.0, 8.0],
        u_weights: None,
        v_weights: None,
        distance: 5.0,
    },
    ScipyCase {
        what: "scipy's weighted example",
        u: &[3.4, 3.9, 7.5, 7.8],
        v: &[4.5, 1.4],
        u_weights: Some(&[1.4, 0.9, 3.1, 7.2]),
        v_weights: Some(&[3.2, 3.5]),
        distance: 4.078133143804785,
    },
    ScipyCase {
        what: "ties within and across the samples",
        u: &[1.0, 1.0, 2.0, 3.0, 3.0, 3.0],
        v: &[1.0, 2.0, 2.0, 2.0, 5.0],
        u_weights: None,
        v_weights: None,
        distance: 0.8333333333333333,
    },
    ScipyCase {
        what: "ties and a zero weight",
        u: &[0.0, 2.0, 2.0, 4.0],
        v: &[2.0, 3.0],
        u_weights: Some(&[1.0, 0.0, 2.0, 1.0]),
        v_weights: Some(&[1.0, 3.0]),
        distance: 1.25,
    },
    ScipyCase {
        what: "one sample each",
        u: &[-1.5],
        v: &[2.25],
        u_weights: None,
        v_weights: None,
        distance: 3.75,
    },
    ScipyCase {
        what: "7 against 4 unsorted samples",
        u: &[0.3, -1.2, 2.5, 0.7, -0.4, 1.9, -2.2],
        v: &[0.1, 1.1, -0.8, 3.0],
        u_weights: None,
        v_weights: None,
        distance: 0.7071428571428571,
    },
    ScipyCase {
        what: "7 against 4 samples with unnormalized weights",
        u: &[0.3, -1.2, 2.5, 0.7, -0.4, 1.9, -2.2],
        v: &[0.1, 1.1, -0.8, 3.0],
        u_weights: Some(&[0.5, 1.5, 1.0, 2.0, 0.25, 1.0, 3.0]),
        v_weights: Some(&[2.0, 1.0, 0.5, 1.5]),
        distance: 1.3556756756756756,
    },
];

fn tolerance(kind: Kind) -> Tolerance {
    // A sum of a few products of CDF differences and gaps, in another order maybe.
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-10) } else { Tolerance::new(1e-5, 1e-5) }
}

/// The exercise's distance as a scalar tensor, checked to be one.
fn exercise_distance(
    u: &Tensor,
    v: &Tensor,
    uw: Option<&Tensor>,
    vw: Option<&Tensor>,
) -> Result<Tensor, Failure> {
    let got = exercise::wasserstein_1d(u, v, uw, vw);
    check_that!(
        got.size().is_empty(),
        "wasserstein_1d returned shape {:?}; it must be a scalar (shape [])",
        got.size()
    );
    Ok(got)
}

/// The gradients of the distance with respect to u, v and the weights that are given, through
/// autograd on copies; an undefined tensor for one that the distance does not reach.
fn gradients(
    distance: impl Fn(&Tensor, &Tensor, Option<&Tensor>, Option<&Tensor>) -> Tensor,
    u: &Tensor,
    v: &Tensor,
    uw: Option<&Tensor>,
    vw: Option<&Tensor>,
) -> Result<Vec<Tensor>, Failure> {
    let leaf = |t: &Tensor| t.detach().copy().set_requires_grad(true);
    let (u, v) = (leaf(u), leaf(v));
    let (uw, vw) = (uw.map(leaf), vw.map(leaf));
    let out = distance(&u, &v, uw.as_ref(), vw.as_ref());
    let mut leaves = vec![&u, &v];
    leaves.extend(uw.iter().chain(vw.iter()));
    // run_backward from a root that does not require grad crashes libtorch: test first.
    if !out.requires_grad() {
        return Ok(leaves.iter().map(|_| Tensor::new()).collect());
    }
    Ok(Tensor::f_run_backward(&[out], &leaves, false, true)?)
}

/// The exercise against the reference (and scipy's number when given), values and, with
/// `compare_gradients`, gradients; the inputs unchanged.
fn w1_matches(
    u: &Tensor,
    v: &Tensor,
    uw: Option<&Tensor>,
    vw: Option<&Tensor>,
    scipy: Option<f64>,
    compare_gradients: bool,
) -> CheckResult {
    let befores: Vec<Tensor> = [Some(u), Some(v), uw, vw].iter().flatten().map(|t| t.copy()).collect();
    let copies: Vec<Tensor> = befores.iter().map(|t| t.copy()).collect();
    let (cu, cv) = (&copies[0], &copies[1]);
    let mut rest = copies[2..].iter();
    let cuw = uw.and_then(|_| rest.next());
    let cvw = vw.and_then(|_| rest.next());
    let expected = solution::wasserstein_1d(cu, cv, cuw, cvw);
    let got = exercise_distance(u, v, uw, vw)?;
    let names = ["u", "v", "u_weights", "v_weights"];
    let inputs = [Some(u), Some(v), uw, vw];
    let present: Vec<(&str, &Tensor)> =
        names.iter().zip(inputs).filter_map(|(name, t)| t.map(|t| (*name, t))).collect();
    for ((name, t), before) in present.iter().zip(&befores) {
        assert_unchanged(name, t, before)?;
    }
    let tol = tolerance(u.kind());
    let what = "wasserstein_1d(u, v, u_weights, v_weights)";
    if let Some(scipy) = scipy {
        let scipy = Tensor::from(scipy).to_kind(u.kind()).to_device(u.device());
        assert_close(&format!("{what}, compared with scipy's wasserstein_distance,"), &got, &scipy, tol)?;
    }
    assert_close(what, &got, &expected, tol)?;
    if compare_gradients {
        let expected_grads = gradients(solution::wasserstein_1d, u, v, uw, vw)?;
        let got_grads = gradients(exercise::wasserstein_1d, u, v, uw, vw)?;
        for (((name, _), got), expected) in present.iter().zip(got_grads).zip(expected_grads) {
            assert_grad_close(name, &got, &expected, tol)?;
        }
    }
    Ok(())
}

fn scipy_numbers(kind: Kind, device: Device) -> CheckResult {
    let tensor = |values: &[f64]| Tensor::from_slice(values).to_kind(kind).to_device(device);
    for case in &SCIPY_CASES {
        let (u, v) = (tensor(case.u), tensor(case.v));
        let (uw, vw) = (case.u_weights.map(tensor), case.v_weights.map(tensor));
        let description = format!(
            "for {} ({}): u = {:?}, v = {:?}, u_weights = {:?}, v_weights = {:?}",
            case.what,
            kind_name(kind),
            case.u,
            case.v,
            case.u_weights,
            case.v_weights
        );
        within(description, || w1_matches(&u, &v, uw.as_ref(), vw.as_ref(), Some(case.distance), false))?;
    }
    Ok(())
}

/// Random samples of these sizes (and random positive weights when `weighted`).
fn random_matches(n: i64, m: i64, weighted: bool, kind: Kind, device: Device) -> CheckResult {
    let u = randn(&[n], kind, device);
    let v = randn(&[m], kind, device) * 2.0 + 0.5;
    let (uw, vw) = if weighted {
        (Some(uniform(&[n], 0.1, 3.0, kind, device)), Some(uniform(&[m], 0.1, 3.0, kind, device)))
    } else {
        (None, None)
    };
    let description = format!(
        "for {} random samples u of shape [{n}] and v of shape [{m}]{}",
        kind_name(kind),
        if weighted { ", with random weights" } else { "" }
    );
    within(description, || w1_matches(&u, &v, uw.as_ref(), vw.as_ref(), None, true))
}

fn main() {
    Checks::new()
        .check("wasserstein_1d equals scipy's wasserstein_distance (float64)", |ctx| {
            scipy_numbers(Kind::Double, ctx.device())
        })
        .check("wasserstein_1d equals scipy's wasserstein_distance (float32)", |ctx| {
            scipy_numbers(Kind::Float, ctx.device())
        })
        .check("wasserstein_1d and its gradients on random samples of equal sizes", |ctx| {
            random_matches(6, 6, false, Kind::Float, ctx.device())?;
            random_matches(6, 6, false, Kind::Double, ctx.device())
        })
        .check("wasserstein_1d and its gradients on random samples of different sizes", |ctx| {
            random_matches(5, 3, false, Kind::Float, ctx.device())?;
            random_matches(1, 4, false, Kind::Double, ctx.device())
        })
        .check("wasserstein_1d and its gradients with weights", |ctx| {
            random_matches(7, 4, true, Kind::Double, ctx.device())?;
            random_matches(3, 8, true, Kind::Float, ctx.device())
        })
        .check("wasserstein_1d of a strided (non-contiguous) view", |ctx| {
            let stored = randn(&[12], Kind::Float, ctx.device());
            let u = stored.slice(0, 0, 12, 2);
            let v = randn(&[4], Kind::Float, ctx.device());
            let weights = uniform(&[6], 0.5, 1.5, Kind::Float, ctx.device());
            within("for u = every other element of a tensor of shape [12]", || {
                w1_matches(&u, &v, None, None, None, true)?;
                w1_matches(&u, &v, Some(&weights), None, None, true)
            })
        })
        .check("wasserstein_1d of a sample and itself is 0, and of a shifted copy the shift", |ctx| {
            let u = randn(&[5], Kind::Double, ctx.device());
            within("for u and a copy of u", || w1_matches(&u, &u.copy(), None, None, Some(0.0), false))?;
            within("for u and u + 0.75", || w1_matches(&u, &(&u + 0.75), None, None, Some(0.75), true))
        })
        .check("wasserstein_1d's gradients by finite differences (gradcheck, float64)", |ctx| {
            let u = randn(&[5], Kind::Double, ctx.device());
            let v = randn(&[3], Kind::Double, ctx.device()) + 0.3;
            let uw = uniform(&[5], 0.5, 2.0, Kind::Double, ctx.device());
            let vw = uniform(&[3], 0.5, 2.0, Kind::Double, ctx.device());
            within("for u of shape [5] and v of shape [3], with weights", || {
                gradcheck(
                    |xs| exercise::wasserstein_1d(&xs[0], &xs[1], Some(&xs[2]), Some(&xs[3])),
                    &[u, v, uw, vw],
                    GradcheckOptions::default(),
                )
            })
        })
        .run()
}
