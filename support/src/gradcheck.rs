//! Gradients checked against finite differences in float64, like `torch.autograd.gradcheck`.
//!
//! [`gradcheck`] is how a check verifies a backward pass the learner wrote (a custom autograd
//! function, a hand-derived gradient) without a reference gradient: it compares the Jacobian that
//! autograd computes with one estimated by central differences,
//! `(f(x + eps) - f(x - eps)) / (2 eps)`, one input element at a time. A typical check:
//!
//! ```text
//! let x = random::randn(&[3, 4], Kind::Double, ctx.device());
//! gradcheck(|xs| exercise::my_softplus(&xs[0]), &[x], GradcheckOptions::default())?;
//! ```
//!
//! The inputs are copied to float64 leaves that require grad, so `f` must compute in float64 for
//! the differences to mean anything; integer and boolean inputs (indices, masks) are passed
//! through unchanged and not differentiated. `f` is called once for the backward passes and twice
//! per input element for the differences, so keep the inputs small (tens of elements).

use tch::{Device, Kind, Tensor};

use crate::compare::unravel;
use crate::failure::{CheckResult, Failure};

/// The step and tolerances of [`gradcheck`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckOptions {
    /// The finite-difference step (default 1e-6).
    pub eps: f64,
    /// Absolute tolerance between the analytic and numeric Jacobians (default 1e-5).
    pub atol: f64,
    /// Relative tolerance, relative to the numeric Jacobian (default 1e-3).
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    /// `eps` 1e-6, `atol` 1e-5, `rtol` 1e-3: `torch.autograd.gradcheck`'s defaults.
    fn default() -> Self {
        GradcheckOptions { eps: 1e-6, atol: 1e-5, rtol: 1e-3 }
    }
}

/// Checks the gradient of `f` at `inputs` against finite differences.
///
/// Each floating-point input becomes a float64 leaf that requires grad (on the input's device);
/// `f` gets all inputs in order and returns one tensor of any shape. The analytic Jacobian comes
/// from one backward pass per output element, the numeric one from central differences with step
/// `opts.eps`; an entry passes when `|analytic - numeric| <= atol + rtol * |numeric|`.
///
/// Fails, with a message naming the input, the element and both values, when an entry differs,
/// and also when the output does not require grad (it does not depend differentiably on the
/// inputs), is not float64, or changes shape between calls.
pub fn gradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], opts: GradcheckOptions) -> CheckResult {
    // Whatever grad mode the caller is in, the backward passes below need it on.
    tch::with_grad(|| gradcheck_in_grad_mode(&f, inputs, opts))
}

fn is_differentiable(kind: Kind) -> bool {
    matches!(kind, Kind::Half | Kind::Float | Kind::Double | Kind::BFloat16)
}

/// A float64 copy of a floating-point input, contiguous and detached from any graph; other inputs
/// are shared as they are.
fn float64_copy(input: &Tensor) -> Result<Tensor, Failure> {
    Ok(input.f_detach()?.f_to_kind(Kind::Double)?.f_contiguous()?.copy())
}

/// The inputs as `f` sees them: float64 leaves requiring grad where `differentiable[i]`.
fn as_leaves(copies: &[Tensor], differentiable: &[bool]) -> Vec<Tensor> {
    copies
        .iter()
        .zip(differentiable)
        .map(|(t, &d)| if d { t.shallow_clone().set_requires_grad(true) } else { t.shallow_clone() })
        .collect()
}

/// The values of `t` as `f64`, flattened.
fn flat_values(t: &Tensor) -> Result<Vec<f64>, Failure> {
    let flat = t.f_detach()?.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?.f_reshape([-1])?;
    Ok(Vec::<f64>::try_from(&flat.f_contiguous()?)?)
}

