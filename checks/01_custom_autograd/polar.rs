//! Checks of 01_custom_autograd/polar.
//!
//! Regimes of the contract, and the check that visits each:
//! - forward: shapes [6], [3, 4] and [1]; both outputs, in their order (x, then y);
//! - both gradients under random incoming gradients for both outputs; for each output alone
//!   (the other's incoming gradient is then zeros); with only `theta` differentiable;
//! - a radius per row broadcast against a matrix of angles ([3, 1] and [3, 4]);
//! - radii of exactly 0 (points at the origin), where a backward that divides by r (x / r for
//!   cos(theta)) gives NaN, and negative radii, which the formulas allow;
//! - gradcheck on both inputs at once; inputs left alone; CUDA (GPU only).
//!
//! The built-in operations are the reference for the gradients: autograd differentiates
//! `r * theta.cos()` itself. When a gradient is wrong, the check tries the typical mistakes (a
//! path through one output forgotten, the gradients swapped, a division by r) to say which one
//! was made.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("01_custom_autograd/polar.rs");

/// The exercise's function on `(r, theta)`, checked to return two outputs.
fn exercise_polar(r: &Tensor, theta: &Tensor) -> Result<(Tensor, Tensor), Failure> {
    let outputs = exercise::PolarToCartesian::apply(&[r, theta])?;
    check_that!(outputs.len() == 2, "forward returned {} outputs; return two, vec![x, y]", outputs.len());
    Ok((outputs[0].shallow_clone(), outputs[1].shallow_clone()))
}

/// Random radii and angles of these shapes, on `device`.
fn polar_inputs(r_shape: &[i64], theta_shape: &[i64], kind: Kind, device: Device) -> (Tensor, Tensor) {
    (uniform(r_shape, 0.5, 2.0, kind, device), uniform(theta_shape, -3.0, 3.0, kind, device))
}

fn forward_matches(r: &Tensor, theta: &Tensor, description: &str) -> CheckResult {
    call(
        "polar_to_cartesian(r, theta)",
        &[("r", r), ("theta", theta)],
        |x| solution::polar_to_cartesian(&x[0], &x[1]),
        |x| exercise_polar(&x[0], &x[1]).or_fail(),
    )
    .describe(description)
    .outputs(&["x", "y"])
    .check()
}

/// Which inputs require grad, and which outputs the loss uses.
#[derive(Clone, Copy)]
struct Case {
    r_differentiable: bool,
    uses_x: bool,
    uses_y: bool,
}

const BOTH: Case = Case { r_differentiable: true, uses_x: true, uses_y: true };

/// `[dL/dr, dL/dtheta]` for `L = sum(x * weight_x) + sum(y * weight_y)` (each term only if
/// `case` uses that output), through the exercise's function or through built-in operations;
/// only `[dL/dtheta]` when r does not require grad.
fn gradients(
    r: &Tensor,
    theta: &Tensor,
    weights: (&Tensor, &Tensor),
    case: Case,
    builtin: bool,
) -> Result<Vec<Tensor>, Failure> {
    let r = r.detach().copy().set_requires_grad(case.r_differentiable);
    let theta = theta.detach().copy().set_requires_grad(true);
    let (x, y) = if builtin { (&r * theta.cos(), &r * theta.sin()) } else { exercise_polar(&r, &theta)? };
    let mut loss = Tensor::zeros([], (r.kind(), r.device()));
    if case.uses_x {
        loss += (x * weights.0).sum(r.kind());
    }
    if case.uses_y {
        loss += (y * weights.1).sum(r.kind());
    }
    let leaves: Vec<&Tensor> = if case.r_differentiable { vec![&r, &theta] } else { vec![&theta] };
    Ok(Tensor::f_run_backward(&[loss], &leaves, false, false)?)
}

