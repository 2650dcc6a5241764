//! Checks of 02_einsum/outer_products: `batch_outer` and `all_pairs_outer` against the reference
//! and against the same products written with broadcasting.
//!
//! Regimes of the contract, and the check that visits each:
//! - with nothing summed, a wrong order of output letters often keeps the shape: `batch_outer`
//!   is tried with n == m, and `all_pairs_outer` with n == d;
//! - a transposed outer product equals the right one on the diagonal pairs (i == j) and when
//!   d == 1, so `all_pairs_outer` is first checked on the pair of two different rows, [0, 1],
//!   with d > 1, and its failure says what that entry must be;
//! - size-1 and empty dimensions (one row, one feature, no rows, an empty batch);
//! - float64;
//! - the stated rule, einsum (the last check reads the exercise's code).

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("02_einsum/outer_products.rs");

/// `batch_outer(x, y)` for `x` of shape `[batch, n]` and `y` of shape `[batch, m]`, against the
/// reference and broadcasting.
fn batch_outer_matches(ctx: &Ctx, batch: i64, n: i64, m: i64, kind: Kind) -> CheckResult {
    let (x, y) = (randn(&[batch, n], kind, ctx.device()), randn(&[batch, m], kind, ctx.device()));
    call!(batch_outer(x, y))
        .builtin("x[:, :, None] * y[:, None, :]", |x| x[0].unsqueeze(2) * x[1].unsqueeze(1))
        .check()
}

/// `all_pairs_outer(x)` for `x` of shape `[n, d]`, likewise; when the shape is right and there
/// are two rows, the pair [0, 1] is checked on its own first, against `outer(x[0], x[1])`, for a
/// message that says what that entry must be.
fn all_pairs_matches(ctx: &Ctx, n: i64, d: i64, kind: Kind) -> CheckResult {
    let x = randn(&[n, d], kind, ctx.device());
    call!(all_pairs_outer(x))
        .diagnose(|got, expected| {
            if n < 2 || got.size() != expected.size() {
                return Ok(());
            }
            let pair = x.get(0).outer(&x.get(1));
            assert_close("all_pairs_outer(x)[0, 1]", &got.get(0).get(1), &pair, Tolerance::for_kind(kind))
                .map_err(|f| {
                    f.context(
                        "result[0, 1] must be outer(x[0], x[1]), the [d, d] matrix whose [a, c] entry is \
                 x[0][a] * x[1][c] (x[0] down the rows, x[1] along the columns)",
                    )
                })
        })
        .builtin("x[:, None, :, None] * x[None, :, None, :]", |x| {
            x[0].unsqueeze(1).unsqueeze(3) * x[0].unsqueeze(0).unsqueeze(2)
        })
        .check()
}

fn main() {
    use Kind::{Double, Float};
    Checks::new()
        .check("batch_outer on [3, 4] and [3, 2]", |ctx| batch_outer_matches(ctx, 3, 4, 2, Float))
        .check("batch_outer on [2, 3] and [2, 3], where swapped output letters keep the shape", |ctx| {
            batch_outer_matches(ctx, 2, 3, 3, Float)
        })
        .check("batch_outer on [1, 1] and [1, 5], and with empty dimensions", |ctx| {
            [[1, 1, 5], [0, 3, 2], [2, 0, 3]]
                .into_iter()
                .try_for_each(|[b, n, m]| batch_outer_matches(ctx, b, n, m, Float))
        })
        .check("batch_outer in float64 on [4, 2] and [4, 5]", |ctx| batch_outer_matches(ctx, 4, 2, 5, Double))
        .check("all_pairs_outer on [4, 3]", |ctx| all_pairs_matches(ctx, 4, 3, Float))
        .check("all_pairs_outer on [3, 3], as many rows as features", |ctx| {
            all_pairs_matches(ctx, 3, 3, Float)
        })
        .check("all_pairs_outer on one row [1, 3], one feature [5, 1], and no rows [0, 2]", |ctx| {
            [(1, 3), (5, 1), (0, 2)].into_iter().try_for_each(|(n, d)| all_pairs_matches(ctx, n, d, Float))
        })
        .check("all_pairs_outer in float64 on [2, 4]", |ctx| all_pairs_matches(ctx, 2, 4, Double))
        .check("batch_outer and all_pairs_outer are written with einsum", |_ctx| {
            assert_calls(
                EXERCISE_SOURCE,
                "einsum",
                "this section is about einsum: write batch_outer as \
                 Tensor::einsum(\"bi,bj->bij\", &[x, y], None::<i64>) and all_pairs_outer as \
                 Tensor::einsum(\"id,je->ijde\", &[x, x], None::<i64>)",
            )
        })
        .run()
}
