//! Checks of 04_complex_gradients/hidden_activation_grads, against the closed form of the
//! two-layer net's gradients (computed by hand in float64, no autograd): dL/dout = 2 (out -
//! target) / numel, dL/da = dL/dout w2^T, dL/dh = dL/da (1 - a^2), dL/dw1 = x^T dL/dh, dL/db1 =
//! the column sums of dL/dh.
//!
//! Regimes: a batch of five and a batch of one; float64; a non-contiguous x (a transposed view);
//! saturated units (x scaled by 20: tanh' is about 0 there, so dL/dh is tiny where dL/da is not,
//! which tells the two apart); the order of the returned pair (h first), checked with a message
//! when swapped. Rules the exercise states: the retain_grad version fills the parameters'
//! gradients once (a training step's backward) and uses retain_grad; the cut version and
//! first_layer_grads leave the parameters' `grad()` undefined; first_layer_grads called twice on
//! the same net gives the same answer (nothing accumulates), for any incoming gradient, not only
//! the loss's. Returned gradients must not require grad. Inputs are left as they were.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("04_complex_gradients/hidden_activation_grads.rs");

/// The gradients of the loss, by hand.
struct ClosedForm {
    grad_h: Tensor,
    grad_a: Tensor,
    grad_w1: Tensor,
    grad_b1: Tensor,
    grad_w2: Tensor,
    grad_b2: Tensor,
}

/// Parameters and data of one case, as plain tensors (no graph).
struct Case {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    x: Tensor,
    target: Tensor,
}

impl Case {
    fn random(batch: i64, inputs: i64, hidden: i64, outputs: i64, kind: Kind, device: Device) -> Case {
        Case {
            w1: randn(&[inputs, hidden], kind, device),
            b1: randn(&[hidden], kind, device),
            w2: randn(&[hidden, outputs], kind, device),
            b2: randn(&[outputs], kind, device),
            x: randn(&[batch, inputs], kind, device),
            target: randn(&[batch, outputs], kind, device),
        }
    }

    fn describe(&self) -> String {
        let contiguity = if self.x.is_contiguous() { "" } else { " (non-contiguous)" };
        format!(
            "for x of shape {:?}{contiguity}, {} hidden units, {:?}",
            self.x.size(),
            self.w1.size()[1],
            self.x.kind()
        )
    }

    /// A fresh network: parameters are new leaves that require grad, with no gradient yet.
    fn net<N>(&self, make: impl Fn(Tensor, Tensor, Tensor, Tensor) -> N) -> N {
        let leaf = |t: &Tensor| t.copy().set_requires_grad(true);
        make(leaf(&self.w1), leaf(&self.b1), leaf(&self.w2), leaf(&self.b2))
    }

    fn exercise_net(&self) -> exercise::TwoLayerNet {
        self.net(|w1, b1, w2, b2| exercise::TwoLayerNet { w1, b1, w2, b2 })
    }

    fn closed_form(&self) -> ClosedForm {
        let d = |t: &Tensor| t.detach().to_kind(Kind::Double);
        let (w1, b1, w2, b2, x, target) =
            (d(&self.w1), d(&self.b1), d(&self.w2), d(&self.b2), d(&self.x), d(&self.target));
        let a = (x.matmul(&w1) + b1).tanh();
        let out = a.matmul(&w2) + b2;
        let grad_out = (out - target) * (2.0 / (self.target.numel() as f64));
        let grad_a = grad_out.matmul(&w2.tr());
        let grad_h = &grad_a * (1.0 - a.square());
        let back = |t: Tensor| t.to_kind(self.x.kind());
        ClosedForm {
            grad_w1: back(x.tr().matmul(&grad_h)),
            grad_b1: back(grad_h.sum_dim_intlist(0, false, Kind::Double)),
            grad_w2: back(a.tr().matmul(&grad_out)),
            grad_b2: back(grad_out.sum_dim_intlist(0, false, Kind::Double)),
            grad_h: back(grad_h),
            grad_a: back(grad_a),
        }
    }
}

/// float32: the loss is a mean of squares of sums of a few products, each rounded; autograd and
/// the float64 closed form differ by a few float32 epsilons relative to the values, plus an
/// absolute part for gradients near 0 (saturated units).
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-10) } else { Tolerance::new(1e-6, 1e-4) }
}

/// A returned gradient: defined, not requiring grad, and close to the closed form.
fn gradient_matches(what: &str, got: &Tensor, expected: &Tensor, missing: &str) -> CheckResult {
    if !got.defined() {
        return Err(Failure::new(format!("`{what}` is an undefined tensor: {missing}")));
    }
    if got.requires_grad() {
        return Err(Failure::new(format!(
            "`{what}` requires grad: return a plain tensor (`.detach()`), not one that holds on to a graph"
        )));
    }
    assert_close(what, got, expected, tolerance(expected.kind()))
}

