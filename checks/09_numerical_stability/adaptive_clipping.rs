//! Checks of 09_numerical_stability/adaptive_clipping, against a loop over units written here
//! and against the reference. Regimes: a linear weight whose rows' gradients are far above,
//! near and far below their limit; rows of zero weights (the 1e-3 floor: a large gradient is
//! clipped to 1e-5, a tiny one kept), a zero gradient row (no NaN); a convolution weight (output
//! channels are the units); a bias (one unit), clipped and not; a transposed (non-contiguous)
//! weight; float64; a 0-dimensional parameter. unitwise_norm: shape [out, 1, ..] (a 0-dimensional
//! or [1] result for vectors). adaptive_clip_grads: the gradients are clipped in place, the
//! parameters left alone, a parameter without a gradient skipped.

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("09_numerical_stability/adaptive_clipping.rs");

const EPS: f64 = 1e-3;
const LAMBDA: f64 = 0.01;

/// Rounding only: products of a few correctly rounded numbers. The absolute part is far below
/// the 1e-5-sized gradients that the floor leaves to zero-weight units.
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-15, 1e-10) } else { Tolerance::new(1e-10, 1e-5) }
}

/// The units of `x` as rows of a [units, rest] float64 CPU tensor (a vector or scalar is one).
fn units(x: &Tensor) -> Tensor {
    let x = x.to_kind(Kind::Double).to_device(Device::Cpu);
    if x.dim() <= 1 { x.reshape([1, -1]) } else { x.reshape([x.size()[0], -1]) }
}

/// The clipped gradient, unit by unit, in float64 with a Rust loop; in `grad`'s kind and device.
fn loop_reference(param: &Tensor, grad: &Tensor, clipping: f64, eps: f64) -> Tensor {
    let (p, g) = (units(param), units(grad));
    let rows: Vec<Tensor> = (0..p.size()[0])
        .map(|i| {
            let max_norm = clipping * p.get(i).norm().double_value(&[]).max(eps);
            let grad_norm = g.get(i).norm().double_value(&[]);
            if grad_norm > max_norm { g.get(i) * (max_norm / grad_norm) } else { g.get(i) }
        })
        .collect();
    Tensor::stack(&rows, 0).reshape(grad.size()).to_kind(grad.kind()).to_device(grad.device())
}

/// The unit-wise norms, with a Rust loop, in `x`'s kind and device and the documented shape.
fn loop_norms(x: &Tensor) -> Tensor {
    let u = units(x);
    let norms: Vec<f64> = (0..u.size()[0]).map(|i| u.get(i).norm().double_value(&[])).collect();
    let norms = Tensor::from_slice(&norms).to_kind(x.kind()).to_device(x.device());
    if x.dim() <= 1 {
        norms.reshape([] as [i64; 0])
    } else {
        let mut shape = vec![1i64; x.dim()];
        shape[0] = x.size()[0];
        norms.reshape(shape)
    }
}

fn norms_match(what: &str, x: &Tensor) -> CheckResult {
    within(format!("for {what} of shape {:?}", x.size()), || {
        let before = x.copy();
        let expected = loop_norms(x);
        let got = exercise::unitwise_norm(x);
        assert_unchanged("x", x, &before)?;
        // A vector is one unit: a [1] result broadcasts as well as a 0-dimensional one.
        let got = if x.dim() <= 1 && got.size() == [1] { got.reshape([] as [i64; 0]) } else { got };
        if got.size() != expected.size() && got.numel() == expected.numel() && x.dim() >= 2 {
            return Err(Failure::new(format!(
                "`unitwise_norm(x)` has shape {:?}, expected {:?}: keep the reduced dimensions \
                 (keepdim true), so the norms broadcast against x",
                got.size(),
                expected.size()
            )));
        }
        assert_close("unitwise_norm(x)", &got, &expected, tolerance(x.kind()))
    })
}

fn clip_matches(what: &str, param: &Tensor, grad: &Tensor) -> CheckResult {
    within(format!("for {what} of shape {:?}, lambda {LAMBDA}", param.size()), || {
        let (param_before, grad_before) = (param.copy(), grad.copy());
        let expected = solution::adaptive_clip_grad(&param.copy(), &grad.copy(), LAMBDA, EPS);
        let got = exercise::adaptive_clip_grad(param, grad, LAMBDA, EPS);
        assert_unchanged("param", param, &param_before)?;
        assert_unchanged("grad", grad, &grad_before)?;
        let tol = tolerance(grad.kind());
        let looped = loop_reference(param, grad, LAMBDA, EPS);
        assert_close(
            "adaptive_clip_grad(param, grad, lambda, eps), compared with a loop over units,",
            &got,
            &looped,
            tol,
        )?;
        assert_close("adaptive_clip_grad(param, grad, lambda, eps)", &got, &expected, tol)
    })
}

/// `x` with each unit (slice along dim 0) multiplied by its factor.
fn scale_units(x: &Tensor, factors: &[f64]) -> Tensor {
    let mut shape = vec![1i64; x.dim()];
    shape[0] = factors.len() as i64;
    x * Tensor::from_slice(factors).reshape(shape).to_kind(x.kind()).to_device(x.device())
}