fn gradcheck_in_grad_mode(
    f: &impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    opts: GradcheckOptions,
) -> CheckResult {
    let differentiable: Vec<bool> =
        inputs.iter().map(|t| t.f_kind().map(is_differentiable)).collect::<Result<_, _>>()?;
    if !differentiable.iter().any(|&d| d) {
        return Err(Failure::new(
            "gradcheck: none of the inputs is a floating-point tensor, so there is nothing to \
             differentiate",
        ));
    }
    let copies: Vec<Tensor> = inputs
        .iter()
        .zip(&differentiable)
        .map(|(t, &d)| if d { float64_copy(t) } else { Ok(t.shallow_clone()) })
        .collect::<Result<_, _>>()?;

    // The analytic Jacobian, one row (output element) at a time.
    let leaves = as_leaves(&copies, &differentiable);
    let output = f(&leaves);
    if !output.defined() {
        return Err(Failure::new("gradcheck: the function returned an undefined tensor"));
    }
    let output_kind = output.f_kind()?;
    if output_kind != Kind::Double {
        return Err(Failure::new(format!(
            "gradcheck: the output has kind {output_kind:?}, but it must be Double (float64): the \
             inputs were converted to float64, so the function should compute in float64 too"
        )));
    }
    // Checked before any backward pass: running backward from a root that does not require grad
    // crashes libtorch instead of raising an error.
    if !output.requires_grad() {
        return Err(Failure::new(
            "gradcheck: the output does not depend differentiably on the inputs (it does not \
             require grad): was it computed under no_grad, detached, or rebuilt from plain \
             numbers?",
        ));
    }
    let output_shape = output.size();
    let output_flat = output.f_reshape([-1])?;
    let n_out = output_flat.size()[0];
    let diff_leaves: Vec<&Tensor> =
        leaves.iter().zip(&differentiable).filter(|(_, d)| **d).map(|(t, _)| t).collect();
    // analytic[k][j]: d output[j] / d (the k-th differentiable input), flattened.
    let mut analytic: Vec<Vec<Vec<f64>>> = vec![Vec::new(); diff_leaves.len()];
    for j in 0..n_out {
        let root = output_flat.f_get(j)?;
        if !root.requires_grad() {
            // An element computed without the graph (e.g. written in place from a constant).
            for (k, leaf) in diff_leaves.iter().enumerate() {
                analytic[k].push(vec![0.0; leaf.numel()]);
            }
            continue;
        }
        let grads = Tensor::f_run_backward(&[&root], &diff_leaves, true, false)?;
        for (k, (grad, leaf)) in grads.iter().zip(&diff_leaves).enumerate() {
            // An input the output does not use gets an undefined gradient: zero.
            analytic[k].push(if grad.defined() { flat_values(grad)? } else { vec![0.0; leaf.numel()] });
        }
    }

    // The numeric Jacobian, one column (input element) at a time, and the comparison.
    let mut problems = Vec::new();
    let mut k = 0;
    for (i, copy) in copies.iter().enumerate() {
        if !differentiable[i] {
            continue;
        }
        let input_shape = copy.size();
        // columns[e][j]: d output[j] / d input[e], by central differences.
        let mut columns: Vec<Vec<f64>> = Vec::with_capacity(copy.numel());
        for e in 0..copy.numel() {
            let evaluate = |delta: f64| -> Result<Vec<f64>, Failure> {
                let mut perturbed = copies.iter().map(Tensor::shallow_clone).collect::<Vec<_>>();
                // `copy` is a plain contiguous tensor, so its flat view can be changed in place.
                let moved = copy.copy();
                let mut element = moved.f_view([-1])?.f_get(e as i64)?;
                let _ = element.f_add_scalar_(delta)?;
                perturbed[i] = moved;
                let out = f(&as_leaves(&perturbed, &differentiable));
                if out.size() != output_shape {
                    return Err(Failure::new(format!(
                        "gradcheck: the output has shape {:?} for a perturbed input but {:?} at \
                         the original one: the function must give the same shape for nearby \
                         inputs",
                        out.size(),
                        output_shape
                    )));
                }
                flat_values(&out)
            };
            let plus = evaluate(opts.eps)?;
            let minus = evaluate(-opts.eps)?;
            columns.push(plus.iter().zip(&minus).map(|(p, m)| (p - m) / (2.0 * opts.eps)).collect());
        }
        for (j, a_row) in analytic[k].iter().enumerate() {
            for (e, &a) in a_row.iter().enumerate() {
                let n = columns[e][j];
                // Written so that a NaN on either side counts as a mismatch.
                let close = (a - n).abs() <= opts.atol + opts.rtol * n.abs();
                if !close {
                    problems.push(Mismatch {
                        input: i,
                        input_shape: input_shape.clone(),
                        input_element: e,
                        output_element: j,
                        analytic: a,
                        numeric: n,
                    });
                }
            }
        }
        k += 1;
    }
    match describe_mismatches(&problems, &output_shape, opts) {
        Some(message) => Err(Failure::new(message)),
        None => Ok(()),
    }
}

