//! Checks of 00_intro/autograd: values and gradients against the reference and against the
//! derivative worked out by hand, that nothing requires grad on the way out, that the caller's
//! tensors are untouched, and that a second call does not accumulate gradients.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::assert_equal;
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Tolerance, assert_close, check_that};

tensorlings_support::exercise_modules!("00_intro/autograd.rs");

fn value_and_grad_matches(x: &Tensor) -> CheckResult {
    let (value, grad) = exercise::value_and_grad(x);
    let (expected_value, expected_grad) = solution::value_and_grad(x);
    let tol = Tolerance::for_kind(x.kind());
    assert_close("f(x)", &value, &expected_value, tol)?;
    // d/dx sum(x sin x) = sin x + x cos x: checked directly, not only against the reference.
    let by_hand = x.sin() + x * x.cos();
    assert_close("df/dx", &grad, &by_hand, tol)?;
    assert_close("df/dx", &grad, &expected_grad, tol)?;
    check_that!(!value.requires_grad(), "f(x) still requires grad: return it detached (y.detach())");
    check_that!(!grad.requires_grad(), "df/dx requires grad: it should be a plain tensor");
    Ok(())
}

fn caller_is_untouched(x: &Tensor) -> CheckResult {
    check_that!(
        !x.requires_grad(),
        "the caller's x now requires grad: set_requires_grad changed it; use x.detach().set_requires_grad(true)"
    );
    check_that!(
        !x.grad().defined(),
        "the caller's x now has a gradient: make a leaf of your own with x.detach()"
    );
    Ok(())
}

fn regression(device: Device, n: i64, d: i64) -> (Tensor, Tensor, Tensor) {
    let x = randn(&[n, d], Kind::Double, device);
    let w = randn(&[d], Kind::Double, device);
    let y = randn(&[n], Kind::Double, device);
    (w, x, y)
}

fn main() {
    Checks::new("autograd")
        .check("value_and_grad on shapes [5], [2, 3] and [1]", |ctx| {
            for shape in [&[5i64][..], &[2, 3], &[1]] {
                let x = randn(shape, Kind::Double, ctx.device());
                value_and_grad_matches(&x).map_err(|f| f.context(format!("for x of shape {shape:?}")))?;
            }
            Ok(())
        })
        .check("value_and_grad in float32", |ctx| {
            let x = randn(&[4, 4], Kind::Float, ctx.device());
            value_and_grad_matches(&x).map_err(|f| f.context("for a float32 x of shape [4, 4]"))
        })
        .check("value_and_grad leaves x alone and does not accumulate", |ctx| {
            let x = randn(&[6], Kind::Double, ctx.device());
            let (_, first) = exercise::value_and_grad(&x);
            caller_is_untouched(&x)?;
            let (_, second) = exercise::value_and_grad(&x);
            assert_close("df/dx of a second call", &second, &first, Tolerance::for_kind(Kind::Double))
                .map_err(|f| f.context("gradients accumulated across calls"))
        })
        .check("sgd_step matches the reference", |ctx| {
            for (n, d, lr) in [(8, 3, 0.1), (1, 1, 0.5), (16, 5, 1e-3)] {
                let (w, x, y) = regression(ctx.device(), n, d);
                let got = exercise::sgd_step(&w, &x, &y, lr);
                let expected = solution::sgd_step(&w, &x, &y, lr);
                assert_close("the new w", &got, &expected, Tolerance::for_kind(Kind::Double))
                    .map_err(|f| f.context(format!("for x of shape [{n}, {d}] and lr {lr}")))?;
            }
            Ok(())
        })
        .check("sgd_step returns a plain tensor and leaves w alone", |ctx| {
            let (w, x, y) = regression(ctx.device(), 6, 2);
            let before = w.copy();
            let first = exercise::sgd_step(&w, &x, &y, 0.1);
            check_that!(
                !first.requires_grad(),
                "the new w requires grad: compute the update inside tch::no_grad(|| ...) or detach it"
            );
            caller_is_untouched(&w)?;
            assert_equal("w after sgd_step", &w, &before)
                .map_err(|f| f.context("sgd_step changed its input w"))?;
            let second = exercise::sgd_step(&w, &x, &y, 0.1);
            assert_close(
                "a second sgd_step from the same w",
                &second,
                &first,
                Tolerance::for_kind(Kind::Double),
            )
            .map_err(|f| f.context("gradients accumulated across calls"))
        })
        .run()
}
