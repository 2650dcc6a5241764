//! Checks of 01_custom_autograd/gradcheck: the learner's gradcheck is tested the way a test
//! suite is tested, on functions with known answers. The check defines custom functions whose
//! backward it wrote: right ones, which gradcheck must accept, and subtly wrong ones, which it
//! must reject:
//!
//! - a backward that ignores its incoming gradient (caught only by the full Jacobian, not by
//!   the gradient of `out.sum()`);
//! - a gradient 1% too large (caught by a tolerance that is relative as well as absolute);
//! - a gradient wrong only for the second input (caught by checking every input), whose error
//!   must name input 1;
//! - `A` where `A^T` belongs, with a square `A` so that the shapes still fit;
//! - a gradient wrong at one element only (caught by comparing every entry, not a mean).
//!
//! `numerical_jacobians` and `analytical_jacobians` are also compared with the reference's, so
//! a mistake shows up where it is made; the analytical Jacobian of a wrong backward must be that
//! backward's, wrong as it is. Inputs must come back exactly as they were.

use tch::{Device, Kind, Tensor};
use tensorlings_support::autograd::CustomFunction;
use tensorlings_support::random::randn;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("01_custom_autograd/gradcheck.rs");

const EPS: f64 = 1e-6;
const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-3;

/// A function for gradcheck, with a backward the check wrote, and the inputs to try it at.
struct Subject {
    name: &'static str,
    /// What is wrong with its backward; `None` when it is right.
    flaw: Option<&'static str>,
    function: CustomFunction,
    inputs: Vec<Tensor>,
}

impl Subject {
    fn call(&self, xs: &[Tensor]) -> Tensor {
        self.function.apply(xs).expect("the check's own custom function").remove(0)
    }

    /// The inputs' copies, to check afterwards that they are unchanged.
    fn copies(&self) -> Vec<Tensor> {
        self.inputs.iter().map(Tensor::copy).collect()
    }

    fn unchanged(&self, before: &[Tensor]) -> CheckResult {
        for (i, (x, x_before)) in self.inputs.iter().zip(before).enumerate() {
            assert_unchanged(&format!("inputs[{i}]"), x, x_before)?;
        }
        Ok(())
    }
}

/// softplus(x) = log(1 + e^x), whose derivative is sigmoid(x); `grad` turns the incoming
/// gradient and x into the gradient the backward returns.
fn softplus(
    name: &'static str,
    flaw: Option<&'static str>,
    grad: fn(&Tensor, &Tensor) -> Tensor,
    device: Device,
) -> Subject {
    let function = CustomFunction::new(
        name,
        |ctx, inputs| {
            ctx.save_for_backward(&inputs[..1]);
            vec![inputs[0].softplus()]
        },
        move |ctx, grads| vec![Some(grad(&grads[0], &ctx.saved()[0]))],
    );
    Subject { name, flaw, function, inputs: vec![randn(&[3, 4], Kind::Double, device)] }
}

/// a * sin(b), two inputs; `grad_b` gives the gradient for b from (g, a, b).
fn mul_sin(
    name: &'static str,
    flaw: Option<&'static str>,
    grad_b: fn(&Tensor, &Tensor, &Tensor) -> Tensor,
    device: Device,
) -> Subject {
    let function = CustomFunction::new(
        name,
        |ctx, inputs| {
            ctx.save_for_backward(inputs);
            vec![&inputs[0] * inputs[1].sin()]
        },
        move |ctx, grads| {
            let (g, a, b) = (&grads[0], &ctx.saved()[0], &ctx.saved()[1]);
            vec![Some(g * b.sin()), Some(grad_b(g, a, b))]
        },
    );
    let inputs = vec![randn(&[5], Kind::Double, device), randn(&[5], Kind::Double, device)];
    Subject { name, flaw, function, inputs }
}

/// The matrix-vector product A x; `grad_x` gives the gradient for x from (g, A).
fn matvec(
    name: &'static str,
    flaw: Option<&'static str>,
    grad_x: fn(&Tensor, &Tensor) -> Tensor,
    device: Device,
) -> Subject {
    let function = CustomFunction::new(
        name,
        |ctx, inputs| {
            ctx.save_for_backward(inputs);
            vec![inputs[0].mv(&inputs[1])]
        },
        move |ctx, grads| {
            let (g, a, x) = (&grads[0], &ctx.saved()[0], &ctx.saved()[1]);
            vec![Some(g.unsqueeze(1) * x.unsqueeze(0)), Some(grad_x(g, a))]
        },
    );
    // Square, so that A g has the shape of x too and only its values are wrong.
    let inputs = vec![randn(&[4, 4], Kind::Double, device), randn(&[4], Kind::Double, device)];
    Subject { name, flaw, function, inputs }
}

fn right_subjects(device: Device) -> Vec<Subject> {
    vec![
        softplus("softplus", None, |g, x| g * x.sigmoid(), device),
        mul_sin("a * sin(b)", None, |g, a, b| g * a * b.cos(), device),
        matvec("A x", None, |g, a| a.tr().mv(g), device),
    ]
}

