//! Checks of 04_complex_gradients/hessian_products, against closed forms and finite differences
//! in float64.
//!
//! Functions and their Hessians: sum(x^3 sin x) (diagonal, f'' = 6x sin x + 6x^2 cos x - x^3 sin x);
//! the quadratic form 0.5 x^T A x with A not symmetric ((A + A^T) / 2: a Hessian built from A
//! alone, or transposed, is caught); logsumexp (diag(s) - s s^T, s = softmax(x)); a linear
//! function (H = 0, and its gradient has no graph: run_backward from it would crash, which is
//! explained on stderr); an x of shape [2, 3] with a cross term (the Hessian has shape
//! [2, 3, 2, 3], torch.autograd.functional.hessian's convention); a scalar x (shape []); an empty
//! x; float32; a non-contiguous x. A non-separable function is compared with central differences
//! of its gradient. H v is compared with the closed-form H times random vectors, zero and
//! one-hot vectors included, and on the [2, 3] case. Results do not require grad; x and v are
//! left as they were and x gets no gradient. Typical mistakes are named: a Hessian of zeros (no
//! create_graph), [n, n] for a 2-D x, H times ones (v forgotten), the gradient itself.

use tensorlings_support::compare::assert_plain;
use tensorlings_support::crash::{BACKWARD_WITHOUT_GRAD, explain_segfaults};
use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("04_complex_gradients/hessian_products.rs");

type Func = Box<dyn Fn(&Tensor) -> Tensor>;

/// A function, a point, and the Hessian there from its closed form.
struct Case {
    name: String,
    f: Func,
    x: Tensor,
    hessian: Tensor,
}

fn sum_x3_sin(x: &Tensor) -> Case {
    let t = x.to_kind(Kind::Double);
    let second = &t * t.sin() * 6.0 + t.square() * t.cos() * 6.0 - t.pow_tensor_scalar(3) * t.sin();
    let n = x.numel() as i64;
    let shape: Vec<i64> = x.size().iter().chain(x.size().iter()).copied().collect();
    Case {
        name: "f(x) = sum(x^3 sin x)".into(),
        f: Box::new(|t: &Tensor| (t.pow_tensor_scalar(3) * t.sin()).sum(t.kind())),
        hessian: second.reshape([n]).diag(0).reshape(&shape).to_kind(x.kind()),
        x: x.shallow_clone(),
    }
}

fn quadratic(n: i64, device: Device) -> Case {
    let a = randn(&[n, n], Kind::Double, device);
    let hessian = (&a + a.tr()) * 0.5;
    Case {
        name: "f(x) = 0.5 x^T A x, A not symmetric".into(),
        f: Box::new(move |t: &Tensor| t.dot(&a.mv(t)) * 0.5),
        x: randn(&[n], Kind::Double, device),
        hessian,
    }
}

fn logsumexp(n: i64, device: Device) -> Case {
    let x = randn(&[n], Kind::Double, device);
    let s = x.softmax(0, Kind::Double);
    Case {
        name: "f(x) = logsumexp(x)".into(),
        f: Box::new(|t: &Tensor| t.logsumexp([0], false)),
        hessian: s.diag(0) - s.outer(&s),
        x,
    }
}

fn linear(n: i64, device: Device) -> Case {
    let c = randn(&[n], Kind::Double, device);
    Case {
        name: "f(x) = sum(c x), linear".into(),
        f: Box::new(move |t: &Tensor| (t * &c).sum(Kind::Double)),
        x: randn(&[n], Kind::Double, device),
        hessian: Tensor::zeros([n, n], (Kind::Double, device)),
    }
}

/// sum(x^3 sin x) + sum(x[0] * x[1]) on an x of shape [2, 3]: the cross term puts 1 at
/// [0, j, 1, j] and [1, j, 0, j].
fn matrix_with_cross_term(device: Device) -> Case {
    let x = uniform(&[2, 3], -2.0, 2.0, Kind::Double, device);
    let mut case = sum_x3_sin(&x);
    let cross = Tensor::zeros([2, 3, 2, 3], (Kind::Double, device));
    for j in 0..3 {
        let _ = cross.get(0).get(j).get(1).get(j).fill_(1.0);
        let _ = cross.get(1).get(j).get(0).get(j).fill_(1.0);
    }
    case.hessian += cross;
    case.name = "f(x) = sum(x^3 sin x) + sum(x[0] * x[1]), x of shape [2, 3]".into();
    case.f = Box::new(|t: &Tensor| {
        (t.pow_tensor_scalar(3) * t.sin()).sum(t.kind()) + (t.get(0) * t.get(1)).sum(t.kind())
    });
    case
}

