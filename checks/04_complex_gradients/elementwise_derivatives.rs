//! Checks of 04_complex_gradients/elementwise_derivatives, against closed forms and finite
//! differences in float64.
//!
//! Regimes: f(x) = x^3 sin(x) to order 3 (closed forms, below), in float64 and float32; x^2 to
//! order 4, whose second derivative is a constant with no graph (the third must be 0, and
//! run_backward from it would crash: the crash is explained on stderr); 3x + 1, whose first
//! derivative already has no graph; an f that ignores x (no graph at all); sigmoid to order 3
//! against central differences of the reference's lower derivative in float64; order 0 (an
//! empty list) and 1; a scalar x, an empty x and a non-contiguous x. Every result has x's shape
//! and kind and does not require grad; x is left as it was and gets no gradient. A wrong
//! derivative is diagnosed: f(x) itself first, the first derivative repeated (f differentiated
//! again instead of the last derivative), zeros where the graph was not created.
//!
//! For f(x) = x^3 sin x:
//!   f'   = 3x^2 sin x + x^3 cos x
//!   f''  = 6x sin x + 6x^2 cos x - x^3 sin x
//!   f''' = 6 sin x + 18x cos x - 9x^2 sin x - x^3 cos x

use tensorlings_support::crash::{BACKWARD_WITHOUT_GRAD, explain_segfaults};
use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("04_complex_gradients/elementwise_derivatives.rs");

fn x3_sin(x: &Tensor) -> Tensor {
    x.pow_tensor_scalar(3) * x.sin()
}

/// The first three derivatives of x^3 sin x, computed in float64 and returned in x's kind.
fn x3_sin_closed_form(x: &Tensor) -> Vec<Tensor> {
    let t = x.to_kind(Kind::Double);
    let (s, c) = (t.sin(), t.cos());
    let (t2, t3) = (t.square(), t.pow_tensor_scalar(3));
    let first = &t2 * &s * 3.0 + &t3 * &c;
    let second = &t * &s * 6.0 + &t2 * &c * 6.0 - &t3 * &s;
    let third = &s * 6.0 + &t * &c * 18.0 - &t2 * &s * 9.0 - &t3 * &c;
    [first, second, third].into_iter().map(|d| d.to_kind(x.kind())).collect()
}

/// float64: the closed forms and autograd round differently, by a few epsilons of values up to
/// about 200 for |x| <= 3. float32: the same in float32's epsilon (1.2e-7), times a few hundred
/// operations' worth of margin.
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-10, 1e-10) } else { Tolerance::new(1e-4, 1e-4) }
}

fn is_close(got: &Tensor, expected: &Tensor, tol: Tolerance) -> bool {
    got.defined() && got.size() == expected.size() && assert_close("", got, expected, tol).is_ok()
}

fn all_zero(t: &Tensor) -> bool {
    t.numel() > 0 && t.abs().max().double_value(&[]) == 0.0
}

/// The learner's derivatives of `f` at `x` to `order`, against `expected` (one per order), with
/// the inputs left alone and the typical mistakes named.
fn derivatives_match(
    what: &str,
    f: &dyn Fn(&Tensor) -> Tensor,
    x: &Tensor,
    order: usize,
    expected: &[Tensor],
) -> CheckResult {
    let shape = x.size();
    let contiguity = if x.is_contiguous() || x.numel() <= 1 { "" } else { " (non-contiguous)" };
    within(format!("for {what}, x of shape {shape:?}{contiguity} in {:?}, order {order}", x.kind()), || {
        let x_before = x.copy();
        let got = exercise::derivatives(f, x, order);
        assert_unchanged("x", x, &x_before)?;
        if x.grad().defined() {
            return Err(Failure::new(
                "x has a gradient now: differentiate a leaf of your own, x.detach().set_requires_grad(true)",
            ));
        }
        if got.len() != order {
            return Err(Failure::new(format!(
                "`derivatives` returned {} tensors; it must return {order}, [f'(x), ..., f^({order})(x)]",
                got.len()
            )));
        }
        let tol = tolerance(x.kind());
        for (k, (got, expected)) in got.iter().zip(expected).enumerate() {
            let name = format!("derivative {} (element {k} of the list)", k + 1);
            if !got.defined() {
                return Err(Failure::new(format!(
                    "`{name}` is an undefined tensor: run_backward gives one where the graph does not reach \
                     x, which means the derivative is 0 (x.zeros_like())"
                )));
            }
            if got.requires_grad() {
                return Err(Failure::new(format!(
                    "`{name}` requires grad: return it detached (`.detach()`), without the graph"
                )));
            }
            if let Err(failure) = assert_close(&name, got, expected, tol) {
                let f_x = tch::no_grad(|| f(x));
                let why = if k == 0 && is_close(got, &f_x, tol) {
                    "\n  it is f(x) itself: the list starts with the first derivative f'(x)"
                } else if k > 0 && all_zero(got) && !all_zero(expected) {
                    "\n  it is 0 everywhere: was the derivative before it computed with create_graph = true? \
                     Without it, that derivative has no graph and its own derivative is lost"
                } else if k > 0 && is_close(got, &first_derivative(f, x), tol) {
                    "\n  it equals the first derivative: differentiate the previous derivative, not f(x) again"
                } else {
                    ""
                };
                return Err(Failure::new(format!("{}{why}", failure.message())));
            }
        }
        Ok(())
    })
}

