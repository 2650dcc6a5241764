//! Checks of 01_custom_autograd/custom_relu.
//!
//! Regimes of the contract, and the check that visits each:
//! - forward: shapes [7], [3, 4], an empty [0] and a scalar [], float32 and float64, against
//!   the reference and `relu`;
//! - backward under a random upstream gradient (with a plain `sum()` as the loss, a backward
//!   that forgets the chain rule would pass): against `relu`'s gradient;
//! - the kink: x exactly 0 and -0, where `relu`'s gradient is 0 and the popular `x >= 0` gives 1;
//! - gradcheck away from the kink;
//! - the input left alone;
//! - the stated rule that `custom_relu` is `CustomRelu` applied (a `custom_relu` that calls the
//!   built-in `relu` passes every number without a backward of its own);
//! - CUDA (GPU only).
//!
//! When a gradient is wrong, the check compares it with the typical mistakes (the local
//! derivative alone, the upstream gradient passed everywhere) to say which one was made.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("01_custom_autograd/custom_relu.rs");

/// The exercise's `CustomRelu` on `x`, its failure (a panic in forward, the wrong number of
/// outputs) turned into a message.
fn exercise_relu(x: &Tensor) -> Result<Tensor, Failure> {
    let mut outputs = exercise::CustomRelu::apply(&[x])?;
    check_that!(
        outputs.len() == 1,
        "forward returned {} outputs; return exactly one, vec![relu(x)]",
        outputs.len()
    );
    Ok(outputs.remove(0))
}

/// d loss / d x for `loss = sum(relu(x) * upstream)`, with `relu` the exercise's (Ok) or the
/// built-in; the backward's failure (a panic, a gradient of the wrong shape) as a message.
fn gradient(x: &Tensor, upstream: &Tensor, builtin: bool) -> Result<Tensor, Failure> {
    let leaf = x.detach().copy().set_requires_grad(true);
    let y = if builtin { leaf.relu() } else { exercise_relu(&leaf)? };
    check_that!(
        y.requires_grad(),
        "relu(x) does not require grad although x does: return the result of forward as it is"
    );
    let loss = (y * upstream).sum(upstream.kind());
    let grad = Tensor::f_run_backward(&[loss], &[&leaf], false, false)?.remove(0);
    check_that!(
        grad.defined(),
        "x requires grad, but your backward returned None for it: return vec![Some(gradient of x)]"
    );
    Ok(grad)
}

fn forward_matches(x: &Tensor, description: &str) -> CheckResult {
    call("relu(x)", &[("x", x)], |x| solution::custom_relu(&x[0]), |x| exercise_relu(&x[0]).or_fail())
        .describe(description)
        .builtin("x.relu()", |x| x[0].relu())
        .check()
}

/// The gradient under `upstream`, against relu's, naming the typical mistakes.
fn gradient_matches(x: &Tensor, upstream: &Tensor, description: &str) -> CheckResult {
    call(
        "the gradient of x",
        &[("x", x)],
        |x| gradient(&x[0], upstream, true).or_fail(),
        |x| gradient(&x[0], upstream, false).or_fail(),
    )
    .describe(description)
    .diagnose(|got, expected| {
        let close = |a: &Tensor, b: &Tensor| {
            a.size() == b.size() && assert_close("", a, b, Tolerance::for_kind(b.kind())).is_ok()
        };
        if close(got, expected) {
            return Ok(());
        }
        check_that!(
            !close(got, &x.gt(0.0).to_kind(x.kind())),
            "your backward returns relu's local derivative (1 where x > 0) and ignores \
             grad_outputs[0]: by the chain rule, multiply the incoming gradient by it"
        );
        check_that!(
            !close(got, upstream),
            "your backward passes the incoming gradient everywhere: relu's gradient is 0 where x < 0"
        );
        Ok(())
    })
    .check()
}

