//! Checks of 03_memory/inplace_safely:
//!
//! - `scaled_relu_affine_in_place` equals the out-of-place version on several shapes (one row,
//!   no rows, one feature), a transposed `x`, float64, scales below and above 1, and leaves its
//!   inputs alone;
//! - its gradients for x, w and b equal the out-of-place version's, for a loss that weighs each
//!   output differently (an in-place step after `relu_` makes backward fail: the message is
//!   libtorch's);
//! - memory, measured in this process against the out-of-place version on [256, 64] x [64, 512]:
//!   at most half its allocated bytes (one [n, k] tensor instead of four), with grad mode off and
//!   on, and at most three quarters of its peak (one tensor held instead of two);
//! - `affine_into` writes x @ w + b into `out` with no allocation at all (after a warm-up call);
//! - `is_safe_in_place` answers each case as libtorch behaves: the check runs every case and
//!   quotes libtorch's error where the learner's answer is wrong.

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, memory, within,
};

tensorlings_support::exercise_modules!("03_memory/inplace_safely.rs");

use exercise::Case;

fn tolerance(kind: Kind) -> Tolerance {
    // The same operations in the same order: only the matrix product may round differently.
    if kind == Kind::Double { Tolerance::for_kind(kind) } else { Tolerance::new(1e-5, 1e-5) }
}

fn values_match(x: &Tensor, w: &Tensor, b: &Tensor, scale: f64) -> CheckResult {
    within(format!("for x of shape {:?}, w of shape {:?}, scale {scale}", x.size(), w.size()), || {
        let (x0, w0, b0) = (x.copy(), w.copy(), b.copy());
        let expected = solution::scaled_relu_affine(&x.copy(), &w.copy(), &b.copy(), scale);
        let got = exercise::scaled_relu_affine_in_place(x, w, b, scale);
        assert_unchanged("x", x, &x0)?;
        assert_unchanged("w", w, &w0)?;
        assert_unchanged("b", b, &b0)?;
        assert_close("scaled_relu_affine_in_place(x, w, b, scale)", &got, &expected, tolerance(x.kind()))
    })
}

fn inputs(n: i64, d: i64, k: i64, kind: Kind, dev: Device) -> (Tensor, Tensor, Tensor) {
    (randn(&[n, d], kind, dev), randn(&[d, k], kind, dev), randn(&[k], kind, dev))
}

/// Gradients of `(f(x, w, b) * r).sum()` with respect to x, w and b, on fresh leaves.
fn grads(
    f: fn(&Tensor, &Tensor, &Tensor, f64) -> Tensor,
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    r: &Tensor,
) -> Vec<Tensor> {
    let leaves: Vec<Tensor> = [x, w, b].iter().map(|t| t.detach().copy().set_requires_grad(true)).collect();
    let y = f(&leaves[0], &leaves[1], &leaves[2], 0.5);
    let loss = (y * r).sum(Kind::Double);
    Tensor::run_backward(&[loss], &leaves, false, false)
}

/// What `t.mul_(2.0)` does in `case`: `Ok` if libtorch accepts it and backward runs, else
/// libtorch's error.
fn run_case(case: Case, dev: Device) -> Result<(), String> {
    let x = randn(&[3, 2], Kind::Float, dev).set_requires_grad(true);
    let w = randn(&[3, 2], Kind::Float, dev).set_requires_grad(true);
    let result = (|| -> Result<(), tch::TchError> {
        let (mut t, loss) = match case {
            Case::LeafRequiringGrad => (w.shallow_clone(), (&w * 2.0).sum(Kind::Float)),
            Case::ViewOfLeaf => (w.f_narrow(0, 0, 1)?, (&w * 2.0).sum(Kind::Float)),
            Case::DataInputOfMul => {
                let t = randn(&[3, 2], Kind::Float, dev);
                let loss = (&t * &w).sum(Kind::Float);
                (t, loss)
            }
            Case::SavedByMul => {
                let t = &x * 3.0;
                let loss = (&t * &w).sum(Kind::Float);
                (t, loss)
            }
            Case::UsedByAdd => {
                let t = &x * 3.0;
                let loss = (&t + &w).sum(Kind::Float);
                (t, loss)
            }
            Case::OutputOfSigmoid => {
                let t = x.sigmoid();
                let loss = (&t * &w).sum(Kind::Float);
                (t, loss)
            }
            Case::InputOfExp => {
                let t = &x * 3.0;
                let loss = t.exp().sum(Kind::Float);
                (t, loss)
            }
            Case::InputOfSin => {
                let t = &x * 3.0;
                let loss = t.sin().sum(Kind::Float);
                (t, loss)
            }
            Case::MadeUnderNoGrad => {
                let t = tch::no_grad(|| &x * 3.0);
                let loss = (&t + &w).sum(Kind::Float);
                (t, loss)
            }
        };
        // A tensor factor, not a scalar one: tch's f_ methods with a Scalar argument panic on a
        // libtorch error (the Scalar's drop reads the error first) instead of returning it.
        let _ = t.f_mul_(&Tensor::from(2.0f32).to_device(dev))?;
        loss.f_backward()
    })();
    result.map_err(|e| {
        let text = e.to_string();
        let text = text.strip_prefix("Internal torch error: ").unwrap_or(&text);
        text.lines().next().unwrap_or_default().to_string()
    })
}

const CASES: [Case; 9] = [
    Case::LeafRequiringGrad,
    Case::ViewOfLeaf,
    Case::DataInputOfMul,
    Case::SavedByMul,
    Case::UsedByAdd,
    Case::OutputOfSigmoid,
    Case::InputOfExp,
    Case::InputOfSin,
    Case::MadeUnderNoGrad,
];