/// The first derivative by the reference, to recognize it where a later one belongs.
fn first_derivative(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor) -> Tensor {
    solution::derivatives(f, x, 1).remove(0)
}

fn x3_sin_matches(shape: &[i64], kind: Kind, device: Device) -> CheckResult {
    let x = uniform(shape, -3.0, 3.0, kind, device);
    derivatives_match("f(x) = x^3 sin(x)", &x3_sin, &x, 3, &x3_sin_closed_form(&x))
}

fn main() {
    // A learner's run_backward from a constant derivative crashes the process: say why.
    let _ = explain_segfaults(BACKWARD_WITHOUT_GRAD);
    Checks::new()
        .check("x^3 sin(x): f', f'', f''' against the closed forms, in float64", |ctx| {
            x3_sin_matches(&[2, 5], Kind::Double, ctx.device())
        })
        .check("x^3 sin(x) in float32, and at x = 0 where every derivative up to f'' is 0", |ctx| {
            x3_sin_matches(&[7], Kind::Float, ctx.device())?;
            let zero = Tensor::zeros([3], (Kind::Double, ctx.device()));
            derivatives_match("f(x) = x^3 sin(x)", &x3_sin, &zero, 3, &x3_sin_closed_form(&zero))
        })
        .check("order 0 is an empty list, order 1 the gradient", |ctx| {
            let x = uniform(&[4], -3.0, 3.0, Kind::Double, ctx.device());
            derivatives_match("f(x) = x^3 sin(x)", &x3_sin, &x, 0, &[])?;
            derivatives_match("f(x) = x^3 sin(x)", &x3_sin, &x, 1, &x3_sin_closed_form(&x)[..1])
        })
        .check("x^2 to order 4 is [2x, 2, 0, 0]: the second derivative is a constant, with no graph", |ctx| {
            let x = randn(&[5], Kind::Double, ctx.device());
            let expected = [&x * 2.0, x.ones_like() * 2.0, x.zeros_like(), x.zeros_like()];
            derivatives_match("f(x) = x^2", &|t: &Tensor| t.square(), &x, 4, &expected)
        })
        .check("3x + 1 to order 2 is [3, 0], and an f that ignores x has only zero derivatives", |ctx| {
            let x = randn(&[2, 3], Kind::Double, ctx.device());
            let affine = |t: &Tensor| t * 3.0 + 1.0;
            derivatives_match("f(x) = 3x + 1", &affine, &x, 2, &[x.ones_like() * 3.0, x.zeros_like()])?;
            let constant = |t: &Tensor| t.detach().zeros_like() + 5.0;
            derivatives_match(
                "f(x) = 5 (no graph at all)",
                &constant,
                &x,
                2,
                &[x.zeros_like(), x.zeros_like()],
            )
        })
        .check("sigmoid to order 3 against central differences of the derivative before, in float64", |ctx| {
            let x = uniform(&[6], -4.0, 4.0, Kind::Double, ctx.device());
            let sigmoid = |t: &Tensor| t.sigmoid();
            // Derivative k by central differences of derivative k - 1 (the reference's; k = 1 from
            // f itself). The step 1e-5 balances truncation (h^2 f'''' / 6, about 1e-11) and
            // rounding (1e-16 / 1e-5): the differences are good to about 1e-9.
            let h = 1e-5;
            let lower = |t: &Tensor, k: usize| -> Tensor {
                if k == 0 { t.sigmoid() } else { solution::derivatives(&sigmoid, t, k).remove(k - 1) }
            };
            let expected: Vec<Tensor> =
                (1..=3).map(|k| (lower(&(&x + h), k - 1) - lower(&(&x - h), k - 1)) / (2.0 * h)).collect();
            let x_before = x.copy();
            let got = exercise::derivatives(&sigmoid, &x, 3);
            assert_unchanged("x", &x, &x_before)?;
            for (k, (got, expected)) in got.iter().zip(&expected).enumerate() {
                within("for f(x) = sigmoid(x), x of shape [6]", || {
                    assert_close(
                        &format!("derivative {}, compared with finite differences,", k + 1),
                        got,
                        expected,
                        Tolerance::new(1e-7, 1e-6),
                    )
                })?;
            }
            derivatives_match("f(x) = sigmoid(x)", &sigmoid, &x, 3, &solution::derivatives(&sigmoid, &x, 3))
        })
        .check("a scalar x, an empty x and a non-contiguous x", |ctx| {
            let scalar = Tensor::from(1.25f64).to_device(ctx.device());
            derivatives_match("f(x) = x^3 sin(x)", &x3_sin, &scalar, 3, &x3_sin_closed_form(&scalar))?;
            let empty = Tensor::zeros([0, 3], (Kind::Double, ctx.device()));
            derivatives_match("f(x) = x^3 sin(x)", &x3_sin, &empty, 2, &x3_sin_closed_form(&empty)[..2])?;
            let transposed = uniform(&[4, 3], -3.0, 3.0, Kind::Double, ctx.device()).tr();
            derivatives_match("f(x) = x^3 sin(x)", &x3_sin, &transposed, 3, &x3_sin_closed_form(&transposed))
        })
        .run()
}
