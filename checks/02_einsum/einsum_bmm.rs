//! Checks of 02_einsum/einsum_bmm: `bmm` against the reference and libtorch's `bmm`, and
//! `shared_weights` against the reference and `matmul`.
//!
//! Regimes of the contract, and the check that visits each:
//! - a batch of several, where a batch letter that differs between the operands sums over the
//!   batch instead of pairing it up; a batch of 1, where that mistake goes unseen;
//! - square matrices and a square w, where a transposed operand runs without an error;
//! - empty dimensions: an empty batch, and nothing to sum over;
//! - one token, and float64;
//! - the stated rule, einsum and no `bmm` or `matmul` (the last check reads the exercise's code).

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("02_einsum/einsum_bmm.rs");

/// What to write instead of a matrix-product method, for the messages.
const WITH_EINSUM: &str = "this section is about einsum: write bmm as \
     Tensor::einsum(\"bij,bjk->bik\", &[a, b], None::<i64>) and shared_weights as \
     Tensor::einsum(\"bnd,de->bne\", &[x, w], None::<i64>)";

/// `a` of shape `[batch, n, m]` times `b` of shape `[batch, m, p]`, against the reference and
/// libtorch's `bmm`.
fn bmm_matches(ctx: &Ctx, [batch, n, m, p]: [i64; 4], kind: Kind) -> CheckResult {
    let (a, b) = (randn(&[batch, n, m], kind, ctx.device()), randn(&[batch, m, p], kind, ctx.device()));
    call!(bmm(a, b)).builtin("a.bmm(b)", |x| x[0].bmm(&x[1])).check()
}

/// `x` of shape `[batch, n, d]` times `w` of shape `[d, e]`, against the reference and
/// `x.matmul(w)`.
fn shared_matches(ctx: &Ctx, [batch, n, d, e]: [i64; 4], kind: Kind) -> CheckResult {
    let (x, w) = (randn(&[batch, n, d], kind, ctx.device()), randn(&[d, e], kind, ctx.device()));
    call!(shared_weights(x, w)).builtin("x.matmul(w)", |x| x[0].matmul(&x[1])).check()
}

fn main() {
    use Kind::{Double, Float};
    Checks::new()
        .check("bmm on a batch of 3: [3, 2, 4] and [3, 4, 5]", |ctx| bmm_matches(ctx, [3, 2, 4, 5], Float))
        .check("bmm on a batch of 1: [1, 3, 4] and [1, 4, 2]", |ctx| bmm_matches(ctx, [1, 3, 4, 2], Float))
        .check("bmm on square matrices [4, 3, 3], where a transposed b runs too", |ctx| {
            bmm_matches(ctx, [4, 3, 3, 3], Float)
        })
        .check("bmm with empty dimensions: an empty batch, and nothing to sum", |ctx| {
            bmm_matches(ctx, [0, 2, 3, 4], Float)?;
            bmm_matches(ctx, [2, 3, 0, 4], Float)
        })
        .check("bmm in float64 on [5, 1, 6] and [5, 6, 1]", |ctx| bmm_matches(ctx, [5, 1, 6, 1], Double))
        .check("shared_weights on [3, 4, 5] and [5, 2]", |ctx| shared_matches(ctx, [3, 4, 5, 2], Float))
        .check("shared_weights with a square w [4, 4], where a transposed w runs too", |ctx| {
            shared_matches(ctx, [2, 3, 4, 4], Float)
        })
        .check("shared_weights on a batch of 1 with one token, and in float64", |ctx| {
            shared_matches(ctx, [1, 1, 3, 6], Float)?;
            shared_matches(ctx, [6, 5, 2, 3], Double)
        })
        .check("bmm and shared_weights are written with einsum", |_ctx| {
            assert_written_with(EXERCISE_SOURCE, "einsum", &["matmul", "mm", "mv", "bmm"], WITH_EINSUM)
        })
        // `tensorlings profile`: 16 pairs of n x n matrices against bmm.
        .profile("bmm", profile::sizes("n", [32, 128, 512]), |n, device| {
            let (a, b) = (randn(&[16, n, n], Kind::Float, device), randn(&[16, n, n], Kind::Float, device));
            profile_case!(bmm(a, b)).builtin("a.bmm(b)", |x| x[0].bmm(&x[1]))
        })
        .run()
}
