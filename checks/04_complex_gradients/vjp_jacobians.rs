//! Checks of 04_complex_gradients/vjp_jacobians, against closed forms and finite differences.
//!
//! Functions and their Jacobians: softmax (diag(s) - s s^T); a linear map x -> A x, with A of
//! shape [3, 4] (a transposed Jacobian has the wrong shape) and square and not symmetric (a
//! transposed one has the right shape and wrong values: both named); tanh in float32 (diagonal);
//! tanh(W x) * sum(x) against central differences of f itself in float64; X -> X B on an X of
//! shape [2, 3] (J of shape [2, 4, 2, 3], output dimensions first, as
//! torch.autograd.functional.jacobian); a scalar output (J is the gradient, of x's shape); an f
//! that ignores x (no graph: J = 0, and run_backward from it would crash, which is explained on
//! stderr); an empty x; a non-contiguous x; one element. The vector-Jacobian product is compared
//! with J^T v (v of the output's shape, v = ones named when v was forgotten). Rules the exercise
//! states, counted by the function the checks pass: jacobian_by_rows calls f once;
//! jacobian_batched calls it at most twice, once on a batch of m copies of x. Results do not
//! require grad; x and v are left as they were.

use std::cell::RefCell;
use std::rc::Rc;
use tensorlings_support::compare::assert_plain;

use tensorlings_support::crash::{BACKWARD_WITHOUT_GRAD, explain_segfaults};
use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("04_complex_gradients/vjp_jacobians.rs");

/// The shapes of the inputs a function was called on, in order.
type Calls = Rc<RefCell<Vec<Vec<i64>>>>;

/// A function, a point and the Jacobian there.
struct Case {
    name: String,
    f: Rc<dyn Fn(&Tensor) -> Tensor>,
    x: Tensor,
    jacobian: Tensor,
}

impl Case {
    fn new(name: &str, f: impl Fn(&Tensor) -> Tensor + 'static, x: Tensor, jacobian: Tensor) -> Case {
        Case { name: name.into(), f: Rc::new(f), x, jacobian }
    }

    fn describe(&self) -> String {
        let contiguity = if self.x.is_contiguous() { "" } else { " (non-contiguous)" };
        format!("for {}, x of shape {:?}{contiguity} in {:?}", self.name, self.x.size(), self.x.kind())
    }

    /// `f`, and the shapes of the inputs it was called on.
    fn counted(&self) -> (impl Fn(&Tensor) -> Tensor + use<>, Calls) {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let (f, record) = (self.f.clone(), calls.clone());
        (
            move |t: &Tensor| {
                record.borrow_mut().push(t.size());
                f(t)
            },
            calls,
        )
    }

    fn out_shape(&self) -> Vec<i64> {
        let n = self.x.dim();
        let shape = self.jacobian.size();
        shape[..shape.len() - n].to_vec()
    }
}

fn softmax(n: i64, device: Device) -> Case {
    let x = randn(&[n], Kind::Double, device);
    let s = x.softmax(0, Kind::Double);
    Case::new("f(x) = softmax(x)", |t: &Tensor| t.softmax(-1, t.kind()), x, s.diag(0) - s.outer(&s))
}

fn linear(m: i64, n: i64, device: Device) -> Case {
    let a = randn(&[m, n], Kind::Double, device);
    let at = a.tr();
    Case::new(
        &format!("f(x) = A x, A of shape [{m}, {n}]"),
        move |t: &Tensor| t.matmul(&at),
        randn(&[n], Kind::Double, device),
        a,
    )
}

fn tanh(n: i64, kind: Kind, device: Device) -> Case {
    let x = randn(&[n], kind, device);
    let jacobian = (x.tanh().square().neg() + 1.0).diag(0);
    Case::new("f(x) = tanh(x)", |t: &Tensor| t.tanh(), x, jacobian)
}

/// X -> X B for X of shape [rows, k] and B of shape [k, p]: J[i, a, j, b] = (i == j) B[b, a].
fn matrix_product(x: Tensor) -> Case {
    let (rows, k) = (x.size()[0], x.size()[1]);
    let b = randn(&[k, 3], Kind::Double, x.device());
    let eye = Tensor::eye(rows, (Kind::Double, x.device()));
    let jacobian = Tensor::einsum("ij,ba->iajb", &[&eye, &b], None::<i64>);
    Case::new(&format!("f(X) = X B, B of shape [{k}, 3]"), move |t: &Tensor| t.matmul(&b), x, jacobian)
}

fn tolerance(kind: Kind) -> Tolerance {
    // float64: a few epsilons of entries of order 1. float32: a few float32 epsilons.
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-10) } else { Tolerance::new(1e-6, 1e-5) }
}

