//! Checks of 02_einsum/pairwise_distances: both versions against the reference and against
//! `torch.cdist`, with n != m (where a transposed broadcast gives the wrong shape) and n == m
//! (where it does not), one point, one feature, no points, float64, and identical points: the
//! direct version must give 0 there, and the fast one must not give NaN, which rounding below 0
//! before the square root does. The direct version is also tried on points far from the origin,
//! where it keeps its digits and the expansion of the square would not. The fast version is held
//! to a tolerance derived from its rounding error (see `fast_tolerance`), not to the direct
//! version's. The last check reads the exercise's code: calling cdist is not the exercise.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("02_einsum/pairwise_distances.rs");

/// The exact distances, as libtorch computes them. Compute mode 2 ("donot_use_mm_for_euclid_dist")
/// subtracts at every size: the default (`None`) switches to the expansion of the square above
/// 25 points, which would put its own rounding error in what the results are compared with.
fn cdist(x: &Tensor, y: &Tensor) -> Tensor {
    Tensor::cdist(x, y, 2.0, Some(2))
}

/// float32's or float64's machine epsilon (the gap between 1 and the next number).
fn epsilon(kind: Kind) -> f64 {
    if kind == Kind::Double { f64::EPSILON } else { f32::EPSILON as f64 }
}

/// The tolerance of the direct version: a sum of d squares and a square root, each correctly
/// rounded: relative errors of a few epsilon, with room for another order of summation.
fn direct_tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::for_kind(kind) } else { Tolerance::new(1e-5, 1e-5) }
}

/// The largest Euclidean norm of a row of `x`, 0 for no rows.
fn max_row_norm(x: &Tensor) -> f64 {
    if x.numel() == 0 {
        return 0.0;
    }
    x.to_kind(Kind::Double).square().sum_dim_intlist(-1, false, None::<Kind>).sqrt().max().double_value(&[])
}

/// The tolerance of the fast version, from its rounding error.
///
/// Each of |x|^2, |y|^2 and x . y is a sum of d products, computed with an error of at most
/// about d * eps times the sum of the absolute values of its terms (eps is the kind's machine
/// epsilon), which for x . y is at most |x| |y| (Cauchy-Schwarz). Two more additions round too.
/// So the computed squared distance is off by at most about
///     delta = (d + 4) * eps * (|x|^2 + |y|^2 + 2 |x| |y|) = (d + 4) * eps * (|x| + |y|)^2,
/// however small the distance is: that is the cancellation. After the clamp both the computed
/// and the exact squared distance are >= 0, and for a, b >= 0, |sqrt(a) - sqrt(b)| <= sqrt(|a - b|),
/// so the distance is off by at most sqrt(delta) = sqrt((d + 4) * eps) * (|x| + |y|), taken here
/// with the largest norms. For standard normal points in 16 dimensions (norms up to about 6)
/// that is about 2e-2 in float32, and errors of that order are real: for identical points the
/// fast version gives up to about 3e-3 instead of 0. A relative part covers the square root's
/// own rounding.
fn fast_tolerance(x: &Tensor, y: &Tensor) -> Tolerance {
    let eps = epsilon(x.kind());
    let d = x.size()[1] as f64;
    let atol = ((d + 4.0) * eps).sqrt() * (max_row_norm(x) + max_row_norm(y));
    Tolerance::new(two_digits_up(atol.max(direct_tolerance(x.kind()).atol)), direct_tolerance(x.kind()).rtol)
}

/// `x` (> 0) rounded up to two significant digits, so that a message shows `atol 0.0088`, not
/// `atol 0.008759844568178726`. Divides by an exact power of ten, so the result prints short.
fn two_digits_up(x: f64) -> f64 {
    let digits = 1 - x.log10().floor() as i32;
    if digits > 0 {
        let scale = 10f64.powi(digits);
        (x * scale).ceil() / scale
    } else {
        let scale = 10f64.powi(-digits);
        (x / scale).ceil() * scale
    }
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
    let (name, tol, reference, exercise): (
        _,
        _,
        fn(&Tensor, &Tensor) -> Tensor,
        fn(&Tensor, &Tensor) -> Tensor,
    ) = match version {
        Version::Direct => (
            "pairwise_distances(x, y)",
            direct_tolerance(x.kind()),
            solution::pairwise_distances,
            exercise::pairwise_distances,
        ),
        Version::Fast => (
            "pairwise_distances_fast(x, y)",
            fast_tolerance(x, y),
            solution::pairwise_distances_fast,
            exercise::pairwise_distances_fast,
        ),
    };
    let exact = cdist(x, y);
    // The reference's fast version has rounding errors of its own, which may add to the
    // learner's: twice the tolerance between the two, the tolerance against the exact values.
    let got = call(name, &[("x", x), ("y", y)], |i| reference(&i[0], &i[1]), |i| exercise(&i[0], &i[1]))
        .diagnose(|got, _| if got.size() == exact.size() { no_nan(got, &exact) } else { Ok(()) })
        .diagnose(|got, expected| not_squares(name, got, expected))
        .tolerance(Tolerance::new(2.0 * tol.atol, 2.0 * tol.rtol))
        .run()?;
    within(format!("for x of shape {:?} and y of shape {:?}", x.size(), y.size()), || {
        assert_close(&format!("{name}, compared with torch.cdist(x, y),"), &got, &exact, tol)
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
            random_points_match(Direct, ctx.device(), 1, 4, 3, Kind::Float)?;
            random_points_match(Direct, ctx.device(), 6, 2, 1, Kind::Float)?;
            random_points_match(Direct, ctx.device(), 0, 4, 3, Kind::Float)
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
            random_points_match(Fast, ctx.device(), 1, 4, 3, Kind::Float)?;
            random_points_match(Fast, ctx.device(), 6, 2, 1, Kind::Float)?;
            random_points_match(Fast, ctx.device(), 4, 0, 3, Kind::Float)
        })
        .check("pairwise_distances_fast in float64 on [3, 5] and [2, 5]", |ctx| {
            random_points_match(Fast, ctx.device(), 3, 2, 5, Kind::Double)
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
        .run()
}