/// A [7, 4] linear weight: rows 3 and 5 are zeros; the gradients' rows are far below their
/// limit (0, 4), far above it (1, 2), above the floor's limit of 1e-5 (3), below it (5), zero (6).
fn linear_case(kind: Kind, device: Device) -> (Tensor, Tensor) {
    let param = scale_units(&randn(&[7, 4], kind, device), &[1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    let grad = scale_units(&randn(&[7, 4], kind, device), &[1e-3, 1.0, 10.0, 1.0, 1e-4, 1e-7, 0.0]);
    (param, grad)
}

fn main() {
    Checks::new()
        .check("unitwise_norm of a linear weight, a convolution weight and a bias", |ctx| {
            let dev = ctx.device();
            norms_match("a linear weight", &randn(&[5, 3], Kind::Float, dev))?;
            norms_match("a convolution weight", &randn(&[4, 3, 3, 2], Kind::Float, dev))?;
            norms_match("a bias", &randn(&[6], Kind::Float, dev))?;
            norms_match("a transposed linear weight", &randn(&[3, 5], Kind::Float, dev).tr())
        })
        .check("adaptive_clip_grad of a linear weight with rows of zeros (the 1e-3 floor)", |ctx| {
            let (param, grad) = linear_case(Kind::Float, ctx.device());
            clip_matches("a linear weight", &param, &grad)
        })
        .check("adaptive_clip_grad of a convolution weight: output channels are the units", |ctx| {
            let dev = ctx.device();
            let param = randn(&[6, 3, 3, 3], Kind::Float, dev) * 0.1;
            let grad =
                scale_units(&randn(&[6, 3, 3, 3], Kind::Float, dev), &[1e-4, 1.0, 1e-5, 10.0, 1.0, 1e-4]);
            clip_matches("a convolution weight", &param, &grad)
        })
        .check("adaptive_clip_grad of a bias (one unit), clipped and not, and of a scalar", |ctx| {
            let dev = ctx.device();
            let param = randn(&[6], Kind::Float, dev);
            clip_matches("a bias with a large gradient", &param, &randn(&[6], Kind::Float, dev))?;
            clip_matches("a bias with a small gradient", &param, &(randn(&[6], Kind::Float, dev) * 1e-4))?;
            let scalar = Tensor::from(2.0f32).to_device(dev);
            clip_matches("a 0-dimensional parameter", &scalar, &Tensor::from(-3.0f32).to_device(dev))
        })
        .check("adaptive_clip_grad of a transposed (non-contiguous) weight", |ctx| {
            let dev = ctx.device();
            let param = randn(&[4, 5], Kind::Float, dev).tr();
            let grad = scale_units(&randn(&[4, 5], Kind::Float, dev).tr(), &[1.0, 1e-4, 1.0, 1e-3, 10.0]);
            clip_matches("a transposed linear weight", &param, &grad)
        })
        .check("adaptive_clip_grad in float64", |ctx| {
            let (param, grad) = linear_case(Kind::Double, ctx.device());
            clip_matches("a float64 linear weight", &param, &grad)
        })
        .check("adaptive_clip_grads clips the gradients in place and leaves the parameters alone", |ctx| {
            let dev = ctx.device();
            let (w, w_grad) = linear_case(Kind::Float, dev);
            let conv = randn(&[3, 2, 2, 2], Kind::Float, dev) * 0.1;
            let conv_grad = scale_units(&randn(&[3, 2, 2, 2], Kind::Float, dev), &[1.0, 1e-5, 10.0]);
            let frozen = randn(&[4], Kind::Float, dev);
            let params = [w.set_requires_grad(true), conv.set_requires_grad(true), frozen];
            let loss = (&params[0] * &w_grad).sum(None::<Kind>) + (&params[1] * &conv_grad).sum(None::<Kind>);
            loss.backward();
            let before: Vec<Tensor> = params.iter().map(|p| p.detach().copy()).collect();
            within("for a linear weight, a convolution weight and a parameter without a gradient", || {
                exercise::adaptive_clip_grads(&params, LAMBDA);
                for (i, (p, b)) in params.iter().zip(&before).enumerate() {
                    assert_unchanged(&format!("params[{i}]"), &p.detach(), b)?;
                }
                if params[2].grad().defined() {
                    return Err(Failure::new("params[2] had no gradient and now has one: leave it alone"));
                }
                for (i, g) in [(0, &w_grad), (1, &conv_grad)] {
                    let got = params[i].grad();
                    if got.equal(g) {
                        return Err(Failure::new(format!(
                            "the gradient of params[{i}] is unchanged: write the clipped gradient \
                             into it in place (`grad.copy_(&clipped)`; p.grad() shares its storage)"
                        )));
                    }
                    let expected = loop_reference(&before[i], g, LAMBDA, EPS);
                    assert_close(
                        &format!("params[{i}].grad() after adaptive_clip_grads"),
                        &got,
                        &expected,
                        tolerance(Kind::Float),
                    )?;
                }
                Ok(())
            })
        })
        .run()
}
