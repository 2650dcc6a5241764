//! Checks of 02_einsum/pairwise_distances: both versions against the reference and against
//! `torch.cdist`.
//!
//! Regimes of the contract, and the check that visits each:
//! - n != m (where a transposed broadcast gives the wrong shape) and n == m (where it does not);
//! - one point, one feature, no points (in x for the direct version, in y for the fast one);
//! - float64;
//! - identical points: the direct version must give 0 there, and the fast one must not give NaN,
//!   which rounding below 0 before the square root does;
//! - points far from the origin (offset 1000), where the direct version keeps its digits and the
//!   expansion of the square would not;
//! - points of mixed scale (norms of 1e-2 next to norms of 10): the fast version is held to the
//!   rounding error of each pair, sqrt((d + 4) eps) (|x_i| + |y_j|) (see `fast_tolerance`), not
//!   to the error of the largest pair, so the small pairs must keep their digits too;
//! - the stated rules: the direct version by broadcasting, "no loop", and neither calling cdist
//!   (the last checks read the exercise's code).

use tensorlings_support::compare::{epsilon, two_digits_up};
use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("02_einsum/pairwise_distances.rs");

/// The exact distances, as libtorch computes them. Compute mode 2 ("donot_use_mm_for_euclid_dist")
/// subtracts at every size: the default (`None`) switches to the expansion of the square above
/// 25 points, which would put its own rounding error in what the results are compared with.
fn cdist(x: &Tensor, y: &Tensor) -> Tensor {
    Tensor::cdist(x, y, 2.0, Some(2))
}

/// float32's or float64's machine epsilon (the gap between 1 and the next number).

/// The tolerance of the direct version: a sum of d squares and a square root, each correctly
/// rounded: relative errors of a few epsilon, with room for another order of summation.
fn direct_tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::for_kind(kind) } else { Tolerance::new(1e-5, 1e-5) }
}

/// The Euclidean norm of every row of `x`, in float64.
fn row_norms(x: &Tensor) -> Tensor {
    x.to_kind(Kind::Double).square().sum_dim_intlist(-1, false, None::<Kind>).sqrt()
}

/// The tolerance of the fast version, from its rounding error, and the scale of each pair: an
/// entry [i, j] may be off by `atol * (|x_i| + |y_j|)`.
///
/// Each of |x|^2, |y|^2 and x . y is a sum of d products, computed with an error of at most
/// about d * eps times the sum of the absolute values of its terms (eps is the kind's machine
/// epsilon), which for x . y is at most |x| |y| (Cauchy-Schwarz). Two more additions round too.
/// So the computed squared distance is off by at most about
///     delta = (d + 4) * eps * (|x|^2 + |y|^2 + 2 |x| |y|) = (d + 4) * eps * (|x| + |y|)^2,
/// however small the distance is: that is the cancellation. After the clamp both the computed
/// and the exact squared distance are >= 0, and for a, b >= 0, |sqrt(a) - sqrt(b)| <= sqrt(|a - b|),
/// so the distance is off by at most sqrt(delta) = sqrt((d + 4) * eps) * (|x| + |y|), for the
/// norms of that pair. For standard normal points in 16 dimensions (norms up to about 6) that is
/// about 2e-2 in float32, and errors of that order are real: for identical points the fast
/// version gives up to about 3e-3 instead of 0. A relative part covers the square root's own
/// rounding. (One atol from the largest norms would let a pair of small points be off by the
/// error of the largest pair.)
fn fast_tolerance(x: &Tensor, y: &Tensor) -> (Tolerance, Tensor) {
    let d = x.size()[1] as f64;
    let atol = two_digits_up(((d + 4.0) * epsilon(x.kind())).sqrt());
    let scale = row_norms(x).unsqueeze(1) + row_norms(y).unsqueeze(0);
    (Tolerance::new(atol, direct_tolerance(x.kind()).rtol), scale)
}

/// Fails when `got` holds the squares of the distances, a mistake that the numbers alone do not
/// make obvious.
fn not_squares(name: &str, got: &Tensor, expected: &Tensor) -> CheckResult {
    if got.size() != expected.size() || got.numel() == 0 {
        return Ok(());
    }
    let expected = expected.to_kind(Kind::Double);
    let scale = 1.0 + expected.square().max().double_value(&[]);
    let gap = |t: Tensor| (got.to_kind(Kind::Double) - t).abs().max().double_value(&[]);
    check_that!(
        gap(expected.square()) > 1e-3 * scale || gap(expected.shallow_clone()) <= 1e-3 * scale,
        "`{name}` differs from the reference: these are the squares of the distances: take the square root"
    );
    Ok(())
}

