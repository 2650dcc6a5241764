//! Checks of 00_intro/autograd: values and gradients against the reference and against the
//! derivative worked out by hand, that nothing requires grad on the way out, that the caller's
//! tensors are untouched (values, requires_grad and grad), and that a second call does not
//! accumulate gradients. The reference always runs first, on copies of its own, so an exercise
//! that changes its inputs cannot change what it is compared with.

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("00_intro/autograd.rs");

/// The tch trap of this exercise first (`set_requires_grad` on the caller's tensor, or on a
/// shallow_clone of it), with its fix; then any other change, values included.
fn caller_is_untouched(name: &str, t: &Tensor, before: &Tensor) -> CheckResult {
    check_that!(
        !t.requires_grad(),
        "the caller's {name} now requires grad: set_requires_grad changed it (a shallow_clone \
         shares it too); use {name}.detach().set_requires_grad(true)"
    );
    check_that!(
        !t.grad().defined(),
        "the caller's {name} now has a gradient: make a leaf of your own with {name}.detach()"
    );
    assert_unchanged(name, t, before)
}

fn value_and_grad_matches(x: &Tensor) -> CheckResult {
    let x_before = x.copy();
    let (expected_value, expected_grad) = solution::value_and_grad(&x.copy());
    // d/dx sum(x sin x) = sin x + x cos x: checked directly, not only against the reference.
    let by_hand = x.sin() + x * x.cos();
    let (value, grad) = exercise::value_and_grad(x);
    caller_is_untouched("x", x, &x_before)?;
    let tol = Tolerance::for_kind(x.kind());
    assert_close("f(x)", &value, &expected_value, tol)?;
    assert_close("df/dx", &grad, &by_hand, tol)?;
    assert_close("df/dx", &grad, &expected_grad, tol)?;
    check_that!(!value.requires_grad(), "f(x) still requires grad: return it detached (y.detach())");
    check_that!(!grad.requires_grad(), "df/dx requires grad: it should be a plain tensor");
    Ok(())
}

fn regression(device: Device, n: i64, d: i64) -> (Tensor, Tensor, Tensor) {
    let x = randn(&[n, d], Kind::Double, device);
    let w = randn(&[d], Kind::Double, device);
    let y = randn(&[n], Kind::Double, device);
    (w, x, y)
}

/// One sgd_step against the reference; `w`, `x` and `y` must be as they were. Returns the new w.
fn sgd_step_matches(w: &Tensor, x: &Tensor, y: &Tensor, lr: f64) -> Result<Tensor, Failure> {
    let (w_before, x_before, y_before) = (w.copy(), x.copy(), y.copy());
    let expected = solution::sgd_step(&w.copy(), &x.copy(), &y.copy(), lr);
    let got = exercise::sgd_step(w, x, y, lr);
    caller_is_untouched("w", w, &w_before)?;
    assert_unchanged("x", x, &x_before)?;
    assert_unchanged("y", y, &y_before)?;
    check_that!(
        !got.requires_grad(),
        "the new w requires grad: compute the update inside tch::no_grad(|| ...) or detach it"
    );
    assert_close("the new w", &got, &expected, Tolerance::for_kind(Kind::Double))?;
    Ok(got)
}

fn main() {
    Checks::new("autograd")
        .check("value_and_grad on shapes [5], [2, 3] and [1]", |ctx| {
            for shape in [&[5i64][..], &[2, 3], &[1]] {
                let x = randn(shape, Kind::Double, ctx.device());
                within(format!("for x of shape {shape:?}"), || value_and_grad_matches(&x))?;
            }
            Ok(())
        })
        .check("value_and_grad in float32", |ctx| {
            let x = randn(&[4, 4], Kind::Float, ctx.device());
            within("for a float32 x of shape [4, 4]", || value_and_grad_matches(&x))
        })
        .check("value_and_grad does not accumulate across calls", |ctx| {
            let x = randn(&[6], Kind::Double, ctx.device());
            let x_before = x.copy();
            let (_, first) = exercise::value_and_grad(&x);
            caller_is_untouched("x", &x, &x_before)?;
            let (_, second) = exercise::value_and_grad(&x);
            within("gradients accumulated across calls", || {
                assert_close("df/dx of a second call", &second, &first, Tolerance::for_kind(Kind::Double))
            })
        })
        .check("sgd_step matches the reference and leaves w, x and y alone", |ctx| {
            for (n, d, lr) in [(8, 3, 0.1), (1, 1, 0.5), (16, 5, 1e-3)] {
                let (w, x, y) = regression(ctx.device(), n, d);
                let _new_w = within(format!("for x of shape [{n}, {d}] and lr {lr}"), || {
                    sgd_step_matches(&w, &x, &y, lr)
                })?;
            }
            Ok(())
        })
        .check("sgd_step does not accumulate across calls", |ctx| {
            let (w, x, y) = regression(ctx.device(), 6, 2);
            let first = sgd_step_matches(&w, &x, &y, 0.1)?;
            let second = exercise::sgd_step(&w, &x, &y, 0.1);
            within("gradients accumulated across calls", || {
                assert_close(
                    "a second sgd_step from the same w",
                    &second,
                    &first,
                    Tolerance::for_kind(Kind::Double),
                )
            })
        })
        .run()
}