fn main() {
    Checks::new()
        .check("forward equals relu on shapes [7], [3, 4], [0] and [] (a scalar)", |ctx| {
            for shape in [&[7i64][..], &[3, 4], &[0], &[]] {
                let x = randn(shape, Kind::Float, ctx.device());
                forward_matches(&x, &format!("for x of shape {shape:?}"))?;
            }
            Ok(())
        })
        .check("forward in float64", |ctx| {
            forward_matches(&randn(&[4, 3], Kind::Double, ctx.device()), "for a float64 x of shape [4, 3]")
        })
        .check("the gradient equals relu's under a random upstream gradient", |ctx| {
            let x = randn(&[5, 6], Kind::Double, ctx.device());
            let upstream = randn(&[5, 6], Kind::Double, ctx.device());
            gradient_matches(&x, &upstream, "for x of shape [5, 6]")
        })
        .check("the gradient at exactly x = 0 is 0, like relu's", |ctx| {
            let x = Tensor::from_slice(&[-1.5f64, 0.0, 2.0, 0.0, -0.0]).to_device(ctx.device());
            let upstream = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0, 5.0]).to_device(ctx.device());
            let got = gradient(&x, &upstream, false)?;
            let at_zero = Vec::<f64>::try_from(
                got.to_device(Device::Cpu)
                    .index_select(0, &Tensor::from_slice(&[1i64, 3, 4]).to_device(ctx.device())),
            )
            .map_err(|e| Failure::new(format!("the gradient of x cannot be read: {e}")))?;
            check_that!(
                at_zero.iter().all(|&g| g == 0.0),
                "for x = [-1.5, 0, 2, 0, -0] and an upstream gradient [1, 2, 3, 4, 5], the gradient at the \
                 zeros is {at_zero:?}; torch.relu's is 0 there: let the gradient through where x > 0 \
                 (gt), not x >= 0 (ge)"
            );
            gradient_matches(&x, &upstream, "for x = [-1.5, 0, 2, 0, -0]")
        })
        .check("gradcheck passes away from the kink at 0", |ctx| {
            let x = randn(&[3, 4], Kind::Double, ctx.device());
            // Finite differences across the kink would be meaningless: keep |x| >= 0.1.
            let x = &x + x.sign() * 0.1;
            gradcheck(|xs| exercise::custom_relu(&xs[0]), &[x], GradcheckOptions::default())
        })
        .check("custom_relu applies CustomRelu", |_ctx| {
            check_that!(
                source::calls(&source::function(EXERCISE_SOURCE, "custom_relu"), "CustomRelu"),
                "custom_relu does not use CustomRelu: it must be CustomRelu::apply(&[x]) (its first \
                 output), so that your forward and backward are the ones that run"
            );
            Ok(())
        })
        .check("forward and backward on CUDA", |_ctx| {
            let cuda = cuda_or_skip()?;
            forward_matches(&randn(&[64, 32], Kind::Float, cuda), "for x on CUDA")?;
            let (x, upstream) = (randn(&[64, 32], Kind::Float, cuda), randn(&[64, 32], Kind::Float, cuda));
            gradient_matches(&x, &upstream, "for x on CUDA")
        })
        // `tensorlings profile`: a forward and a backward through the custom function, against
        // the built-in relu's, on n elements.
        .profile(
            "custom_relu forward and backward",
            profile::sizes("n", [1 << 10, 1 << 16, 1 << 20]),
            |n, device| {
                let x = randn(&[n], Kind::Float, device).set_requires_grad(true);
                let backward =
                    |y: Tensor, x: &Tensor| Tensor::run_backward(&[y.sum(Kind::Float)], &[x], false, false);
                ProfileCase::new(vec![x])
                    .exercise(move |x| backward(exercise::custom_relu(&x[0]), &x[0]))
                    .reference(move |x| backward(solution::custom_relu(&x[0]), &x[0]))
                    .builtin("torch.relu", move |x| backward(x[0].relu(), &x[0]))
            },
        )
        .run()
}
