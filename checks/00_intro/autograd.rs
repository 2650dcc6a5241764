//! Checks of 00_intro/autograd: values and gradients against the reference and against the
//! derivative worked out by hand, that nothing requires grad on the way out, that the caller's
//! tensors are untouched (values, requires_grad and grad), and that a second call does not
//! accumulate gradients. The reference always runs first, on copies of its own, so an exercise
//! that changes its inputs cannot change what it is compared with.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("00_intro/autograd.rs");

/// The tch trap of this exercise (`set_requires_grad` on the caller's tensor, or on a
/// shallow_clone of it), with its fix. Any other change is the protocol's to find.
fn caller_is_untouched(name: &str, t: &Tensor) -> CheckResult {
    check_that!(
        !t.requires_grad(),
        "the caller's {name} now requires grad: set_requires_grad changed it (a shallow_clone \
         shares it too); use {name}.detach().set_requires_grad(true)"
    );
    check_that!(
        !t.grad().defined(),
        "the caller's {name} now has a gradient: make a leaf of your own with {name}.detach()"
    );
    Ok(())
}

fn value_and_grad_matches(x: &Tensor, description: String) -> CheckResult {
    call!(value_and_grad(x))
        .describe(description)
        .outputs(&["f(x)", "df/dx"])
        .diagnose(|(value, grad), _| {
            caller_is_untouched("x", x)?;
            check_that!(!value.requires_grad(), "f(x) still requires grad: return it detached (y.detach())");
            check_that!(!grad.requires_grad(), "df/dx requires grad: it should be a plain tensor");
            // d/dx sum(x sin x) = sin x + x cos x: checked directly, not only against the reference.
            assert_close("df/dx", grad, &(x.sin() + x * x.cos()), Tolerance::for_kind(x.kind()))
        })
        .check()
}

fn regression(device: Device, n: i64, d: i64) -> (Tensor, Tensor, Tensor) {
    let x = randn(&[n, d], Kind::Double, device);
    let w = randn(&[d], Kind::Double, device);
    let y = randn(&[n], Kind::Double, device);
    (w, x, y)
}

/// One sgd_step against the reference; `w`, `x` and `y` must be as they were. Returns the new w.
fn sgd_step_matches(w: &Tensor, x: &Tensor, y: &Tensor, lr: f64) -> Result<Tensor, Failure> {
    let [n, d] = x.size()[..] else { unreachable!("x is a matrix") };
    call!(sgd_step(w, x, y; lr))
        .outputs(&["the new w"])
        .describe(format!("for x of shape [{n}, {d}] and lr {lr}"))
        .diagnose(|got, _| {
            caller_is_untouched("w", w)?;
            check_that!(
                !got.requires_grad(),
                "the new w requires grad: compute the update inside tch::no_grad(|| ...) or detach it"
            );
            Ok(())
        })
        .run()
}

fn main() {
    Checks::new()
        .check("value_and_grad on shapes [5], [2, 3] and [1]", |ctx| {
            for shape in [&[5i64][..], &[2, 3], &[1]] {
                let x = randn(shape, Kind::Double, ctx.device());
                value_and_grad_matches(&x, format!("for x of shape {shape:?}"))?;
            }
            Ok(())
        })
        .check("value_and_grad in float32", |ctx| {
            let x = randn(&[4, 4], Kind::Float, ctx.device());
            value_and_grad_matches(&x, "for a float32 x of shape [4, 4]".into())
        })
        .check("value_and_grad does not accumulate across calls", |ctx| {
            let x = randn(&[6], Kind::Double, ctx.device());
            let (_, first) = exercise::value_and_grad(&x);
            caller_is_untouched("x", &x)?;
            let (_, second) = exercise::value_and_grad(&x);
            within("gradients accumulated across calls", || {
                assert_close("df/dx of a second call", &second, &first, Tolerance::for_kind(Kind::Double))
            })
        })
        .check("sgd_step matches the reference and leaves w, x and y alone", |ctx| {
            for (n, d, lr) in [(8, 3, 0.1), (1, 1, 0.5), (16, 5, 1e-3)] {
                let (w, x, y) = regression(ctx.device(), n, d);
                let _new_w = sgd_step_matches(&w, &x, &y, lr)?;
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
