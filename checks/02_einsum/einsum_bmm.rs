//! Checks of 02_einsum/einsum_bmm: `bmm` against the reference and libtorch's `bmm`, and
//! `shared_weights` against the reference and `matmul`, on a batch of several (where a batch
//! letter that differs between the operands sums over the batch instead of pairing it up), a
//! batch of 1 (where that mistake goes unseen), square matrices (where a transposed operand runs
//! without an error), empty dimensions and float64. The last check reads the exercise's code: an
//! answer that calls `bmm` or `matmul` gives the right numbers and teaches nothing about einsum.

use tch::{Device, Kind};
use tensorlings_support::random::randn;
use tensorlings_support::source::{assert_calls, assert_no_method_calls};
use tensorlings_support::{CheckResult, Checks, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("02_einsum/einsum_bmm.rs");

/// What to write instead of a matrix-product method, for the messages.
const WITH_EINSUM: &str = "this section is about einsum: write bmm as \
     Tensor::einsum(\"bij,bjk->bik\", &[a, b], None::<i64>) and shared_weights as \
     Tensor::einsum(\"bnd,de->bne\", &[x, w], None::<i64>)";

/// `a` of shape `[batch, n, m]` times `b` of shape `[batch, m, p]`: the reference first on
/// copies, then the exercise, the inputs as they were, then the result against the reference and
/// against libtorch's `bmm`.
fn bmm_matches(device: Device, [batch, n, m, p]: [i64; 4], kind: Kind) -> CheckResult {
    let a = randn(&[batch, n, m], kind, device);
    let b = randn(&[batch, m, p], kind, device);
    let (a_before, b_before) = (a.copy(), b.copy());
    let expected = solution::bmm(&a.copy(), &b.copy());
    within(format!("for a of shape [{batch}, {n}, {m}] and b of shape [{batch}, {m}, {p}]"), || {
        let got = exercise::bmm(&a, &b);
        let tol = Tolerance::for_kind(kind);
        assert_unchanged("a", &a, &a_before)
            .and_then(|()| assert_unchanged("b", &b, &b_before))
            .and_then(|()| assert_close("bmm(a, b)", &got, &expected, tol))
            .and_then(|()| assert_close("bmm(a, b), compared with a.bmm(b),", &got, &a.bmm(&b), tol))
    })
}

/// `x` of shape `[batch, n, d]` times `w` of shape `[d, e]`, in the same order of steps, against
/// the reference and `x.matmul(w)`.
fn shared_matches(device: Device, [batch, n, d, e]: [i64; 4], kind: Kind) -> CheckResult {
    let x = randn(&[batch, n, d], kind, device);
    let w = randn(&[d, e], kind, device);
    let (x_before, w_before) = (x.copy(), w.copy());
    let expected = solution::shared_weights(&x.copy(), &w.copy());
    within(format!("for x of shape [{batch}, {n}, {d}] and w of shape [{d}, {e}]"), || {
        let got = exercise::shared_weights(&x, &w);
        let tol = Tolerance::for_kind(kind);
        assert_unchanged("x", &x, &x_before)
            .and_then(|()| assert_unchanged("w", &w, &w_before))
            .and_then(|()| assert_close("shared_weights(x, w)", &got, &expected, tol))
            .and_then(|()| {
                assert_close("shared_weights(x, w), compared with x.matmul(w),", &got, &x.matmul(&w), tol)
            })
    })
}

/// The exercise's code must use einsum, and must not call a matrix-product method instead
/// (`a.bmm(b)`, `x.matmul(w)`): checked on the code only, comments and strings left out.
fn written_with_einsum() -> CheckResult {
    assert_calls(EXERCISE_SOURCE, "einsum", WITH_EINSUM)?;
    assert_no_method_calls(EXERCISE_SOURCE, &["matmul", "mm", "mv", "bmm"], WITH_EINSUM)
}

fn main() {
    Checks::new("einsum_bmm")
        .check("bmm on a batch of 3: [3, 2, 4] and [3, 4, 5]", |ctx| {
            bmm_matches(ctx.device(), [3, 2, 4, 5], Kind::Float)
        })
        .check("bmm on a batch of 1: [1, 3, 4] and [1, 4, 2]", |ctx| {
            bmm_matches(ctx.device(), [1, 3, 4, 2], Kind::Float)
        })
        .check("bmm on square matrices [4, 3, 3], where a transposed b runs too", |ctx| {
            bmm_matches(ctx.device(), [4, 3, 3, 3], Kind::Float)
        })
        .check("bmm with empty dimensions: an empty batch, and nothing to sum", |ctx| {
            bmm_matches(ctx.device(), [0, 2, 3, 4], Kind::Float)?;
            bmm_matches(ctx.device(), [2, 3, 0, 4], Kind::Float)
        })
        .check("bmm in float64 on [5, 1, 6] and [5, 6, 1]", |ctx| {
            bmm_matches(ctx.device(), [5, 1, 6, 1], Kind::Double)
        })
        .check("shared_weights on [3, 4, 5] and [5, 2]", |ctx| {
            shared_matches(ctx.device(), [3, 4, 5, 2], Kind::Float)
        })
        .check("shared_weights with a square w [4, 4], where a transposed w runs too", |ctx| {
            shared_matches(ctx.device(), [2, 3, 4, 4], Kind::Float)
        })
        .check("shared_weights on a batch of 1 with one token, and in float64", |ctx| {
            shared_matches(ctx.device(), [1, 1, 3, 6], Kind::Float)?;
            shared_matches(ctx.device(), [6, 5, 2, 3], Kind::Double)
        })
        .check("bmm and shared_weights are written with einsum", |_ctx| written_with_einsum())
        .run()
}