/// The pair `(dL/dh, dL/da)` against the closed form, with a word when it is the other way round.
fn pair_matches(function: &str, got: &(Tensor, Tensor), expected: &ClosedForm, missing: &str) -> CheckResult {
    let tol = tolerance(expected.grad_h.kind());
    let swapped = got.0.defined()
        && got.1.defined()
        && got.0.size() == expected.grad_a.size()
        && assert_close("", &got.0, &expected.grad_a, tol).is_ok()
        && assert_close("", &got.1, &expected.grad_h, tol).is_ok();
    if swapped {
        return Err(Failure::new(format!(
            "`{function}` returned (dL/da, dL/dh): return dL/dh (the pre-activation's) first, then dL/da"
        )));
    }
    gradient_matches(&format!("{function}: dL/dh"), &got.0, &expected.grad_h, missing)?;
    gradient_matches(&format!("{function}: dL/da"), &got.1, &expected.grad_a, missing)
}

fn inputs_unchanged(case: &Case, run: impl FnOnce(&Tensor, &Tensor) -> CheckResult) -> CheckResult {
    let (x_before, target_before) = (case.x.copy(), case.target.copy());
    run(&case.x, &case.target)?;
    assert_unchanged("x", &case.x, &x_before)?;
    assert_unchanged("target", &case.target, &target_before)
}

/// `name`'s gradient after a call: undefined, as it was.
fn grad_untouched(function: &str, name: &str, param: &Tensor) -> CheckResult {
    if param.grad().defined() {
        return Err(Failure::new(format!(
            "`{function}` filled `net.{name}.grad()`: it must leave the parameters' gradients alone. \
             Ask run_backward for the gradients you need (its inputs), which accumulates nothing; \
             backward() accumulates into every leaf"
        )));
    }
    Ok(())
}

fn retain_matches(case: &Case) -> CheckResult {
    within(case.describe(), || {
        let expected = case.closed_form();
        // The reference on a network of its own, to prove the protocol (and the closed form) sound.
        let reference_net = case.net(|w1, b1, w2, b2| solution::TwoLayerNet { w1, b1, w2, b2 });
        let reference = solution::hidden_grads_retain(&reference_net, &case.x.copy(), &case.target.copy());
        pair_matches("the reference's hidden_grads_retain", &reference, &expected, "")?;
        let net = case.exercise_net();
        inputs_unchanged(case, |x, target| {
            let got = exercise::hidden_grads_retain(&net, x, target);
            pair_matches(
                "hidden_grads_retain",
                &got,
                &expected,
                "call retain_grad on h and on a BEFORE backward (backward decides then which gradients it keeps), \
                 and return h.grad() and a.grad()",
            )
        })?;
        let params = [
            ("w1", &net.w1, &expected.grad_w1),
            ("b1", &net.b1, &expected.grad_b1),
            ("w2", &net.w2, &expected.grad_w2),
            ("b2", &net.b2, &expected.grad_b2),
        ];
        for (name, param, grad) in params {
            gradient_matches(
                &format!("net.{name}.grad() after hidden_grads_retain"),
                &param.grad(),
                grad,
                "call loss.backward(), as a training step does: it fills every parameter's gradient",
            )?;
        }
        Ok(())
    })
}

fn cut_matches(case: &Case) -> CheckResult {
    within(case.describe(), || {
        let expected = case.closed_form();
        let reference_net = case.net(|w1, b1, w2, b2| solution::TwoLayerNet { w1, b1, w2, b2 });
        let reference = solution::hidden_grads_by_cut(&reference_net, &case.x.copy(), &case.target.copy());
        pair_matches("the reference's hidden_grads_by_cut", &reference, &expected, "")?;
        let net = case.exercise_net();
        inputs_unchanged(case, |x, target| {
            let got = exercise::hidden_grads_by_cut(&net, x, target);
            pair_matches(
                "hidden_grads_by_cut",
                &got,
                &expected,
                "return the gradients run_backward gives for the two leaves you cut",
            )
        })?;
        for (name, param) in [("w1", &net.w1), ("b1", &net.b1), ("w2", &net.w2), ("b2", &net.b2)] {
            grad_untouched("hidden_grads_by_cut", name, param)?;
        }
        Ok(())
    })
}

