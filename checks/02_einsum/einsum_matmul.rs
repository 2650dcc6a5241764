//! Checks of 02_einsum/einsum_matmul: `matmul` and `matvec` against the reference and against
//! libtorch's own `matmul`.
//!
//! Regimes of the contract, and the check that visits each:
//! - non-square shapes, where a wrong equation is a shape error or a wrong shape;
//! - square ones, where "ij,kj->ik" and "ij,jk->ki" run without an error and give wrong numbers;
//! - size-1 dimensions, and empty ones: no rows (an empty result) and nothing to sum over (a
//!   matrix of zeros);
//! - float64;
//! - the stated rule, einsum and no matrix-product method (the last check reads the exercise's
//!   code: a `matmul` answer gives the right numbers and teaches nothing about einsum).

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("02_einsum/einsum_matmul.rs");

/// What to write instead of a matrix-product method, for the messages.
const WITH_EINSUM: &str = "this section is about einsum: write matmul as \
     Tensor::einsum(\"ij,jk->ik\", &[a, b], None::<i64>) and matvec as \
     Tensor::einsum(\"ij,j->i\", &[a, x], None::<i64>)";

/// `a` of shape `[n, m]` times `b` of shape `[m, p]`, against the reference and libtorch's
/// `matmul`.
fn matmul_matches(ctx: &Ctx, n: i64, m: i64, p: i64, kind: Kind) -> CheckResult {
    let (a, b) = (randn(&[n, m], kind, ctx.device()), randn(&[m, p], kind, ctx.device()));
    call!(matmul(a, b)).builtin("a.matmul(b)", |x| x[0].matmul(&x[1])).check()
}

/// `a` of shape `[n, m]` times `x` of shape `[m]`, likewise.
fn matvec_matches(ctx: &Ctx, n: i64, m: i64, kind: Kind) -> CheckResult {
    let (a, x) = (randn(&[n, m], kind, ctx.device()), randn(&[m], kind, ctx.device()));
    call!(matvec(a, x)).builtin("a.matmul(x)", |x| x[0].matmul(&x[1])).check()
}

fn main() {
    use Kind::{Double, Float};
    Checks::new()
        .check("matmul on [3, 4] and [4, 5]", |ctx| matmul_matches(ctx, 3, 4, 5, Float))
        .check("matmul on square [4, 4] and [4, 4], where a transposed equation runs too", |ctx| {
            matmul_matches(ctx, 4, 4, 4, Float)
        })
        .check("matmul on [1, 1] and [1, 1], and with empty dimensions", |ctx| {
            matmul_matches(ctx, 1, 1, 1, Float)?;
            // No rows: an empty [0, 2] result.
            matmul_matches(ctx, 0, 3, 2, Float)?;
            // Nothing to sum over: a [3, 2] matrix of zeros.
            matmul_matches(ctx, 3, 0, 2, Float)
        })
        .check("matmul in float64 on [2, 6] and [6, 3]", |ctx| matmul_matches(ctx, 2, 6, 3, Double))
        .check("matvec on [3, 4] and [4]", |ctx| matvec_matches(ctx, 3, 4, Float))
        .check("matvec on a square [5, 5], where x @ a runs too", |ctx| matvec_matches(ctx, 5, 5, Float))
        .check("matvec on [1, 1], and with empty dimensions", |ctx| {
            [(1, 1), (0, 3)].into_iter().try_for_each(|(n, k)| matvec_matches(ctx, n, k, Float))?;
            matvec_matches(ctx, 3, 0, Double)
        })
        .check("matmul and matvec are written with einsum", |_ctx| {
            assert_written_with(EXERCISE_SOURCE, "einsum", &["matmul", "mm", "mv", "bmm"], WITH_EINSUM)
        })
        // `tensorlings profile`: square n x n matrices against matmul.
        .profile("matmul", profile::sizes("n", [64, 256, 1024]), |n, device| {
            let (a, b) = (randn(&[n, n], Kind::Float, device), randn(&[n, n], Kind::Float, device));
            profile_case!(matmul(a, b)).builtin("a.matmul(b)", |x| x[0].matmul(&x[1]))
        })
        .run()
}
