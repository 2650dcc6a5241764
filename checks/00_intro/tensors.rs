//! Checks of 00_intro/tensors: shapes (with size-1 and empty dimensions), dtypes and devices
//! are compared with the reference, not only values, and inputs must be left as they were.
//!
//! Every check runs on the device the runner chose (`ctx.device()`): on a machine without a GPU
//! that is the CPU, where a function that hard-codes `Device::Cpu` cannot be told from one that
//! follows its input. The last check therefore asks for CUDA itself, and is skipped (not failed)
//! where there is none.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::assert_equal;
use tensorlings_support::device::cuda_or_skip;
use tensorlings_support::random::{randint, randn, with_magnitude};
use tensorlings_support::{
    CheckResult, Checks, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("00_intro/tensors.rs");

fn grid_matches(device: Device, rows: i64, cols: i64) -> CheckResult {
    let expected = solution::grid(rows, cols, device);
    within(format!("grid({rows}, {cols})"), || {
        assert_equal("grid", &exercise::grid(rows, cols, device), &expected)
    })
}

/// The pattern of every check with an input: the reference first, on a copy of its own, then the
/// exercise, then the input must be as it was, and only then are the results compared. (An
/// exercise that changed `x` in place before the reference ran would change what it is compared
/// with.)
fn to_double_matches(x: &Tensor) -> CheckResult {
    let x_before = x.copy();
    let expected = solution::to_double(&x.copy());
    let got = exercise::to_double(x);
    assert_unchanged("x", x, &x_before)?;
    assert_close("to_double(x)", &got, &expected, Tolerance::for_kind(Kind::Double))
}

fn ones_like_matches(x: &Tensor) -> CheckResult {
    let x_before = x.copy();
    let expected = solution::ones_like(&x.copy());
    let got = exercise::ones_like(x);
    assert_unchanged("x", x, &x_before)?;
    check_that!(
        got.kind() == x.kind(),
        "ones_like of a {:?} tensor returned {:?}: keep the input's dtype",
        x.kind(),
        got.kind()
    );
    assert_equal("ones_like(x)", &got, &expected)
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
        .check("to_double keeps values and device, and leaves x alone", |ctx| {
            for (shape, magnitude) in [(&[3i64, 4][..], 1.0), (&[5][..], 1e30), (&[2, 1, 3][..], 1e-30)] {
                let x = with_magnitude(shape, magnitude, Kind::Float, ctx.device());
                to_double_matches(&x).map_err(|f| {
                    f.context(format!("for x of shape {shape:?} and magnitude {magnitude:e}"))
                })?;
            }
            Ok(())
        })
        .check("ones_like follows shape, dtype and device, and leaves x alone", |ctx| {
            let device = ctx.device();
            // Only the shape, dtype and device of x matter, not its values (NaN and inf included).
            let inputs = [
                randn(&[2, 3], Kind::Double, device),
                randint(10, &[4], device),
                Tensor::zeros([1, 0, 2], (Kind::Float, device)),
                Tensor::from_slice(&[f32::NAN, f32::INFINITY, -2.0]).to_device(device),
                randint(2, &[3, 1], device).to_kind(Kind::Bool),
            ];
            for x in &inputs {
                ones_like_matches(x).map_err(|f| {
                    f.context(format!("for x of shape {:?} and dtype {:?}", x.size(), x.kind()))
                })?;
            }
            Ok(())
        })
        .check("on a GPU, grid, to_double and ones_like keep CUDA tensors on CUDA", |_ctx| {
            let cuda = cuda_or_skip()?;
            grid_matches(cuda, 2, 3)?;
            within("for x on CUDA", || to_double_matches(&randn(&[3, 4], Kind::Float, cuda)))?;
            within("for an int64 x on CUDA", || ones_like_matches(&randint(10, &[2, 3], cuda)))
        })
        .run()
}
