//! Checks of 00_intro/broadcasting. Inputs must be left as they were: the reference runs
//! first, on copies of its own, so an exercise that changes its input in place is told so.
//!
//! Regimes of the contract, and the check that visits each:
//! - square inputs ([4, 4], [5] and [5]), where broadcasting along the wrong axis runs without
//!   an error and only the values tell;
//! - size-1 dimensions (one row, one column, [1, 1]) and empty ones (no rows, an empty `a` or
//!   `b`), where a dimension hard-coded or inferred goes wrong;
//! - large values (1e6), and columns of very different magnitudes side by side (1e6 next to 1):
//!   the tolerance of center_columns is per entry, from the magnitude of the values it came
//!   from, so a small column is held to its own digits, not to the large column's;
//! - float64 as well as float32 (mean_dim takes the kind to compute in: a hard-coded
//!   `Kind::Float` rounds a float64 mean to float32's digits);
//! - CUDA tensors, where a tensor made on the CPU along the way does not mix (GPU only).

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("00_intro/broadcasting.rs");

fn center_matches(device: Device, shape: [i64; 2], magnitude: f64) -> CheckResult {
    let x = with_magnitude(&shape, magnitude, Kind::Float, device);
    center_columns_match(&x, format!("for x of shape {shape:?} (magnitude {magnitude:e})"))
}

/// Subtracting a column's mean rounds each entry to float32's digits of the larger of the two:
/// each entry's tolerance scales with |x| + |its column's mean|.
fn center_columns_match(x: &Tensor, description: String) -> CheckResult {
    let scale = x.abs() + x.mean_dim(0, true, x.kind()).abs() + 1.0;
    let tol =
        if x.kind() == Kind::Double { Tolerance::new(1e-13, 1e-10) } else { Tolerance::new(1e-5, 1e-4) };
    call!(center_columns(x)).describe(description).tolerance(tol).scale(&scale).check()
}

fn outer_matches(device: Device, n: i64, m: i64) -> CheckResult {
    let (a, b) = (randn(&[n], Kind::Float, device), randn(&[m], Kind::Float, device));
    call!(outer_sum(a, b)).check()
}

fn scale_matches(device: Device, n: i64, d: i64) -> CheckResult {
    let (x, w) = (randn(&[n, d], Kind::Float, device), randn(&[n], Kind::Float, device));
    call!(scale_rows(x, w)).check()
}

fn main() {
    Checks::new()
        .check("center_columns on [5, 3]", |ctx| center_matches(ctx.device(), [5, 3], 1.0))
        .check("center_columns on a square [4, 4]", |ctx| center_matches(ctx.device(), [4, 4], 1.0))
        .check("center_columns on one row [1, 4] and one column [6, 1]", |ctx| {
            [[1, 4], [6, 1]].into_iter().try_for_each(|shape| center_matches(ctx.device(), shape, 1.0))
        })
        .check("center_columns on large values (1e6)", |ctx| center_matches(ctx.device(), [8, 3], 1e6))
        .check("center_columns in float64 on [5, 3]", |ctx| {
            let x = randn(&[5, 3], Kind::Double, ctx.device());
            center_columns_match(&x, "for a float64 x of shape [5, 3]".into())
        })
        .check("center_columns on a column of 1e6 next to columns of 1", |ctx| {
            let large = with_magnitude(&[6, 1], 1e6, Kind::Float, ctx.device());
            let x = Tensor::cat(&[large, randn(&[6, 2], Kind::Float, ctx.device())], 1);
            center_columns_match(&x, "for x of shape [6, 3] with a first column of 1e6".into())
        })
        .check("outer_sum on [3] and [4]", |ctx| outer_matches(ctx.device(), 3, 4))
        .check("outer_sum on equal lengths [5] and [5]", |ctx| outer_matches(ctx.device(), 5, 5))
        .check("outer_sum with size 1 and size 0", |ctx| {
            [(1, 5), (0, 3), (4, 0)].into_iter().try_for_each(|(n, m)| outer_matches(ctx.device(), n, m))
        })
        .check("scale_rows on [2, 5]", |ctx| scale_matches(ctx.device(), 2, 5))
        .check("scale_rows on a square [4, 4]", |ctx| scale_matches(ctx.device(), 4, 4))
        .check("scale_rows on [1, 1] and [3, 1], and with no rows [0, 3]", |ctx| {
            [(1, 1), (3, 1), (0, 3)].into_iter().try_for_each(|(n, d)| scale_matches(ctx.device(), n, d))
        })
        .check("on a GPU, all three work on CUDA tensors", |_ctx| {
            // Skipped without a GPU. The inputs are on CUDA here even when the runner chose the
            // CPU: a tensor made on the CPU along the way (`Tensor::from_slice(&[n as f32])`)
            // does not mix with them, and the results must be on CUDA too.
            let cuda = cuda_or_skip()?;
            center_matches(cuda, [5, 3], 1.0)?;
            outer_matches(cuda, 3, 4)?;
            scale_matches(cuda, 4, 4)
        })
        .run()
}