/// One Jacobian entry where backward and finite differences disagree.
#[derive(Debug, Clone, PartialEq)]
struct Mismatch {
    input: usize,
    input_shape: Vec<i64>,
    input_element: usize,
    output_element: usize,
    analytic: f64,
    numeric: f64,
}

/// The multi-index of a flat position, e.g. `[1, 2]`.
fn index(flat: usize, shape: &[i64]) -> String {
    format!("{:?}", unravel(flat, shape))
}

/// How many differing entries are listed; the rest are counted.
const LISTED: usize = 3;

/// The failure message for the differing Jacobian entries, or `None` when there are none.
fn describe_mismatches(
    problems: &[Mismatch],
    output_shape: &[i64],
    opts: GradcheckOptions,
) -> Option<String> {
    let first = problems.first()?;
    let inputs: std::collections::BTreeSet<usize> = problems.iter().map(|p| p.input).collect();
    let mut text = format!(
        "gradcheck: the gradient of input {} (shape {:?}) does not match finite differences: {} \
         Jacobian {} out of tolerance (atol {:?}, rtol {:?})",
        first.input,
        first.input_shape,
        problems.iter().filter(|p| p.input == first.input).count(),
        if problems.iter().filter(|p| p.input == first.input).count() == 1 {
            "entry is"
        } else {
            "entries are"
        },
        opts.atol,
        opts.rtol
    );
    for p in problems.iter().filter(|p| p.input == first.input).take(LISTED) {
        let of = if output_shape.is_empty() {
            "d output".to_string()
        } else {
            format!("d output{}", index(p.output_element, output_shape))
        };
        text.push_str(&format!(
            "\n  {of} / d input{}{}: backward gives {:?}, finite differences give {:?}",
            p.input,
            index(p.input_element, &p.input_shape),
            p.analytic,
            p.numeric
        ));
    }
    if inputs.len() > 1 {
        let others: Vec<String> = inputs.iter().skip(1).map(usize::to_string).collect();
        text.push_str(&format!("\n  (the gradients of inputs {} differ too)", others.join(", ")));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(values: &[f64], shape: &[i64]) -> Tensor {
        Tensor::from_slice(values).reshape(shape)
    }

    fn opts() -> GradcheckOptions {
        GradcheckOptions::default()
    }

    #[test]
    fn accepts_correct_gradients() {
        let x = input(&[0.3, -1.2, 2.0, 0.7, -0.4, 1.5], &[2, 3]);
        assert_eq!(gradcheck(|xs| xs[0].sin(), &[x.shallow_clone()], opts()), Ok(()));
        let w = input(&[0.5, -0.1, 0.9, 1.1, -0.7, 0.2], &[3, 2]);
        assert_eq!(gradcheck(|xs| xs[0].matmul(&xs[1]), &[x.shallow_clone(), w], opts()), Ok(()));
        // relu away from its kink at 0.
        assert_eq!(gradcheck(|xs| xs[0].relu(), &[x.shallow_clone()], opts()), Ok(()));
        // A scalar output, and a float32 input converted to float64.
        let x32 = x.to_kind(Kind::Float);
        assert_eq!(gradcheck(|xs| (&xs[0] * &xs[0]).sum(Kind::Double), &[x32], opts()), Ok(()));
    }

    #[test]
    fn integer_inputs_pass_through_undifferentiated() {
        let x = input(&[1.0, 2.0, 3.0, 4.0], &[4]);
        let idx = Tensor::from_slice(&[3i64, 0]);
        let f = |xs: &[Tensor]| (&xs[0] * &xs[0]).index_select(0, &xs[1]);
        assert_eq!(gradcheck(f, &[x, idx], opts()), Ok(()));
    }

    #[test]
    fn rejects_a_wrong_gradient() {
        // x * x.detach() has value x² but gradient x instead of 2x.
        let x = input(&[1.0, 2.0, 3.0], &[3]);
        let message = gradcheck(|xs| &xs[0] * xs[0].detach(), &[x], opts()).unwrap_err().to_string();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(
            lines[0],
            "gradcheck: the gradient of input 0 (shape [3]) does not match finite differences: 3 \
             Jacobian entries are out of tolerance (atol 1e-5, rtol 0.001)"
        );
        assert_eq!(lines.len(), 4, "{message}");
        // The finite differences are 2x up to rounding: 2.0000000000575113 or so.
        for (line, (x, numeric)) in lines[1..].iter().zip([(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]) {
            let i = x as i64 - 1;
            let prefix =
                format!("  d output[{i}] / d input0[{i}]: backward gives {x:?}, finite differences give ");
            let value: f64 = line.strip_prefix(&prefix).expect(line).parse().unwrap();
            assert!((value - numeric).abs() < 1e-6, "{line}");
        }
    }

    #[test]
    fn an_output_without_grad_is_refused_not_crashed_on() {
        let x = input(&[1.0, 2.0], &[2]);
        let message = gradcheck(|xs| xs[0].detach() * 2.0, &[x], opts()).unwrap_err().to_string();
        assert!(
            message.starts_with("gradcheck: the output does not depend differentiably on the inputs"),
            "{message}"
        );
    }

    #[test]
    fn a_float32_output_is_refused() {
        let x = input(&[1.0, 2.0], &[2]);
        let message = gradcheck(|xs| xs[0].to_kind(Kind::Float), &[x], opts()).unwrap_err().to_string();
        assert!(message.starts_with("gradcheck: the output has kind Float"), "{message}");
    }

    #[test]
    fn nothing_to_differentiate_is_refused() {
        let idx = Tensor::from_slice(&[1i64, 2]);
        let message = gradcheck(|xs| xs[0].shallow_clone(), &[idx], opts()).unwrap_err().to_string();
        assert!(message.contains("none of the inputs is a floating-point tensor"), "{message}");
    }

    #[test]
    fn the_caller_inputs_are_left_alone() {
        let x = input(&[1.0, 2.0], &[2]);
        gradcheck(|xs| xs[0].exp(), &[x.shallow_clone()], opts()).unwrap();
        assert!(!x.requires_grad());
        assert!(x.equal(&input(&[1.0, 2.0], &[2])));
    }

    #[test]
    fn mismatches_are_described_with_indices() {
        let problems = vec![
            Mismatch {
                input: 1,
                input_shape: vec![2, 2],
                input_element: 3,
                output_element: 1,
                analytic: 0.5,
                numeric: 1.0,
            },
            Mismatch {
                input: 2,
                input_shape: vec![3],
                input_element: 0,
                output_element: 0,
                analytic: 0.0,
                numeric: 1.0,
            },
        ];
        assert_eq!(
            describe_mismatches(&problems, &[2], opts()).unwrap(),
            "gradcheck: the gradient of input 1 (shape [2, 2]) does not match finite differences: \
             1 Jacobian entry is out of tolerance (atol 1e-5, rtol 0.001)\n  \
             d output[1] / d input1[1, 1]: backward gives 0.5, finite differences give 1.0\n  \
             (the gradients of inputs 2 differ too)"
        );
        assert_eq!(describe_mismatches(&[], &[2], opts()), None);
        let scalar = describe_mismatches(&problems[1..], &[], opts()).unwrap();
        assert!(scalar.contains("\n  d output / d input2[0]: backward gives 0.0"), "{scalar}");
    }
}
