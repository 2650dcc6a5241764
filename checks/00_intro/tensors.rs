//! Checks of 00_intro/tensors: shapes (with size-1 and empty dimensions), dtypes and devices
//! are compared with the reference, not only values.

use tch::{Kind, Tensor};
use tensorlings_support::compare::assert_equal;
use tensorlings_support::random::with_magnitude;
use tensorlings_support::{CheckResult, Checks, Tolerance, assert_close, check_that};

tensorlings_support::exercise_modules!("00_intro/tensors.rs");

fn grid_matches(device: tch::Device, rows: i64, cols: i64) -> CheckResult {
    let got = exercise::grid(rows, cols, device);
    let expected = solution::grid(rows, cols, device);
    assert_equal("grid", &got, &expected).map_err(|f| f.context(format!("grid({rows}, {cols})")))
}

fn main() {
    Checks::new("tensors")
        .check("grid(2, 3) is float32 0..6 in 2 rows", |ctx| grid_matches(ctx.device(), 2, 3))
        .check("grid with size-1 dimensions: 1x1, 1x5, 4x1", |ctx| {
            for (rows, cols) in [(1, 1), (1, 5), (4, 1)] {
                grid_matches(ctx.device(), rows, cols)?;
            }
            Ok(())
        })
        .check("grid(0, 3) is an empty 0x3 matrix", |ctx| grid_matches(ctx.device(), 0, 3))
        .check("to_double keeps values and device", |ctx| {
            for (shape, magnitude) in [(&[3i64, 4][..], 1.0), (&[5][..], 1e30), (&[2, 1, 3][..], 1e-30)] {
                let x = with_magnitude(shape, magnitude, Kind::Float, ctx.device());
                let before = x.copy();
                let got = exercise::to_double(&x);
                let expected = solution::to_double(&x);
                assert_close("to_double(x)", &got, &expected, Tolerance::for_kind(Kind::Double)).map_err(
                    |f| f.context(format!("for x of shape {shape:?} and magnitude {magnitude:e}")),
                )?;
                assert_equal("x after to_double", &x, &before)
                    .map_err(|f| f.context("to_double must not change its input"))?;
            }
            Ok(())
        })
        .check("ones_like follows shape, dtype and device", |ctx| {
            let device = ctx.device();
            let inputs = [
                Tensor::zeros([2, 3], (Kind::Double, device)),
                Tensor::zeros([4], (Kind::Int64, device)),
                Tensor::zeros([1, 0, 2], (Kind::Float, device)),
                Tensor::zeros([3, 1], (Kind::Bool, device)),
            ];
            for x in &inputs {
                let got = exercise::ones_like(x);
                check_that!(
                    got.kind() == x.kind(),
                    "ones_like of a {:?} tensor returned {:?}: keep the input's dtype",
                    x.kind(),
                    got.kind()
                );
                assert_equal("ones_like(x)", &got, &solution::ones_like(x)).map_err(|f| {
                    f.context(format!("for x of shape {:?} and dtype {:?}", x.size(), x.kind()))
                })?;
            }
            Ok(())
        })
        .run()
}