fn wrong_subjects(device: Device) -> Vec<Subject> {
    vec![
        softplus(
            "softplus_ignoring_its_incoming_gradient",
            Some(
                "its backward returns sigmoid(x) whatever the incoming gradient, which is right only when the loss is a plain sum: compare the full Jacobian, one backward per output element, not the gradient of out.sum()",
            ),
            |_g, x| x.sigmoid(),
            device,
        ),
        softplus(
            "softplus_one_percent_off",
            Some("its gradient is 1% too large: compare each entry with atol + rtol * |numerical|"),
            |g, x| g * x.sigmoid() * 1.01,
            device,
        ),
        mul_sin(
            "a * sin(b) with a wrong gradient for b",
            Some(
                "its gradient for b, the second input, lacks the factor a: check every input, not only the first",
            ),
            |g, _a, b| g * b.cos(),
            device,
        ),
        matvec(
            "A x with A where A^T belongs",
            Some(
                "its gradient for x is A g instead of A^T g, which only a full comparison of every entry catches",
            ),
            |g, a| a.mv(g),
            device,
        ),
        softplus(
            "softplus_wrong_at_one_element",
            Some("its gradient is 0 at the last element: every entry must agree, not the mean or the sum"),
            |g, x| {
                let grad = g * x.sigmoid();
                let keep = Tensor::ones_like(&grad).reshape([-1]).index_fill(
                    0,
                    &Tensor::from_slice(&[grad.numel() as i64 - 1]).to_device(grad.device()),
                    0.0,
                );
                grad * keep.reshape(x.size())
            },
            device,
        ),
    ]
}

/// A function of built-in operations, with autograd's own backward: `tanh(x @ w)`.
fn builtin_inputs(device: Device) -> Vec<Tensor> {
    vec![randn(&[2, 3], Kind::Double, device), randn(&[3, 2], Kind::Double, device)]
}

fn builtin(xs: &[Tensor]) -> Tensor {
    xs[0].matmul(&xs[1]).tanh()
}

fn jacobians_match(what: &str, got: &[Tensor], expected: &[Tensor], tol: Tolerance) -> CheckResult {
    check_that!(
        got.len() == expected.len(),
        "{what}: returned {} matrices for {} inputs; return one per input",
        got.len(),
        expected.len()
    );
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        check_that!(
            g.size() == e.size(),
            "{what}: the Jacobian for input {i} has shape {:?}; it must be [output elements, input elements] = {:?}",
            g.size(),
            e.size()
        );
        assert_close(&format!("{what} for input {i}"), g, e, tol)?;
    }
    Ok(())
}

fn numerical_matches(subject: &Subject) -> CheckResult {
    let before = subject.copies();
    let f = |xs: &[Tensor]| subject.call(xs);
    let expected = solution::numerical_jacobians(&f, &subject.copies(), EPS);
    let got = exercise::numerical_jacobians(&f, &subject.inputs, EPS);
    subject.unchanged(&before)?;
    // Any sound finite-difference formula is within this of the reference's central one.
    jacobians_match("numerical_jacobians", &got, &expected, Tolerance::new(1e-5, 1e-4))
}

fn analytical_matches(subject: &Subject) -> CheckResult {
    let before = subject.copies();
    let f = |xs: &[Tensor]| subject.call(xs);
    let expected = solution::analytical_jacobians(&f, &subject.copies());
    let got = exercise::analytical_jacobians(&f, &subject.inputs);
    subject.unchanged(&before)?;
    jacobians_match("analytical_jacobians", &got, &expected, Tolerance::for_kind(Kind::Double))
}

fn main() {
    Checks::new("gradcheck")
        .check("numerical_jacobians of softplus, a * sin(b), A x and tanh(x @ w)", |ctx| {
            for subject in right_subjects(ctx.device()) {
                within(format!("for {}", subject.name), || numerical_matches(&subject))?;
            }
            let inputs = builtin_inputs(ctx.device());
            let expected = solution::numerical_jacobians(&builtin, &inputs, EPS);
            within("for tanh(x @ w)", || {
                let got = exercise::numerical_jacobians(&builtin, &inputs, EPS);
                jacobians_match("numerical_jacobians", &got, &expected, Tolerance::new(1e-5, 1e-4))
            })
        })
        .check("analytical_jacobians of the same, and of backwards with mistakes", |ctx| {
            for subject in right_subjects(ctx.device()).into_iter().chain(wrong_subjects(ctx.device())) {
                within(format!("for {}", subject.name), || analytical_matches(&subject))?;
            }
            Ok(())
        })
        .check("gradcheck accepts right backwards, custom and built-in", |ctx| {
            for subject in right_subjects(ctx.device()) {
                let before = subject.copies();
                let result =
                    exercise::gradcheck(&|xs: &[Tensor]| subject.call(xs), &subject.inputs, EPS, ATOL, RTOL);
                within(format!("for {}", subject.name), || subject.unchanged(&before))?;
                if let Err(error) = result {
                    return Err(Failure::new(format!(
                        "your gradcheck rejected {}, whose backward is right: {error}",
                        subject.name
                    )));
                }
            }
            let result = exercise::gradcheck(&builtin, &builtin_inputs(ctx.device()), EPS, ATOL, RTOL);
            check_that!(
                result.is_ok(),
                "your gradcheck rejected tanh(x @ w), autograd's own: {}",
                result.unwrap_err()
            );
            Ok(())
        })
        .check("gradcheck rejects five subtly wrong backwards", |ctx| {
            for subject in wrong_subjects(ctx.device()) {
                let before = subject.copies();
                let result =
                    exercise::gradcheck(&|xs: &[Tensor]| subject.call(xs), &subject.inputs, EPS, ATOL, RTOL);
                within(format!("for {}", subject.name), || subject.unchanged(&before))?;
                let flaw = subject.flaw.unwrap_or_default();
                match result {
                    Ok(()) => {
                        return Err(Failure::new(format!(
                            "your gradcheck accepted {}, but {flaw}",
                            subject.name
                        )));
                    }
                    Err(error) if subject.name.contains("gradient for b") => check_that!(
                        error.starts_with("input 1"),
                        "your gradcheck rejected {} (good), but its message must start with `input 1`, the \
                         input whose gradient is wrong; it said: {error}",
                        subject.name
                    ),
                    Err(_) => {}
                }
            }
            Ok(())
        })
        .run()
}
