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
//!
//! Regimes of the contract, and the check that visits each: one input and two ([3, 4], [5] and
//! [5], [4, 4] and [4]); an output of another shape than the inputs (A x, tanh(x @ w)); built-in
//! backwards and custom ones; a function of large curvature, sin(100 x), where only the stated
//! central differences are accurate enough (a one-sided difference is off by eps f''/2, about
//! 5e-3 there); Jacobians returned one per input, in the inputs' order (two inputs of the same
//! shape, a and b of a * sin(b), tell a swap); every wrong backward above rejected, with the
//! message naming the input.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("01_custom_autograd/gradcheck.rs");

const EPS: f64 = 1e-6;
const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-3;

/// What is wrong with a subject's backward; `None` when it is right.
type Flaw = Option<&'static str>;

/// A function for gradcheck, with a backward the check wrote, and the inputs to try it at.
struct Subject {
    name: &'static str,
    flaw: Flaw,
    function: CustomFunction,
    inputs: Vec<Tensor>,
}

impl Subject {
    /// `forward` of the inputs, all saved for `backward(incoming gradient, saved inputs)`, which
    /// returns one gradient per input.
    fn new(
        name: &'static str,
        flaw: Flaw,
        forward: fn(&[Tensor]) -> Tensor,
        backward: impl Fn(&Tensor, &[Tensor]) -> Vec<Tensor> + Send + Sync + 'static,
        inputs: Vec<Tensor>,
    ) -> Subject {
        let function = CustomFunction::new(
            name,
            move |ctx, inputs| {
                ctx.save_for_backward(inputs);
                vec![forward(inputs)]
            },
            move |ctx, grads| backward(&grads[0], ctx.saved()).into_iter().map(Some).collect(),
        );
        Subject { name, flaw, function, inputs }
    }

    fn call(&self, xs: &[Tensor]) -> Tensor {
        self.function.apply(xs).expect("the check's own custom function").remove(0)
    }

    /// The inputs with their names, for [`call`].
    fn named_inputs(&self) -> Vec<(&str, &Tensor)> {
        const NAMES: [&str; 3] = ["inputs[0]", "inputs[1]", "inputs[2]"];
        NAMES.into_iter().zip(&self.inputs).collect()
    }

    /// The learner's gradcheck on this subject, the inputs as they were.
    fn gradcheck(&self) -> Result<Result<(), String>, Failure> {
        let before: Vec<Tensor> = self.inputs.iter().map(Tensor::copy).collect();
        let result = exercise::gradcheck(&|xs: &[Tensor]| self.call(xs), &self.inputs, EPS, ATOL, RTOL);
        within(format!("for {}", self.name), || {
            for ((name, x), x_before) in self.named_inputs().into_iter().zip(&before) {
                assert_unchanged(name, x, x_before)?;
            }
            Ok(result)
        })
    }
}

/// softplus(x) = log(1 + e^x), whose derivative is sigmoid(x); `grad` turns the incoming
/// gradient and x into the gradient the backward returns.
fn softplus(name: &'static str, flaw: Flaw, grad: fn(&Tensor, &Tensor) -> Tensor, device: Device) -> Subject {
    let inputs = vec![randn(&[3, 4], Kind::Double, device)];
    Subject::new(name, flaw, |x| x[0].softplus(), move |g, s| vec![grad(g, &s[0])], inputs)
}

/// a * sin(b), two inputs; `grad_b` gives the gradient for b from (g, a, b).
fn mul_sin(
    name: &'static str,
    flaw: Flaw,
    grad_b: fn(&Tensor, &Tensor, &Tensor) -> Tensor,
    device: Device,
) -> Subject {
    let inputs = vec![randn(&[5], Kind::Double, device), randn(&[5], Kind::Double, device)];
    let backward = move |g: &Tensor, s: &[Tensor]| vec![g * s[1].sin(), grad_b(g, &s[0], &s[1])];
    Subject::new(name, flaw, |x| &x[0] * x[1].sin(), backward, inputs)
}