/// Fails, with the first place and what to do, when the fast version has NaN where the
/// reference has none.
fn no_nan(got: &Tensor, expected: &Tensor) -> CheckResult {
    let nan = got.isnan().logical_and(&expected.isnan().logical_not()).to_device(Device::Cpu);
    if nan.numel() == 0 || nan.any().int64_value(&[]) == 0 {
        return Ok(());
    }
    let first = Vec::<i64>::try_from(&nan.nonzero().get(0)).map_err(Failure::from)?;
    let distance = expected.to_device(Device::Cpu).double_value(&first);
    Err(Failure::new(format!(
        "`pairwise_distances_fast(x, y)` is NaN at {first:?}, where the distance is {distance:?}: \
         for points this close, rounding makes |x|^2 + |y|^2 - 2 x.y slightly negative, and the \
         square root of a negative number is NaN: clamp at 0 before sqrt (`.clamp_min(0.0).sqrt()`)"
    )))
}

/// Which version of the exercise a check calls.
#[derive(Clone, Copy)]
enum Version {
    Direct,
    Fast,
}

/// One version on `x` and `y`, against the reference and cdist, each with the tolerance of that
/// version; the fast version must not give NaN.
fn distances_match(version: Version, x: &Tensor, y: &Tensor) -> CheckResult {
    let exact = cdist(x, y);
    let (name, call, tol, scale) = match version {
        Version::Direct => {
            ("pairwise_distances(x, y)", call!(pairwise_distances(x, y)), direct_tolerance(x.kind()), None)
        }
        Version::Fast => {
            let (tol, scale) = fast_tolerance(x, y);
            ("pairwise_distances_fast(x, y)", call!(pairwise_distances_fast(x, y)), tol, Some(scale))
        }
    };
    // The reference's fast version has rounding errors of its own, which may add to the
    // learner's: twice the tolerance between the two, the tolerance against the exact values.
    let call = call
        .diagnose(|got, _| if got.size() == exact.size() { no_nan(got, &exact) } else { Ok(()) })
        .diagnose(|got, expected| not_squares(name, got, expected))
        .tolerance(Tolerance::new(2.0 * tol.atol, 2.0 * tol.rtol));
    let got = match &scale {
        Some(scale) => call.scale(scale).run()?,
        None => call.run()?,
    };
    within(format!("for x of shape {:?} and y of shape {:?}", x.size(), y.size()), || {
        let what = format!("{name}, compared with torch.cdist(x, y),");
        match &scale {
            Some(scale) => assert_close_scaled(&what, &got, &exact, tol, scale),
            None => assert_close(&what, &got, &exact, tol),
        }
    })
}

/// Both versions on random points of these shapes.
fn random_points_match(version: Version, device: Device, n: i64, m: i64, d: i64, kind: Kind) -> CheckResult {
    let x = randn(&[n, d], kind, device);
    let y = randn(&[m, d], kind, device);
    distances_match(version, &x, &y)
}

/// 64 points against themselves (the diagonal is 0) and against themselves moved by 1e-4 (the
/// diagonal is tiny): where the fast version's squared distances round below 0.
fn duplicates_match(version: Version, device: Device) -> CheckResult {
    let x = randn(&[64, 16], Kind::Float, device);
    distances_match(version, &x, &x.copy())?;
    let nearby = &x + randn(&[64, 16], Kind::Float, device) * 1e-4;
    distances_match(version, &x, &nearby)
}