fn is_close(got: &Tensor, expected: &Tensor, tol: Tolerance) -> bool {
    got.defined() && got.size() == expected.size() && assert_close("", got, expected, tol).is_ok()
}

#[derive(Clone, Copy, PartialEq)]
enum Method {
    ByRows,
    Batched,
}

fn jacobian_matches(method: Method, case: &Case) -> CheckResult {
    within(case.describe(), || {
        let x = &case.x;
        let before = x.copy();
        let (f, calls) = case.counted();
        let (name, got) = match method {
            Method::ByRows => ("jacobian_by_rows(f, x)", exercise::jacobian_by_rows(&f, x)),
            Method::Batched => ("jacobian_batched(f, x)", exercise::jacobian_batched(&f, x)),
        };
        assert_unchanged("x", x, &before)?;
        assert_plain(name, &got)?;
        let expected = case.jacobian.to_kind(x.kind());
        let out = case.out_shape();
        let swapped_shape: Vec<i64> = x.size().iter().chain(&out).copied().collect();
        if got.size() != expected.size() && got.size() == swapped_shape {
            return Err(Failure::new(format!(
                "`{name}` has shape {:?}: the input's dimensions, then the output's. \
                 torch.autograd.functional.jacobian's convention is the output's first: {:?}",
                got.size(),
                expected.size()
            )));
        }
        let tol = tolerance(x.kind());
        assert_close(name, &got, &expected, tol).map_err(|failure| {
            let (m, n) = (out.iter().product::<i64>(), x.numel() as i64);
            let transposed =
                m == n && is_close(&got, &expected.reshape([m, n]).tr().reshape(expected.size()), tol);
            let why = if transposed {
                "\n  it is the transpose: row i (the first dimensions) must be the gradient of output i"
            } else {
                ""
            };
            Failure::new(format!("{}{why}", failure.message()))
        })?;
        let calls = calls.borrow();
        match method {
            Method::ByRows if calls.len() != 1 => Err(Failure::new(format!(
                "`jacobian_by_rows` called f {} times: call it once and keep the graph (keep_graph = true) \
                 for every row",
                calls.len()
            ))),
            Method::Batched => {
                let m: i64 = out.iter().product();
                let batch: Vec<i64> = [m].iter().chain(&x.size()).copied().collect();
                if calls.len() > 2 || (m > 0 && !calls.contains(&batch)) {
                    Err(Failure::new(format!(
                        "`jacobian_batched` called f on {:?}: call it once on a batch of m = {m} copies of x \
                         (shape {batch:?}), at most once more to learn the output's shape",
                        *calls
                    )))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    })
}

fn vjp_matches(case: &Case, v: &Tensor) -> CheckResult {
    within(format!("{}, and v of shape {:?}", case.describe(), v.size()), || {
        let x = &case.x;
        let (x_before, v_before) = (x.copy(), v.copy());
        let got = exercise::vector_jacobian_product(&*case.f, x, v);
        assert_unchanged("x", x, &x_before)?;
        assert_unchanged("v", v, &v_before)?;
        assert_plain("vector_jacobian_product(f, x, v)", &got)?;
        let (m, n) = (v.numel() as i64, x.numel() as i64);
        let jt = case.jacobian.to_kind(Kind::Double).reshape([m, n]).tr();
        let times =
            |w: &Tensor| jt.mv(&w.to_kind(Kind::Double).reshape([m])).reshape(x.size()).to_kind(x.kind());
        let tol = tolerance(x.kind());
        assert_close("vector_jacobian_product(f, x, v)", &got, &times(v), tol).map_err(|failure| {
            let why = if is_close(&got, &times(&v.ones_like()), tol) {
                "\n  it is ones^T J: backward from (y * v).sum(), not from y (which uses v = ones)"
            } else {
                ""
            };
            Failure::new(format!("{}{why}", failure.message()))
        })
    })
}

/// tanh(W x) * sum(x), W of shape [3, 4], with its Jacobian by central differences of f in
/// float64: step 1e-6, error about 1e-10 (truncation h^2 f''' / 6 and rounding 1e-16 / h).
fn finite_difference_case(device: Device) -> Case {
    let w = randn(&[3, 4], Kind::Double, device);
    let wt = w.tr();
    let f = move |t: &Tensor| t.matmul(&wt).tanh() * t.sum_dim_intlist(-1, true, Kind::Double);
    let x = randn(&[4], Kind::Double, device);
    let h = 1e-6;
    let eye = Tensor::eye(4, (Kind::Double, device)) * h;
    let columns: Vec<Tensor> =
        (0..4).map(|j| (f(&(&x + eye.get(j))) - f(&(&x - eye.get(j)))) / (2.0 * h)).collect();
    Case::new("f(x) = tanh(W x) * sum(x), by finite differences", f, x, Tensor::stack(&columns, 1))
}

/// Every Jacobian check, for one method.
fn jacobian_checks<'a>(checks: Checks<'a>, method: Method, prefix: &'static str) -> Checks<'a> {
    checks
        .check(format!("{prefix}: softmax gives diag(s) - s s^T, a linear map its matrix A"), move |ctx| {
            jacobian_matches(method, &softmax(5, ctx.device()))?;
            jacobian_matches(method, &linear(3, 4, ctx.device()))
        })
        .check(format!("{prefix}: a square A that is not symmetric (not transposed)"), move |ctx| {
            jacobian_matches(method, &linear(4, 4, ctx.device()))
        })
        .check(format!("{prefix}: tanh in float32, and a function against finite differences"), move |ctx| {
            jacobian_matches(method, &tanh(6, Kind::Float, ctx.device()))?;
            let case = finite_difference_case(ctx.device());
            within("compared with finite differences", || {
                let got = match method {
                    Method::ByRows => exercise::jacobian_by_rows(&*case.f, &case.x),
                    Method::Batched => exercise::jacobian_batched(&*case.f, &case.x),
                };
                assert_close("the Jacobian", &got, &case.jacobian, Tolerance::new(1e-8, 1e-7))
            })
            .map_err(|f| f.context(case.describe()))
        })
        .check(
            format!("{prefix}: X -> X B on an X of shape [2, 3] has shape [2, 3, 2, 3] (output dims first)"),
            move |ctx| {
                jacobian_matches(method, &matrix_product(randn(&[2, 3], Kind::Double, ctx.device())))?;
                jacobian_matches(method, &matrix_product(randn(&[4, 2], Kind::Double, ctx.device()).tr()))
            },
        )
        .check(
            format!("{prefix}: a scalar output (J is the gradient), one element, an empty x"),
            move |ctx| {
                let x = randn(&[4], Kind::Double, ctx.device());
                let gradient = &x * 2.0;
                jacobian_matches(
                    method,
                    &Case::new(
                        "f(x) = sum(x^2)",
                        |t: &Tensor| t.square().sum_dim_intlist(-1, false, Kind::Double),
                        x,
                        gradient,
                    ),
                )?;
                jacobian_matches(method, &linear(1, 1, ctx.device()))?;
                jacobian_matches(method, &linear(3, 0, ctx.device()))
            },
        )
        .check(format!("{prefix}: an f that ignores x has J = 0"), move |ctx| {
            let x = randn(&[3], Kind::Double, ctx.device());
            let constant = |t: &Tensor| t.detach().narrow(-1, 0, 2).zeros_like() + 1.0;
            let zeros = Tensor::zeros([2, 3], (Kind::Double, ctx.device()));
            jacobian_matches(method, &Case::new("f(x) = [1, 1] (no graph)", constant, x, zeros))
        })
}

fn main() {
    // A learner's run_backward from an output without a graph crashes the process: say why.
    let _ = explain_segfaults(BACKWARD_WITHOUT_GRAD);
    let checks = Checks::new()
        .check("vector_jacobian_product equals J^T v: a linear map, softmax, a matrix function", |ctx| {
            let device = ctx.device();
            let case = linear(3, 4, device);
            vjp_matches(&case, &randn(&[3], Kind::Double, device))?;
            vjp_matches(&softmax(5, device), &randn(&[5], Kind::Double, device))?;
            vjp_matches(
                &matrix_product(randn(&[2, 3], Kind::Double, device)),
                &randn(&[2, 3], Kind::Double, device),
            )
        })
        .check("vector_jacobian_product of an f that ignores x is 0, in float32 too", |ctx| {
            let x = randn(&[3], Kind::Double, ctx.device());
            let constant = |t: &Tensor| t.detach().narrow(-1, 0, 2).zeros_like() + 1.0;
            let zeros = Tensor::zeros([2, 3], (Kind::Double, ctx.device()));
            vjp_matches(
                &Case::new("f(x) = [1, 1] (no graph)", constant, x, zeros),
                &randn(&[2], Kind::Double, ctx.device()),
            )?;
            vjp_matches(&tanh(5, Kind::Float, ctx.device()), &randn(&[5], Kind::Float, ctx.device()))
        });
    let checks = jacobian_checks(checks, Method::ByRows, "jacobian_by_rows");
    jacobian_checks(checks, Method::Batched, "jacobian_batched").run()
}