/// The matrix-vector product A x; `grad_x` gives the gradient for x from (g, A).
fn matvec(name: &'static str, flaw: Flaw, grad_x: fn(&Tensor, &Tensor) -> Tensor, device: Device) -> Subject {
    // Square, so that A g has the shape of x too and only its values are wrong.
    let inputs = vec![randn(&[4, 4], Kind::Double, device), randn(&[4], Kind::Double, device)];
    let backward = move |g: &Tensor, s: &[Tensor]| vec![g.unsqueeze(1) * s[1].unsqueeze(0), grad_x(g, &s[0])];
    Subject::new(name, flaw, |x| x[0].mv(&x[1]), backward, inputs)
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

/// One Jacobian function of the exercise against the reference's on `inputs`: one matrix per
/// input, of shape [output elements, input elements].
fn jacobians_match<'a>(
    what: &str,
    inputs: &[(&str, &'a Tensor)],
    description: &str,
    tolerance: Tolerance,
    reference: impl FnOnce(&[Tensor]) -> Vec<Tensor> + 'a,
    exercise: impl FnOnce(&[Tensor]) -> Vec<Tensor> + 'a,
) -> CheckResult {
    let names: Vec<String> = (0..inputs.len()).map(|i| format!("{what} for input {i}")).collect();
    call(what, inputs, reference, exercise)
        .describe(description)
        .outputs(&names.iter().map(String::as_str).collect::<Vec<_>>())
        .tolerance(tolerance)
        .diagnose(|got, expected| {
            for (i, (g, e)) in got.iter().zip(expected).enumerate() {
                check_that!(
                    g.size() == e.size(),
                    "{what}: the Jacobian for input {i} has shape {:?}; it must be [output elements, input \
                     elements] = {:?}",
                    g.size(),
                    e.size()
                );
            }
            Ok(())
        })
        .check()
}

/// `numerical_jacobians` of `f`: any sound finite-difference formula is within 1e-5 + 1e-4 |j|
/// of the reference's central one.
fn numerical_match(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    inputs: &[(&str, &Tensor)],
    description: &str,
) -> CheckResult {
    jacobians_match(
        "numerical_jacobians",
        inputs,
        description,
        Tolerance::new(1e-5, 1e-4),
        |x| solution::numerical_jacobians(f, x, EPS),
        |x| exercise::numerical_jacobians(f, x, EPS),
    )
}

fn main() {
    Checks::new()
        .check("numerical_jacobians of softplus, a * sin(b), A x, tanh(x @ w) and sin(100 x)", |ctx| {
            for subject in right_subjects(ctx.device()) {
                let f = |xs: &[Tensor]| subject.call(xs);
                numerical_match(&f, &subject.named_inputs(), &format!("for {}", subject.name))?;
            }
            let inputs = builtin_inputs(ctx.device());
            let named = [("x", &inputs[0]), ("w", &inputs[1])];
            numerical_match(&builtin, &named, "for tanh(x @ w)")?;
            let x = uniform(&[8], -1.0, 1.0, Kind::Double, ctx.device());
            let curved = |xs: &[Tensor]| (&xs[0] * 100.0).sin();
            numerical_match(
                &curved,
                &[("x", &x)],
                "for sin(100 x), whose curvature shows a one-sided difference's error (eps f''/2; a \
                 central difference's is eps^2 f'''/6)",
            )
        })
        .check("analytical_jacobians of the same, and of backwards with mistakes", |ctx| {
            for subject in right_subjects(ctx.device()).into_iter().chain(wrong_subjects(ctx.device())) {
                let f = |xs: &[Tensor]| subject.call(xs);
                jacobians_match(
                    "analytical_jacobians",
                    &subject.named_inputs(),
                    &format!("for {}", subject.name),
                    Tolerance::for_kind(Kind::Double),
                    |x| solution::analytical_jacobians(&f, x),
                    |x| exercise::analytical_jacobians(&f, x),
                )?;
            }
            Ok(())
        })
        .check("gradcheck accepts right backwards, custom and built-in", |ctx| {
            for subject in right_subjects(ctx.device()) {
                if let Err(error) = subject.gradcheck()? {
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
                let result = subject.gradcheck()?;
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
