//! Checks of 00_intro/broadcasting: random inputs of several shapes, square ones included
//! (where broadcasting along the wrong axis runs without an error), size-1 and empty ones, and
//! large magnitudes. Inputs must be left as they were: the reference runs first, on copies of its
//! own, so an exercise that changes its input in place is told so, instead of being compared
//! with a reference that saw the changed input.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("00_intro/broadcasting.rs");

fn center_matches(device: Device, shape: [i64; 2], magnitude: f64) -> CheckResult {
    let x = with_magnitude(&shape, magnitude, Kind::Float, device);
    call!(center_columns(x))
        .describe(format!("for x of shape {shape:?} (magnitude {magnitude:e})"))
        // Large values lose float32 digits when their mean is subtracted: scale the tolerance.
        .tolerance(Tolerance::new(1e-5 * magnitude.max(1.0), 1e-4))
        .check()
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
            center_matches(ctx.device(), [1, 4], 1.0)?;
            center_matches(ctx.device(), [6, 1], 1.0)
        })
        .check("center_columns on large values (1e6)", |ctx| center_matches(ctx.device(), [8, 3], 1e6))
        .check("outer_sum on [3] and [4]", |ctx| outer_matches(ctx.device(), 3, 4))
        .check("outer_sum on equal lengths [5] and [5]", |ctx| outer_matches(ctx.device(), 5, 5))
        .check("outer_sum with size 1 and size 0", |ctx| {
            outer_matches(ctx.device(), 1, 5)?;
            outer_matches(ctx.device(), 0, 3)
        })
        .check("scale_rows on [2, 5]", |ctx| scale_matches(ctx.device(), 2, 5))
        .check("scale_rows on a square [4, 4]", |ctx| scale_matches(ctx.device(), 4, 4))
        .check("scale_rows on [1, 1] and [3, 1]", |ctx| {
            scale_matches(ctx.device(), 1, 1)?;
            scale_matches(ctx.device(), 3, 1)
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