/// first_layer_grads with the loss's dL/dh (closed form), then twice with a random incoming
/// gradient g, which must give `x^T g` and the column sums of `g` both times.
fn first_layer_matches(case: &Case) -> CheckResult {
    within(case.describe(), || {
        let expected = case.closed_form();
        let net = case.exercise_net();
        let check = |grad_h: &Tensor, grad_w1: &Tensor, grad_b1: &Tensor, call: &str| -> CheckResult {
            let (x_before, grad_h_before) = (case.x.copy(), grad_h.copy());
            let (w1, b1) = exercise::first_layer_grads(&net, &case.x, grad_h);
            assert_unchanged("x", &case.x, &x_before)?;
            assert_unchanged("grad_h", grad_h, &grad_h_before)?;
            let missing = "return what run_backward gives for [w1, b1]";
            gradient_matches(&format!("first_layer_grads: dL/dw1 ({call})"), &w1, grad_w1, missing)?;
            gradient_matches(&format!("first_layer_grads: dL/db1 ({call})"), &b1, grad_b1, missing)?;
            grad_untouched("first_layer_grads", "w1", &net.w1)?;
            grad_untouched("first_layer_grads", "b1", &net.b1)
        };
        check(&expected.grad_h, &expected.grad_w1, &expected.grad_b1, "with the loss's dL/dh")?;
        // Any incoming gradient, not one tied to this loss: the layer's backward is x^T g.
        let g = randn(&[case.x.size()[0], case.w1.size()[1]], case.x.kind(), case.x.device());
        let double = |t: &Tensor| t.to_kind(Kind::Double);
        let w1 = double(&case.x).tr().matmul(&double(&g)).to_kind(g.kind());
        let b1 = double(&g).sum_dim_intlist(0, false, Kind::Double).to_kind(g.kind());
        check(&g, &w1, &b1, "with a random incoming gradient g, where dL/dw1 = x^T g")?;
        check(&g, &w1, &b1, "with the same g, called again on the same net")
    })
}

fn main() {
    Checks::new()
        .check("hidden_grads_retain: dL/dh, dL/da and the parameters' gradients on a batch of 5", |ctx| {
            retain_matches(&Case::random(5, 3, 4, 2, Kind::Float, ctx.device()))
        })
        .check("hidden_grads_retain on a batch of 1, in float64, and with a non-contiguous x", |ctx| {
            retain_matches(&Case::random(1, 3, 4, 2, Kind::Float, ctx.device()))?;
            retain_matches(&Case::random(6, 2, 3, 3, Kind::Double, ctx.device()))?;
            let mut case = Case::random(4, 3, 5, 2, Kind::Float, ctx.device());
            case.x = randn(&[3, 4], Kind::Float, ctx.device()).tr();
            retain_matches(&case)
        })
        .check(
            "hidden_grads_retain with saturated units (tanh' about 0, dL/dh much smaller than dL/da)",
            |ctx| {
                let mut case = Case::random(4, 3, 4, 2, Kind::Double, ctx.device());
                case.x = &case.x * 20.0;
                retain_matches(&case)
            },
        )
        .check("hidden_grads_retain uses retain_grad", |_| {
            assert_calls(
                EXERCISE_SOURCE,
                "retain_grad",
                "hidden_grads_retain is about retain_grad (tensorlings_support::autograd::retain_grad): \
                 mark h and a with it before backward",
            )
        })
        .check("hidden_grads_by_cut: dL/dh and dL/da, the parameters' gradients left alone", |ctx| {
            cut_matches(&Case::random(5, 3, 4, 2, Kind::Float, ctx.device()))
        })
        .check("hidden_grads_by_cut on a batch of 1, in float64, saturated, non-contiguous", |ctx| {
            cut_matches(&Case::random(1, 3, 4, 2, Kind::Float, ctx.device()))?;
            let mut saturated = Case::random(4, 3, 4, 2, Kind::Double, ctx.device());
            saturated.x = &saturated.x * 20.0;
            cut_matches(&saturated)?;
            let mut case = Case::random(4, 3, 5, 2, Kind::Float, ctx.device());
            case.x = randn(&[3, 4], Kind::Float, ctx.device()).tr();
            cut_matches(&case)
        })
        .check(
            "first_layer_grads: dL/dw1 and dL/db1 from dL/dh, and from any incoming gradient, twice",
            |ctx| first_layer_matches(&Case::random(5, 3, 4, 2, Kind::Float, ctx.device())),
        )
        .check("first_layer_grads on a batch of 1 and in float64", |ctx| {
            first_layer_matches(&Case::random(1, 3, 4, 2, Kind::Float, ctx.device()))?;
            first_layer_matches(&Case::random(6, 2, 3, 3, Kind::Double, ctx.device()))
        })
        .run()
}