fn main() {
    Checks::new()
        .check("scaled_relu_affine_in_place equals the out-of-place version", |ctx| {
            let dev = ctx.device();
            let (x, w, b) = inputs(4, 3, 5, Kind::Float, dev);
            values_match(&x, &w, &b, 0.5)?;
            values_match(&x, &w, &b, 3.0)?;
            for (n, d, k) in [(1, 1, 1), (0, 3, 2), (6, 2, 1)] {
                let (x, w, b) = inputs(n, d, k, Kind::Float, dev);
                values_match(&x, &w, &b, 0.5)?;
            }
            Ok(())
        })
        .check("scaled_relu_affine_in_place of a transposed x, and in float64", |ctx| {
            let dev = ctx.device();
            let (_, w, b) = inputs(4, 3, 5, Kind::Float, dev);
            values_match(&randn(&[3, 4], Kind::Float, dev).tr(), &w, &b, 2.0)?;
            let (x, w, b) = inputs(4, 3, 5, Kind::Double, dev);
            values_match(&x, &w, &b, 0.5)
        })
        .check("scaled_relu_affine_in_place has the out-of-place version's gradients for x, w and b", |ctx| {
            let dev = ctx.device();
            for (n, d, k) in [(4, 3, 5), (1, 2, 1)] {
                within(format!("for x of shape [{n}, {d}] and w of shape [{d}, {k}], with autograd"), || {
                    let (x, w, b) = inputs(n, d, k, Kind::Double, dev);
                    let r = randn(&[n, k], Kind::Double, dev);
                    let expected = grads(solution::scaled_relu_affine, &x, &w, &b, &r);
                    let got = grads(exercise::scaled_relu_affine_in_place, &x, &w, &b, &r);
                    for (i, name) in ["x", "w", "b"].iter().enumerate() {
                        assert_close(&format!("the gradient for {name}"), &got[i], &expected[i], Tolerance::for_kind(Kind::Double))?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })
        .check("scaled_relu_affine_in_place allocates and holds less than the out-of-place version", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            let (x, w, b) = inputs(256, 64, 512, Kind::Float, dev);
            for grad in [false, true] {
                let (w, b) = (w.shallow_clone().set_requires_grad(grad), b.shallow_clone().set_requires_grad(grad));
                let mode = if grad { "with w and b requiring grad" } else { "without autograd" };
                let measure = |f: fn(&Tensor, &Tensor, &Tensor, f64) -> Tensor| {
                    drop(f(&x, &w, &b, 0.5));
                    memory::measure(dev, || drop(f(&x, &w, &b, 0.5))).map(|(_, m)| m)
                };
                let reference = measure(solution::scaled_relu_affine)?;
                let got = within(format!("for x of shape [256, 64] and w of shape [64, 512], {mode}"), || {
                    measure(exercise::scaled_relu_affine_in_place).map_err(Failure::from)
                })?;
                check_that!(
                    got.allocated_bytes * 2 <= reference.allocated_bytes,
                    "{mode}, scaled_relu_affine_in_place allocated {} in {} allocations, the out-of-place version {}: \
                     only x @ w should allocate its [256, 512] result (512 KiB); add b, scale and relu in place \
                     (g_add_, g_mul_scalar_, relu_)",
                    memory::format_bytes(got.allocated_bytes),
                    got.allocations,
                    memory::format_bytes(reference.allocated_bytes)
                );
                check_that!(
                    got.peak_bytes * 4 <= reference.peak_bytes * 3,
                    "{mode}, scaled_relu_affine_in_place peaked at {}, the out-of-place version at {}: in place, one \
                     [256, 512] tensor is held at a time, not two",
                    memory::format_bytes(got.peak_bytes),
                    memory::format_bytes(reference.peak_bytes)
                );
            }
            Ok(())
        })
        .check("affine_into writes x @ w + b into out and allocates nothing", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            for (n, d, k) in [(64, 32, 16), (1, 3, 1)] {
                within(format!("for x of shape [{n}, {d}] and w of shape [{d}, {k}], under no_grad"), || {
                    let (x, w, b) = inputs(n, d, k, Kind::Float, dev);
                    let expected = x.matmul(&w) + &b;
                    let out = Tensor::full([n, k], f64::NAN, (Kind::Float, dev));
                    tch::no_grad(|| exercise::affine_into(&out, &x, &w, &b));
                    assert_close("out after affine_into(out, x, w, b)", &out, &expected, tolerance(Kind::Float))?;
                    let (_, m) = memory::measure(dev, || tch::no_grad(|| exercise::affine_into(&out, &x, &w, &b)))?;
                    check_that!(
                        m.allocations == 0,
                        "affine_into made {} allocations ({}) on its second call; with the out= variant \
                         (b.addmm_out(out, x, w)) it writes into out and allocates nothing",
                        m.allocations,
                        memory::format_bytes(m.allocated_bytes)
                    );
                    Ok(())
                })?;
            }
            Ok(())
        })
        .check("is_safe_in_place answers every case as libtorch behaves", |ctx| {
            for case in CASES {
                let truth = run_case(case, ctx.device());
                let answer = within(format!("for {case:?}"), || Ok(exercise::is_safe_in_place(case)))?;
                match (&truth, answer) {
                    (Ok(()), false) => {
                        return Err(Failure::new(format!(
                            "is_safe_in_place(Case::{case:?}) returned false, but libtorch accepts t.mul_(2.0) there and \
                             backward runs: nothing saved t for backward, and t is not a leaf that requires grad"
                        )));
                    }
                    (Err(error), true) => {
                        return Err(Failure::new(format!(
                            "is_safe_in_place(Case::{case:?}) returned true, but after t.mul_(2.0) libtorch says: {error}"
                        )));
                    }
                    _ => {}
                }
            }
            Ok(())
        })
        .run()
}