fn tolerance(kind: Kind) -> Tolerance {
    // float64: a few epsilons of entries up to about 60. float32: autograd in float32 against
    // the float64 closed form, a few float32 epsilons (1.2e-7) of the same entries.
    if kind == Kind::Double { Tolerance::new(1e-10, 1e-9) } else { Tolerance::new(1e-4, 1e-4) }
}

fn is_close(got: &Tensor, expected: &Tensor, tol: Tolerance) -> bool {
    got.defined() && got.size() == expected.size() && assert_close("", got, expected, tol).is_ok()
}

fn all_zero(t: &Tensor) -> bool {
    t.numel() > 0 && t.abs().max().double_value(&[]) == 0.0
}

/// Leaves `x` as it was, with no gradient.
fn x_untouched(x: &Tensor, before: &Tensor) -> CheckResult {
    assert_unchanged("x", x, before)?;
    if x.grad().defined() {
        return Err(Failure::new(
            "x has a gradient now: differentiate a leaf of your own, x.detach().set_requires_grad(true)",
        ));
    }
    Ok(())
}

fn hessian_matches(case: &Case) -> CheckResult {
    let x = &case.x;
    within(format!("for {}, x of shape {:?} in {:?}", case.name, x.size(), x.kind()), || {
        let before = x.copy();
        let got = exercise::hessian(&*case.f, x);
        x_untouched(x, &before)?;
        assert_plain("hessian(f, x)", &got)?;
        let expected = case.hessian.to_kind(x.kind());
        let tol = tolerance(x.kind());
        if got.size() != expected.size() && got.numel() == expected.numel() {
            return Err(Failure::new(format!(
                "`hessian(f, x)` has shape {:?} but must have {:?}: x's shape twice, as \
                 torch.autograd.functional.hessian returns it (reshape the [n, n] matrix)",
                got.size(),
                expected.size()
            )));
        }
        assert_close("hessian(f, x)", &got, &expected, tol).map_err(|failure| {
            let why = if all_zero(&got) && !all_zero(&expected) {
                "\n  it is 0 everywhere: was the gradient computed with create_graph = true? Without it the \
                 gradient has no graph, and its derivatives are lost"
            } else {
                ""
            };
            Failure::new(format!("{}{why}", failure.message()))
        })
    })
}

fn hvp_matches(case: &Case, v: &Tensor) -> CheckResult {
    let x = &case.x;
    let v_kind = if v.is_contiguous() { "" } else { " (non-contiguous)" };
    within(format!("for {}, x of shape {:?} in {:?}, a v{v_kind}", case.name, x.size(), x.kind()), || {
        let (x_before, v_before) = (x.copy(), v.copy());
        let got = exercise::hessian_vector_product(&*case.f, x, v);
        x_untouched(x, &x_before)?;
        assert_unchanged("v", v, &v_before)?;
        assert_plain("hessian_vector_product(f, x, v)", &got)?;
        let n = x.numel() as i64;
        let h = case.hessian.to_kind(Kind::Double).reshape([n, n]);
        let times =
            |w: &Tensor| h.mv(&w.to_kind(Kind::Double).reshape([n])).reshape(x.size()).to_kind(x.kind());
        let expected = times(v);
        let tol = tolerance(x.kind());
        assert_close("hessian_vector_product(f, x, v)", &got, &expected, tol).map_err(|failure| {
            let why = if all_zero(&got) && !all_zero(&expected) {
                "\n  it is 0 everywhere: was the gradient computed with create_graph = true?"
            } else if is_close(&got, &times(&x.ones_like()), tol) {
                "\n  it is H times a vector of ones: backward from (g * v).sum(), not from g (which uses v = ones)"
            } else {
                ""
            };
            Failure::new(format!("{}{why}", failure.message()))
        })
    })
}

