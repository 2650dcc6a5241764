//! Checks of 02_einsum/batched_trace: `traces` and `diagonals` against the reference and against
//! libtorch's `diagonal` (summed for the traces), on a batch of several, a batch of 1, 1x1
//! matrices, an empty batch and empty matrices (whose trace is 0), float64, and a batch with as
//! many matrices as rows, where a result with the batch and the diagonal swapped has the right
//! shape. Random matrices are not symmetric and have off-diagonal entries, so summing every
//! entry or a row instead of the diagonal gives other values with the right shape. The last check
//! reads the exercise's code: `diagonal()` and `sum` give the right numbers without einsum.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("02_einsum/batched_trace.rs");

/// What to write instead, for the messages.
const WITH_EINSUM: &str = "this section is about einsum: a letter repeated in one operand takes \
     the diagonal, so write traces as Tensor::einsum(\"bii->b\", &[m], None::<i64>) and diagonals \
     as Tensor::einsum(\"bii->bi\", &[m], None::<i64>)";

/// `traces(m)` for `m` of shape `[batch, n, n]`, against the reference and the diagonal summed
/// by libtorch.
fn traces_match(device: Device, batch: i64, n: i64, kind: Kind) -> CheckResult {
    let m = randn(&[batch, n, n], kind, device);
    call!(traces(m))
        .builtin("m.diagonal(0, -2, -1) summed", |x| {
            x[0].diagonal(0, -2, -1).sum_dim_intlist(-1, false, None::<Kind>)
        })
        .check()
}

/// `diagonals(m)` for `m` of shape `[batch, n, n]`, against the reference and libtorch's
/// `diagonal`.
fn diagonals_match(device: Device, batch: i64, n: i64, kind: Kind) -> CheckResult {
    let m = randn(&[batch, n, n], kind, device);
    call!(diagonals(m)).builtin("m.diagonal(0, -2, -1)", |x| x[0].diagonal(0, -2, -1)).check()
}

fn main() {
    Checks::new()
        .check("traces of a batch of 4: [4, 3, 3]", |ctx| traces_match(ctx.device(), 4, 3, Kind::Float))
        .check("traces of a batch of 1 [1, 5, 5], and of 1x1 matrices [3, 1, 1]", |ctx| {
            traces_match(ctx.device(), 1, 5, Kind::Float)?;
            traces_match(ctx.device(), 3, 1, Kind::Float)
        })
        .check("traces of an empty batch [0, 3, 3], and of empty matrices [2, 0, 0] (trace 0)", |ctx| {
            traces_match(ctx.device(), 0, 3, Kind::Float)?;
            traces_match(ctx.device(), 2, 0, Kind::Float)
        })
        .check("traces in float64: [3, 4, 4]", |ctx| traces_match(ctx.device(), 3, 4, Kind::Double))
        .check("diagonals of a batch of 4: [4, 3, 3]", |ctx| diagonals_match(ctx.device(), 4, 3, Kind::Float))
        .check("diagonals of [3, 3, 3], where batch and diagonal swapped has the right shape", |ctx| {
            diagonals_match(ctx.device(), 3, 3, Kind::Float)
        })
        .check("diagonals of [1, 5, 5], [3, 1, 1], [0, 3, 3] and [2, 0, 0]", |ctx| {
            diagonals_match(ctx.device(), 1, 5, Kind::Float)?;
            diagonals_match(ctx.device(), 3, 1, Kind::Float)?;
            diagonals_match(ctx.device(), 0, 3, Kind::Float)?;
            diagonals_match(ctx.device(), 2, 0, Kind::Double)
        })
        .check("traces and diagonals are written with einsum", |_ctx| {
            assert_written_with(
                EXERCISE_SOURCE,
                "einsum",
                &["diagonal", "diag", "trace", "diagonal_copy"],
                WITH_EINSUM,
            )
        })
        .run()
}
