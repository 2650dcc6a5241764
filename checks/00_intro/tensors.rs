//! Checks of 00_intro/tensors: shapes, dtypes and devices are compared with the reference, not
//! only values, and inputs must be left as they were.
//!
//! Regimes of the contract, and the check that visits each:
//! - `grid`: several rows and columns; size-1 rows and columns (1x1, 1x5, 4x1); no rows (0x3)
//!   and no columns (3x0), where a `reshape` that infers a dimension with -1 fails.
//! - `to_double`: float32 values of magnitude 1, 1e30 and 1e-30 (float32's far ends, exact in
//!   float64, held to a tolerance relative to each value); inputs already of another kind
//!   (int64, float16, float64).
//! - `ones_like`: float64, int64, bool, empty ([1, 0, 2]), and values that are NaN and infinite
//!   (only the shape, dtype and device of x matter).
//! - the device: every check runs on the device the runner chose (`ctx.device()`); on a machine
//!   without a GPU that is the CPU, where a function that hard-codes `Device::Cpu` cannot be told
//!   from one that follows its input. The last check therefore asks for CUDA itself, and is
//!   skipped (not failed) where there is none.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("00_intro/tensors.rs");

fn grid_matches(device: Device, rows: i64, cols: i64) -> CheckResult {
    call("grid", &[], |_| solution::grid(rows, cols, device), |_| exercise::grid(rows, cols, device))
        .describe(format!("grid({rows}, {cols})"))
        .tolerance(Tolerance::EXACT)
        .check()
}

fn ones_like_matches(x: &Tensor) -> CheckResult {
    call!(ones_like(x))
        .describe(format!("for x of shape {:?} and dtype {:?}", x.size(), x.kind()))
        .diagnose(|got, _| {
            let (want, have) = (x.kind(), got.kind());
            check_that!(
                have == want,
                "ones_like of a {want:?} tensor returned {have:?}: keep the input's dtype"
            );
            Ok(())
        })
        .tolerance(Tolerance::EXACT)
        .check()
}

fn main() {
    Checks::new()
        .check("grid(2, 3) is float32 0..6 in 2 rows", |ctx| grid_matches(ctx.device(), 2, 3))
        .check("grid with size-1 dimensions: 1x1, 1x5, 4x1", |ctx| {
            for (rows, cols) in [(1, 1), (1, 5), (4, 1)] {
                grid_matches(ctx.device(), rows, cols)?;
            }
            Ok(())
        })
        .check("grid(0, 3) and grid(3, 0) are empty matrices", |ctx| {
            grid_matches(ctx.device(), 0, 3)?;
            grid_matches(ctx.device(), 3, 0)
        })
        .check("to_double keeps values and device, and leaves x alone", |ctx| {
            for (shape, magnitude) in [(&[3i64, 4][..], 1.0), (&[5][..], 1e30), (&[2, 1, 3][..], 1e-30)] {
                let x = with_magnitude(shape, magnitude, Kind::Float, ctx.device());
                // float64 holds every float32 exactly: a tolerance relative to each value, so that
                // values of 1e-30 are not all "close" to 0.
                call!(to_double(x))
                    .describe(format!("for x of shape {shape:?} and magnitude {magnitude:e}"))
                    .tolerance(Tolerance::new(0.0, 1e-12))
                    .check()?;
            }
            Ok(())
        })
        .check("to_double of int64, float16 and float64 tensors", |ctx| {
            let int = randint(&[2, 3], 100, ctx.device()) - 50;
            let half = randn(&[4], Kind::Half, ctx.device());
            let double = randn(&[3], Kind::Double, ctx.device());
            [int, half, double].iter().try_for_each(|x| {
                let exact = Tolerance::new(0.0, 1e-12);
                call!(to_double(x))
                    .describe(format!("for x of dtype {:?}", x.kind()))
                    .tolerance(exact)
                    .check()
            })
        })
        .check("ones_like follows shape, dtype and device, and leaves x alone", |ctx| {
            let device = ctx.device();
            // Only the shape, dtype and device of x matter, not its values (NaN and inf included).
            let inputs = [
                randn(&[2, 3], Kind::Double, device),
                randint(&[4], 10, device),
                Tensor::zeros([1, 0, 2], (Kind::Float, device)),
                Tensor::from_slice(&[f32::NAN, f32::INFINITY, -2.0]).to_device(device),
                randint(&[3, 1], 2, device).to_kind(Kind::Bool),
            ];
            inputs.iter().try_for_each(ones_like_matches)
        })
        .check("on a GPU, grid, to_double and ones_like keep CUDA tensors on CUDA", |_ctx| {
            let cuda = cuda_or_skip()?;
            grid_matches(cuda, 2, 3)?;
            let x = randn(&[3, 4], Kind::Float, cuda);
            call!(to_double(x)).describe("for x on CUDA").check()?;
            ones_like_matches(&randint(&[2, 3], 10, cuda))
        })
        .run()
}