/// Both gradients against autograd's through the built-in operations.
fn gradients_match(r: &Tensor, theta: &Tensor, case: Case, description: &str) -> CheckResult {
    let size = r.size().iter().zip(theta.size()).map(|(a, b)| (*a).max(b)).collect::<Vec<_>>();
    let weights = (randn(&size, r.kind(), r.device()), randn(&size, r.kind(), r.device()));
    let (w, tol) = ((&weights.0, &weights.1), Tolerance::for_kind(r.kind()));
    let names: &[&str] = if case.r_differentiable { &["dL/dr", "dL/dtheta"] } else { &["dL/dtheta"] };
    call(
        "the gradients",
        &[("r", r), ("theta", theta)],
        |x| gradients(&x[0], &x[1], w, case, true).or_fail(),
        |x| gradients(&x[0], &x[1], w, case, false).or_fail(),
    )
    .describe(description)
    .outputs(names)
    .diagnose(|got, expected| {
        let at_origin = r.eq(0.0).any().int64_value(&[]) != 0;
        for (name, (g, e)) in names.iter().zip(got.iter().zip(expected)) {
            let nan =
                g.size() == e.size() && g.isnan().logical_and(&e.isfinite()).any().int64_value(&[]) != 0;
            check_that!(
                !(nan && at_origin),
                "your {name} is NaN where the reference is finite, for r with zeros (points at the \
                 origin): a backward that divides by r (x / r for cos(theta)) fails there; compute \
                 the gradients from the saved r and theta, without dividing"
            );
        }
        if !case.r_differentiable || got.len() != 2 {
            return Ok(());
        }
        let close = |a: &Tensor, b: &Tensor| a.size() == b.size() && assert_close("", a, b, tol).is_ok();
        let (got_r, got_theta, expected_r, expected_theta) = (&got[0], &got[1], &expected[0], &expected[1]);
        check_that!(
            !(close(got_r, expected_theta) && close(got_theta, expected_r)),
            "your gradients are in the wrong order: backward returns one per input, in the order of \
             the inputs, vec![Some(dL/dr), Some(dL/dtheta)]"
        );
        if !close(got_r, expected_r) && case.uses_x && case.uses_y {
            let through_x_only = (w.0 * theta.cos()).sum_to_size(r.size());
            let through_y_only = (w.1 * theta.sin()).sum_to_size(r.size());
            for (path, missing, partial) in [("x", "y", through_x_only), ("y", "x", through_y_only)] {
                check_that!(
                    !close(got_r, &partial),
                    "your dL/dr has only the path through {path}: r reaches the loss through {missing} \
                     too, so add dL/d{missing} * d{missing}/dr"
                );
            }
        }
        Ok(())
    })
    .check()
}

fn main() {
    Checks::new()
        .check("forward gives x = r cos(theta) and y = r sin(theta)", |ctx| {
            for shape in [&[6i64][..], &[3, 4], &[1]] {
                let (r, theta) = polar_inputs(shape, shape, Kind::Float, ctx.device());
                forward_matches(&r, &theta, &format!("for r and theta of shape {shape:?}"))?;
            }
            Ok(())
        })
        .check("both gradients, with the loss using both outputs", |ctx| {
            let (r, theta) = polar_inputs(&[4, 5], &[4, 5], Kind::Double, ctx.device());
            gradients_match(&r, &theta, BOTH, "for r and theta of shape [4, 5]")
        })
        .check("both gradients, with the loss using only x, then only y", |ctx| {
            let (r, theta) = polar_inputs(&[7], &[7], Kind::Double, ctx.device());
            gradients_match(
                &r,
                &theta,
                Case { uses_y: false, ..BOTH },
                "for a loss of x alone (dL/dy is zeros)",
            )?;
            gradients_match(
                &r,
                &theta,
                Case { uses_x: false, ..BOTH },
                "for a loss of y alone (dL/dx is zeros)",
            )
        })
        .check("dL/dtheta when r is a constant", |ctx| {
            let (r, theta) = polar_inputs(&[5], &[5], Kind::Double, ctx.device());
            gradients_match(
                &r,
                &theta,
                Case { r_differentiable: false, ..BOTH },
                "for an r that does not require grad",
            )
        })
        .check("a radius per row, broadcast against angles [3, 4]", |ctx| {
            let (r, theta) = polar_inputs(&[3, 1], &[3, 4], Kind::Double, ctx.device());
            forward_matches(&r, &theta, "for r of shape [3, 1] and theta [3, 4]")?;
            gradients_match(&r, &theta, BOTH, "for r of shape [3, 1] and theta [3, 4]")
        })
        .check("both gradients at the origin (r = 0) and for negative radii", |ctx| {
            let r = Tensor::from_slice(&[0.0f64, 1.5, 0.0, -0.7, 2.0, -0.0]).to_device(ctx.device());
            let theta = uniform(&[6], -3.0, 3.0, Kind::Double, ctx.device());
            forward_matches(&r, &theta, "for r = [0, 1.5, 0, -0.7, 2, -0]")?;
            gradients_match(&r, &theta, BOTH, "for r = [0, 1.5, 0, -0.7, 2, -0]")
        })
        .check("gradcheck on r and theta", |ctx| {
            let (r, theta) = polar_inputs(&[2, 3], &[2, 3], Kind::Double, ctx.device());
            let (a, b) =
                (randn(&[2, 3], Kind::Double, ctx.device()), randn(&[2, 3], Kind::Double, ctx.device()));
            gradcheck(
                |inputs| {
                    let (x, y) = exercise::polar_to_cartesian(&inputs[0], &inputs[1]);
                    x * &a + y * &b
                },
                &[r, theta],
                GradcheckOptions::default(),
            )
        })
        .check("forward and both gradients on CUDA", |_ctx| {
            let cuda = cuda_or_skip()?;
            let (r, theta) = polar_inputs(&[16, 8], &[16, 8], Kind::Float, cuda);
            forward_matches(&r, &theta, "on CUDA")?;
            gradients_match(&r, &theta, BOTH, "on CUDA")
        })
        .run()
}