fn main() {
    use Version::{Direct, Fast};
    Checks::new()
        .check("pairwise_distances on [4, 3] and [5, 3]", |ctx| {
            random_points_match(Direct, ctx.device(), 4, 5, 3, Kind::Float)
        })
        .check(
            "pairwise_distances on [5, 3] and [5, 3], where a transposed broadcast keeps the shape",
            |ctx| random_points_match(Direct, ctx.device(), 5, 5, 3, Kind::Float),
        )
        .check("pairwise_distances with one point, one feature, and no points", |ctx| {
            [[1, 4, 3], [6, 2, 1], [0, 4, 3]]
                .into_iter()
                .try_for_each(|[n, m, d]| random_points_match(Direct, ctx.device(), n, m, d, Kind::Float))
        })
        .check("pairwise_distances of identical points is 0", |ctx| duplicates_match(Direct, ctx.device()))
        .check("pairwise_distances keeps its digits on points far from the origin (offset 1000)", |ctx| {
            // Distances of a few units between points about 1000 from the origin: subtracting
            // first is exact here, while |x|^2 + |y|^2 - 2 x.y would cancel 1e6-sized terms.
            let x = randn(&[6, 4], Kind::Float, ctx.device()) + 1000.0;
            let y = randn(&[7, 4], Kind::Float, ctx.device()) + 1000.0;
            distances_match(Direct, &x, &y)
        })
        .check("pairwise_distances in float64 on [3, 5] and [2, 5]", |ctx| {
            random_points_match(Direct, ctx.device(), 3, 2, 5, Kind::Double)
        })
        .check("pairwise_distances_fast on [4, 3] and [5, 3]", |ctx| {
            random_points_match(Fast, ctx.device(), 4, 5, 3, Kind::Float)
        })
        .check("pairwise_distances_fast on [5, 8] and [5, 8]", |ctx| {
            random_points_match(Fast, ctx.device(), 5, 5, 8, Kind::Float)
        })
        .check("pairwise_distances_fast of identical points is 0, never NaN", |ctx| {
            duplicates_match(Fast, ctx.device())
        })
        .check("pairwise_distances_fast with one point, one feature, and no points", |ctx| {
            [[1, 4, 3], [6, 2, 1], [4, 0, 3]]
                .into_iter()
                .try_for_each(|[n, m, d]| random_points_match(Fast, ctx.device(), n, m, d, Kind::Float))
        })
        .check("pairwise_distances_fast in float64 on [3, 5] and [2, 5]", |ctx| {
            random_points_match(Fast, ctx.device(), 3, 2, 5, Kind::Double)
        })
        .check("both on points of mixed scale: norms of 1e-2 next to norms of 10", |ctx| {
            let scales = Tensor::from_slice(&[1e-2f32, 1e-2, 3.0, 1e-2, 3.0, 1e-2]).to_device(ctx.device());
            let x = randn(&[6, 8], Kind::Float, ctx.device()) * scales.unsqueeze(1);
            let y = Tensor::cat(&[x.narrow(0, 0, 3), randn(&[2, 8], Kind::Float, ctx.device()) * 1e-2], 0);
            distances_match(Direct, &x, &y)?;
            distances_match(Fast, &x, &y)
        })
        .check("pairwise_distances broadcasts, without a loop", |_ctx| {
            let direct = source::function(EXERCISE_SOURCE, "pairwise_distances");
            for word in ["for", "while", "loop", "map"] {
                assert_does_not_call(
                    &direct,
                    word,
                    "pairwise_distances computes every pair at once by broadcasting, \
                     x.unsqueeze(1) - y.unsqueeze(0), not in a loop over the points",
                )?;
            }
            Ok(())
        })
        .check("neither calls cdist", |_ctx| {
            assert_does_not_call(
                EXERCISE_SOURCE,
                "cdist",
                "the exercise is to compute the distances yourself (cdist is what they are compared \
                 with): broadcast x.unsqueeze(1) - y.unsqueeze(0) for the direct version, and expand \
                 the square for the fast one",
            )
        })
        // `tensorlings profile`: n points against n points of 32 features, against torch.cdist.
        // The direct version holds an [n, n, 32] difference: n = 1024 is 128 MiB already.
        .profile("pairwise_distances", profile::sizes("n", [64, 256, 1024]), |n, device| {
            let (x, y) = (randn(&[n, 32], Kind::Float, device), randn(&[n, 32], Kind::Float, device));
            profile_case!(pairwise_distances(x, y))
                .builtin("torch.cdist", |x| Tensor::cdist(&x[0], &x[1], 2.0, None))
        })
        .profile("pairwise_distances_fast", profile::sizes("n", [64, 512, 2048]), |n, device| {
            let (x, y) = (randn(&[n, 32], Kind::Float, device), randn(&[n, 32], Kind::Float, device));
            profile_case!(pairwise_distances_fast(x, y))
                .builtin("torch.cdist", |x| Tensor::cdist(&x[0], &x[1], 2.0, None))
        })
        .run()
}
