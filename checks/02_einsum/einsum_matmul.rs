//! Checks of 02_einsum/einsum_matmul: `matmul` and `matvec` against the reference and against
//! libtorch's own `matmul`, on non-square shapes (where a wrong equation is a shape error or a
//! wrong shape), on square ones (where "ij,kj->ik" and "ij,jk->ki" run without an error and give
//! wrong numbers), on size-1 and empty dimensions (an empty summed dimension gives zeros), and
//! in float64. The last check reads the exercise's code: a `matmul` answer gives the right
//! numbers and teaches nothing about einsum.

use tch::{Device, Kind};
use tensorlings_support::random::randn;
use tensorlings_support::source::{assert_calls, assert_no_method_calls};
use tensorlings_support::{CheckResult, Checks, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("02_einsum/einsum_matmul.rs");

/// What to write instead of a matrix-product method, for the messages.
const WITH_EINSUM: &str = "this section is about einsum: write matmul as \
     Tensor::einsum(\"ij,jk->ik\", &[a, b], None::<i64>) and matvec as \
     Tensor::einsum(\"ij,j->i\", &[a, x], None::<i64>)";

/// `a` of shape `[n, m]` times `b` of shape `[m, p]`: the reference first on copies, then the
/// exercise; the inputs must be as they were; then the result is compared with the reference
/// and with libtorch's `matmul`.
fn matmul_matches(device: Device, n: i64, m: i64, p: i64, kind: Kind) -> CheckResult {
    let a = randn(&[n, m], kind, device);
    let b = randn(&[m, p], kind, device);
    let (a_before, b_before) = (a.copy(), b.copy());
    let expected = solution::matmul(&a.copy(), &b.copy());
    within(format!("for a of shape [{n}, {m}] and b of shape [{m}, {p}]"), || {
        let got = exercise::matmul(&a, &b);
        let tol = Tolerance::for_kind(kind);
        assert_unchanged("a", &a, &a_before)
            .and_then(|()| assert_unchanged("b", &b, &b_before))
            .and_then(|()| assert_close("matmul(a, b)", &got, &expected, tol))
            .and_then(|()| assert_close("matmul(a, b), compared with a.matmul(b),", &got, &a.matmul(&b), tol))
    })
}

/// `a` of shape `[n, m]` times `x` of shape `[m]`, in the same order of steps.
fn matvec_matches(device: Device, n: i64, m: i64, kind: Kind) -> CheckResult {
    let a = randn(&[n, m], kind, device);
    let x = randn(&[m], kind, device);
    let (a_before, x_before) = (a.copy(), x.copy());
    let expected = solution::matvec(&a.copy(), &x.copy());
    within(format!("for a of shape [{n}, {m}] and x of shape [{m}]"), || {
        let got = exercise::matvec(&a, &x);
        let tol = Tolerance::for_kind(kind);
        assert_unchanged("a", &a, &a_before)
            .and_then(|()| assert_unchanged("x", &x, &x_before))
            .and_then(|()| assert_close("matvec(a, x)", &got, &expected, tol))
            .and_then(|()| assert_close("matvec(a, x), compared with a.matmul(x),", &got, &a.matmul(&x), tol))
    })
}

/// The exercise's code must use einsum, and must not call a matrix-product method instead
/// (`a.matmul(b)`, `Tensor::mm(a, b)`): checked on the code only, comments and strings left out.
fn written_with_einsum() -> CheckResult {
    assert_calls(EXERCISE_SOURCE, "einsum", WITH_EINSUM)?;
    assert_no_method_calls(EXERCISE_SOURCE, &["matmul", "mm", "mv", "bmm"], WITH_EINSUM)
}

fn main() {
    Checks::new("einsum_matmul")
        .check("matmul on [3, 4] and [4, 5]", |ctx| matmul_matches(ctx.device(), 3, 4, 5, Kind::Float))
        .check("matmul on square [4, 4] and [4, 4], where a transposed equation runs too", |ctx| {
            matmul_matches(ctx.device(), 4, 4, 4, Kind::Float)
        })
        .check("matmul on [1, 1] and [1, 1], and with empty dimensions", |ctx| {
            matmul_matches(ctx.device(), 1, 1, 1, Kind::Float)?;
            // No rows: an empty [0, 2] result.
            matmul_matches(ctx.device(), 0, 3, 2, Kind::Float)?;
            // Nothing to sum over: a [3, 2] matrix of zeros.
            matmul_matches(ctx.device(), 3, 0, 2, Kind::Float)
        })
        .check("matmul in float64 on [2, 6] and [6, 3]", |ctx| {
            matmul_matches(ctx.device(), 2, 6, 3, Kind::Double)
        })
        .check("matvec on [3, 4] and [4]", |ctx| matvec_matches(ctx.device(), 3, 4, Kind::Float))
        .check("matvec on a square [5, 5], where x @ a runs too", |ctx| {
            matvec_matches(ctx.device(), 5, 5, Kind::Float)
        })
        .check("matvec on [1, 1], and with empty dimensions", |ctx| {
            matvec_matches(ctx.device(), 1, 1, Kind::Float)?;
            matvec_matches(ctx.device(), 0, 3, Kind::Float)?;
            matvec_matches(ctx.device(), 3, 0, Kind::Double)
        })
        .check("matmul and matvec are written with einsum", |_ctx| written_with_einsum())
        .run()
}