/// Central differences of the gradient (first-order autograd), column by column, in float64.
fn finite_difference_hessian(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor) -> Tensor {
    let n = x.numel() as i64;
    let gradient = |at: &Tensor| {
        let leaf = at.detach().set_requires_grad(true);
        Tensor::run_backward(&[f(&leaf)], &[&leaf], false, false).remove(0).reshape([n])
    };
    // Step 1e-5: truncation h^2 f'''' / 6 and rounding 1e-16 / h are both about 1e-10 here.
    let h = 1e-5;
    let eye = Tensor::eye(n, (Kind::Double, x.device())) * h;
    let columns: Vec<Tensor> = (0..n)
        .map(|j| {
            let step = eye.get(j).reshape(x.size());
            (gradient(&(x + &step)) - gradient(&(x - &step))) / (2.0 * h)
        })
        .collect();
    Tensor::stack(&columns, 1)
}

fn main() {
    // A learner's run_backward from a gradient without a graph crashes the process: say why.
    let _ = explain_segfaults(BACKWARD_WITHOUT_GRAD);
    Checks::new()
        .check("hessian of sum(x^3 sin x) is diag(f''), in float64 and float32", |ctx| {
            hessian_matches(&sum_x3_sin(&uniform(&[5], -3.0, 3.0, Kind::Double, ctx.device())))?;
            hessian_matches(&sum_x3_sin(&uniform(&[4], -3.0, 3.0, Kind::Float, ctx.device())))
        })
        .check("hessian of 0.5 x^T A x is (A + A^T) / 2, of logsumexp diag(s) - s s^T", |ctx| {
            hessian_matches(&quadratic(4, ctx.device()))?;
            hessian_matches(&logsumexp(5, ctx.device()))
        })
        .check("hessian of a linear function is 0 (its gradient has no graph)", |ctx| {
            hessian_matches(&linear(3, ctx.device()))
        })
        .check("hessian for an x of shape [2, 3] has shape [2, 3, 2, 3]", |ctx| {
            hessian_matches(&matrix_with_cross_term(ctx.device()))
        })
        .check("hessian for a scalar x, an empty x and a non-contiguous x", |ctx| {
            hessian_matches(&sum_x3_sin(&Tensor::from(0.75f64).to_device(ctx.device())))?;
            hessian_matches(&sum_x3_sin(&Tensor::zeros([0], (Kind::Double, ctx.device()))))?;
            hessian_matches(&sum_x3_sin(&uniform(&[3, 2], -2.0, 2.0, Kind::Double, ctx.device()).tr()))
        })
        .check("hessian against central differences of the gradient, float64", |ctx| {
            let w = randn(&[3, 4], Kind::Double, ctx.device());
            let f = move |t: &Tensor| w.mv(t).tanh().sum(Kind::Double) * t.square().sum(Kind::Double);
            let x = randn(&[4], Kind::Double, ctx.device());
            let hessian = finite_difference_hessian(&f, &x);
            // The differences are good to about 1e-9, not to the closed forms' 1e-10.
            let case = Case { name: "f(x) = sum(tanh(W x)) |x|^2".into(), f: Box::new(f), x, hessian };
            within(format!("for {}, compared with finite differences", case.name), || {
                let got = exercise::hessian(&*case.f, &case.x);
                assert_close("hessian(f, x)", &got, &case.hessian, Tolerance::new(1e-7, 1e-6))
            })
        })
        .check("hessian_vector_product equals H v for random, zero and one-hot v", |ctx| {
            let device = ctx.device();
            let cases = [
                sum_x3_sin(&uniform(&[5], -3.0, 3.0, Kind::Double, device)),
                quadratic(4, device),
                logsumexp(5, device),
            ];
            for case in &cases {
                let n = case.x.numel() as i64;
                hvp_matches(case, &randn(&[n], Kind::Double, device))?;
                hvp_matches(case, &Tensor::zeros([n], (Kind::Double, device)))?;
                hvp_matches(case, &Tensor::eye(n, (Kind::Double, device)).get(n - 1))?;
            }
            Ok(())
        })
        .check("hessian_vector_product of a linear function is 0", |ctx| {
            let case = linear(4, ctx.device());
            hvp_matches(&case, &randn(&[4], Kind::Double, ctx.device()))
        })
        .check("hessian_vector_product for an x of shape [2, 3], in float32, non-contiguous v", |ctx| {
            let case = matrix_with_cross_term(ctx.device());
            hvp_matches(&case, &randn(&[2, 3], Kind::Double, ctx.device()))?;
            hvp_matches(&case, &randn(&[3, 2], Kind::Double, ctx.device()).tr())?;
            let single = sum_x3_sin(&uniform(&[6], -3.0, 3.0, Kind::Float, ctx.device()));
            hvp_matches(&single, &randn(&[6], Kind::Float, ctx.device()))
        })
        .run()
}
