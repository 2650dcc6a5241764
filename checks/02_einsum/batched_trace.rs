//! Checks of 02_einsum/batched_trace: `traces` and `diagonals` against the reference and against
//! libtorch's `diagonal` (summed for the traces).
//!
//! Regimes of the contract, and the check that visits each:
//! - a batch of several, a batch of 1, 1x1 matrices;
//! - an empty batch, and empty matrices (whose trace is 0);
//! - a batch with as many matrices as rows, where a result with the batch and the diagonal
//!   swapped has the right shape;
//! - float64;
//! - random matrices are not symmetric and have off-diagonal entries, so summing every entry or
//!   a row instead of the diagonal gives other values with the right shape;
//! - the stated rule, einsum and no `diagonal`, `diag` or `trace` (the last check reads the
//!   exercise's code: they give the right numbers without einsum).

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("02_einsum/batched_trace.rs");

/// What to write instead, for the messages.
const WITH_EINSUM: &str = "this section is about einsum: a letter repeated in one operand takes \
     the diagonal, so write traces as Tensor::einsum(\"bii->b\", &[m], None::<i64>) and diagonals \
     as Tensor::einsum(\"bii->bi\", &[m], None::<i64>)";

/// `traces(m)` for `m` of shape `[batch, n, n]`, against the reference and the diagonal summed
/// by libtorch.
fn traces_match(ctx: &Ctx, batch: i64, n: i64, kind: Kind) -> CheckResult {
    let m = randn(&[batch, n, n], kind, ctx.device());
    call!(traces(m))
        .builtin("m.diagonal(0, -2, -1) summed", |x| {
            x[0].diagonal(0, -2, -1).sum_dim_intlist(-1, false, None::<Kind>)
        })
        .check()
}

/// `diagonals(m)` for `m` of shape `[batch, n, n]`, against the reference and libtorch's
/// `diagonal`.
fn diagonals_match(ctx: &Ctx, batch: i64, n: i64, kind: Kind) -> CheckResult {
    let m = randn(&[batch, n, n], kind, ctx.device());
    call!(diagonals(m)).builtin("m.diagonal(0, -2, -1)", |x| x[0].diagonal(0, -2, -1)).check()
}

fn main() {
    use Kind::{Double, Float};
    Checks::new()
        .check("traces of a batch of 4: [4, 3, 3]", |ctx| traces_match(ctx, 4, 3, Float))
        .check("traces of a batch of 1 [1, 5, 5], and of 1x1 matrices [3, 1, 1]", |ctx| {
            [(1, 5), (3, 1)].into_iter().try_for_each(|(b, n)| traces_match(ctx, b, n, Float))
        })
        .check("traces of an empty batch [0, 3, 3], and of empty matrices [2, 0, 0] (trace 0)", |ctx| {
            [(0, 3), (2, 0)].into_iter().try_for_each(|(b, n)| traces_match(ctx, b, n, Float))
        })
        .check("traces in float64: [3, 4, 4]", |ctx| traces_match(ctx, 3, 4, Double))
        .check("diagonals of a batch of 4: [4, 3, 3]", |ctx| diagonals_match(ctx, 4, 3, Float))
        .check("diagonals of [3, 3, 3], where batch and diagonal swapped has the right shape", |ctx| {
            diagonals_match(ctx, 3, 3, Float)
        })
        .check("diagonals of [1, 5, 5], [3, 1, 1], [0, 3, 3] and [2, 0, 0]", |ctx| {
            [(1, 5), (3, 1), (0, 3)].into_iter().try_for_each(|(b, n)| diagonals_match(ctx, b, n, Float))?;
            diagonals_match(ctx, 2, 0, Double)
        })
        .check("traces and diagonals are written with einsum", |_ctx| {
            assert_written_with(
                EXERCISE_SOURCE,
                "einsum",
                &["diagonal", "diag", "trace", "diagonal_copy"],
                WITH_EINSUM,
            )
        })
        // `tensorlings profile`: the traces of 64 n x n matrices against diagonal().sum(-1).
        .profile("traces", profile::sizes("n", [16, 128, 1024]), |n, device| {
            let m = randn(&[64, n, n], Kind::Float, device);
            profile_case!(traces(m)).builtin("m.diagonal(0, 1, 2).sum(-1)", |x| {
                x[0].diagonal(0, 1, 2).sum_dim_intlist(-1, false, None::<Kind>)
            })
        })
        .run()
}
