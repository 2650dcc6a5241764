//! Checks of 00_intro/autograd. The reference always runs first, on copies of its own, so an
//! exercise that changes its inputs cannot change what it is compared with.
//!
//! Regimes of the contract, and the check that visits each:
//! - `value_and_grad`: shapes [5], [2, 3] and [1], float64 and float32; the value and the
//!   gradient against the reference and the gradient against the derivative worked out by hand
//!   (sin x + x cos x); neither result requiring grad; the caller's x untouched (values,
//!   requires_grad, grad); a second call giving the same gradient (no accumulation); and the
//!   stated rule, "by autograd, not by hand": its code runs a backward pass.
//! - `sgd_step`: [8, 3] and [16, 5] (where the mean and the sum differ), one sample [1, 1], and
//!   learning rates 0.1, 0.5 and 1e-3; the new w not requiring grad; w, x and y untouched; no
//!   accumulation across calls.

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

/// Random w, x and y of least squares with n samples of d features.
fn regression(device: Device, n: i64, d: i64) -> [Tensor; 3] {
    [vec![d], vec![n, d], vec![n]].map(|shape| randn(&shape, Kind::Double, device))
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
        .check("value_and_grad computes the gradient by autograd, not by hand", |_ctx| {
            let code = source::function(EXERCISE_SOURCE, "value_and_grad");
            let backward = ["backward", "run_backward", "f_backward", "f_run_backward"];
            check_that!(
                backward.iter().any(|name| source::calls(&code, name)),
                "value_and_grad runs no backward pass: the exercise is to let autograd compute df/dx \
                 (y.backward(), then x.grad()), not to write the derivative by hand"
            );
            Ok(())
        })
        .check("sgd_step matches the reference and leaves w, x and y alone", |ctx| {
            for (n, d, lr) in [(8, 3, 0.1), (1, 1, 0.5), (16, 5, 1e-3)] {
                let [w, x, y] = regression(ctx.device(), n, d);
                let _new_w = sgd_step_matches(&w, &x, &y, lr)?;
            }
            Ok(())
        })
        .check("sgd_step does not accumulate across calls", |ctx| {
            let [w, x, y] = regression(ctx.device(), 6, 2);
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
