//! Checks of 09_numerical_stability/stable_layer_norm: values and gradients (of x, weight and
//! bias) against torch's layer_norm and the reference. Regimes: ordinary features with weight
//! and bias; two normalized dimensions; no weight nor bias, a transposed (non-contiguous) input
//! and eps 0.1 (where eps outside the square root shows); features of size 1 (variance 0) and an
//! empty batch; mean 1e4 and standard deviation 1e-2, where E[x^2] - E[x]^2 loses every digit: in
//! float64 to full precision (values and gradients), in float32 against the exact result within
//! what float32's rounding of the mean allows; float16 and bfloat16 (computed in float32, returned
//! in the input's kind); the built-in is not called.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::assert_grad_close;
use tensorlings_support::profile::{self, ProfileCase};
use tensorlings_support::random::randn;
use tensorlings_support::source::assert_no_method_calls;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("09_numerical_stability/stable_layer_norm.rs");

/// One input of layer_norm.
struct Case {
    x: Tensor,
    shape: Vec<i64>,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    eps: f64,
}

impl Case {
    fn new(x: Tensor, shape: &[i64], affine: bool, eps: f64) -> Self {
        let (kind, device) = (x.kind(), x.device());
        let weight = affine.then(|| randn(shape, Kind::Float, device).to_kind(kind) + 1.0);
        let bias = affine.then(|| randn(shape, Kind::Float, device).to_kind(kind));
        Case { x, shape: shape.to_vec(), weight, bias, eps }
    }

    fn describe(&self) -> String {
        let affine = if self.weight.is_some() { "with weight and bias" } else { "without weight and bias" };
        format!(
            "for x of shape {:?} ({:?}) normalized over {:?}, {affine}, eps {}",
            self.x.size(),
            self.x.kind(),
            self.shape,
            self.eps
        )
    }

    /// torch's layer_norm on these inputs in `kind` (float32 for half precision, rounded back).
    fn builtin_in(&self, x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>, kind: Kind) -> Tensor {
        let (w, b) = (w.map(|w| w.to_kind(kind)), b.map(|b| b.to_kind(kind)));
        x.to_kind(kind).layer_norm(self.shape.as_slice(), w.as_ref(), b.as_ref(), self.eps, false)
    }

    fn builtin(&self, x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>) -> Tensor {
        let kind = match x.kind() {
            Kind::Half | Kind::BFloat16 => Kind::Float,
            kind => kind,
        };
        self.builtin_in(x, w, b, kind).to_kind(x.kind())
    }
}

fn tolerance(kind: Kind) -> Tolerance {
    match kind {
        Kind::Double => Tolerance::new(1e-9, 1e-9),
        Kind::Float => Tolerance::new(1e-5, 1e-5),
        kind => Tolerance::for_kind(kind),
    }
}

/// Values: the reference first on copies, then the exercise; the inputs as they were; then
/// against the reference and against layer_norm with `tol`.
fn values_match(case: &Case, tol: Tolerance) -> CheckResult {
    within(case.describe(), || {
        let before = case.x.copy();
        let copies = (case.weight.as_ref().map(Tensor::copy), case.bias.as_ref().map(Tensor::copy));
        let expected =
            solution::layer_norm(&case.x.copy(), &case.shape, copies.0.as_ref(), copies.1.as_ref(), case.eps);
        let got =
            exercise::layer_norm(&case.x, &case.shape, case.weight.as_ref(), case.bias.as_ref(), case.eps);
        assert_unchanged("x", &case.x, &before)?;
        assert_close("layer_norm(x, ..)", &got, &expected, tol)?;
        let builtin = case.builtin(&case.x, case.weight.as_ref(), case.bias.as_ref());
        assert_close("layer_norm(x, ..), compared with torch's,", &got, &builtin, tol)
    })
}

/// Features of mean 1e4 and standard deviation 1e-2, of shape [6, 64].
fn large_mean(kind: Kind, device: Device) -> Tensor {
    (randn(&[6, 64], Kind::Double, device) * 1e-2 + 1e4).to_kind(kind)
}

/// What to do when an input of mean 1e4 fails.
fn explain_cancellation(failure: Failure) -> Failure {
    // Only for wrong values: a panic (a todo!(), a libtorch error) speaks for itself.
    if !failure.message().contains("differs from the reference") && !failure.message().contains("has NaN") {
        return failure;
    }
    Failure::new(format!(
        "{}\n  with a mean of 1e4 and a spread of 1e-2, E[x^2] - E[x]^2 subtracts two numbers of \
         about 1e8 to get 1e-4: compute the mean first, then the mean of (x - mean)^2",
        failure.message()
    ))
}

/// float32 at mean 1e4: against the exact layer norm of the same float32 numbers (computed in
/// float64). float32 numbers near 1e4 are 2^-10 apart, so the computed mean may be off by a few
/// of those spacings, and every output by that over the standard deviation (with eps):
/// 4 * 2^-10 / sqrt(1e-4 + 1e-5) = 0.37. torch's own float32 layer_norm is off by about 0.1
/// here; E[x^2] - E[x]^2 by the whole value, or NaN.
fn large_mean_float32(device: Device) -> CheckResult {
    let x = large_mean(Kind::Float, device);
    let case = Case::new(x, &[64], false, 1e-5);
    within(case.describe(), || {
        let got = exercise::layer_norm(&case.x, &case.shape, None, None, case.eps);
        let exact = case.builtin_in(&case.x, None, None, Kind::Double).to_kind(Kind::Float);
        let var = case.x.to_kind(Kind::Double).var_dim(-1, false, true).max().double_value(&[]);
        let atol = 4.0 * 2f64.powi(-10) / (var + case.eps).sqrt();
        if got.isnan().any().int64_value(&[]) != 0 {
            return Err(Failure::new(
                "`layer_norm(x, ..)` has NaN, where the exact result has none: the variance came \
                 out negative",
            ));
        }
        assert_close(
            "layer_norm(x, ..), compared with the exact result,",
            &got,
            &exact,
            Tolerance::new(atol, 0.0),
        )
    })
    .map_err(explain_cancellation)
}

/// A layer norm to differentiate: the learner's or torch's, on (x, weight, bias).
type LayerNorm<'a> = &'a dyn Fn(&Tensor, Option<&Tensor>, Option<&Tensor>) -> Tensor;

/// Gradients of sum(layer_norm(..) * g) with respect to x, weight and bias, against layer_norm's.
fn gradients_match(case: &Case, tol: Tolerance) -> CheckResult {
    within(format!("for the gradients {}", case.describe().replacen("for x", "with x", 1)), || {
        let g = randn(&case.x.size(), case.x.kind(), case.x.device());
        let leaves = |t: &Tensor| t.detach().copy().set_requires_grad(true);
        let run = |f: LayerNorm| -> Result<Vec<Tensor>, Failure> {
            let x = leaves(&case.x);
            let (w, b) = (case.weight.as_ref().map(leaves), case.bias.as_ref().map(leaves));
            let y = f(&x, w.as_ref(), b.as_ref());
            if !y.requires_grad() {
                return Err(Failure::new(
                    "`layer_norm(x, ..)` does not require grad for inputs that do: build it from \
                     differentiable tensor operations",
                ));
            }
            let mut inputs = vec![&x];
            inputs.extend(w.iter().chain(b.iter()));
            let grads = Tensor::f_run_backward(&[(y * &g).sum(None::<Kind>)], &inputs, false, false)?;
            Ok(grads)
        };
        let got = run(&|x, w, b| exercise::layer_norm(x, &case.shape, w, b, case.eps))?;
        let expected = run(&|x, w, b| case.builtin(x, w, b))?;
        for ((name, got), expected) in ["x", "weight", "bias"].iter().zip(got).zip(expected) {
            assert_grad_close(&format!("{name}, compared with torch's layer_norm,"), &got, &expected, tol)?;
        }
        Ok(())
    })
}

fn main() {
    Checks::new()
        .check("[4, 8] normalized over [8], with weight and bias", |ctx| {
            values_match(
                &Case::new(randn(&[4, 8], Kind::Float, ctx.device()), &[8], true, 1e-5),
                tolerance(Kind::Float),
            )
        })
        .check("[2, 3, 4, 5] normalized over its last two dimensions [4, 5]", |ctx| {
            let case = Case::new(randn(&[2, 3, 4, 5], Kind::Float, ctx.device()), &[4, 5], true, 1e-5);
            values_match(&case, tolerance(Kind::Float))
        })
        .check("no weight nor bias, a transposed input, eps 0.1", |ctx| {
            let x = randn(&[8, 4], Kind::Float, ctx.device()).tr();
            values_match(&Case::new(x, &[8], false, 0.1), tolerance(Kind::Float))
        })
        .check("features of size 1 (variance 0), and an empty batch", |ctx| {
            values_match(
                &Case::new(randn(&[3, 1], Kind::Float, ctx.device()), &[1], true, 1e-5),
                tolerance(Kind::Float),
            )?;
            values_match(
                &Case::new(randn(&[0, 8], Kind::Float, ctx.device()), &[8], true, 1e-5),
                tolerance(Kind::Float),
            )
        })
        .check("mean 1e4, standard deviation 1e-2 in float64: every digit", |ctx| {
            let case = Case::new(large_mean(Kind::Double, ctx.device()), &[64], true, 1e-5);
            values_match(&case, tolerance(Kind::Double)).map_err(explain_cancellation)
        })
        .check("mean 1e4, standard deviation 1e-2 in float32: within float32's rounding of the mean", |ctx| {
            large_mean_float32(ctx.device())
        })
        .check("float16 and bfloat16: computed in float32, returned in the input's kind", |ctx| {
            for kind in [Kind::Half, Kind::BFloat16] {
                // A mean of 300: x^2 is beyond float16's 65504, and the mean rounded to float16
                // (spacing 0.25 there) is far off the spread of 2.
                let x = (randn(&[4, 64], Kind::Float, ctx.device()) * 2.0 + 300.0).to_kind(kind);
                values_match(&Case::new(x, &[64], true, 1e-5), tolerance(kind))?;
            }
            Ok(())
        })
        .check("gradients of x, weight and bias equal layer_norm's", |ctx| {
            let tol = Tolerance::new(1e-5, 1e-4);
            gradients_match(&Case::new(randn(&[3, 10], Kind::Float, ctx.device()), &[10], true, 1e-5), tol)?;
            gradients_match(
                &Case::new(randn(&[2, 3, 4, 5], Kind::Float, ctx.device()), &[4, 5], true, 1e-5),
                tol,
            )?;
            gradients_match(&Case::new(randn(&[3, 6], Kind::Float, ctx.device()), &[6], false, 0.1), tol)
        })
        .check("gradients at mean 1e4, standard deviation 1e-2 in float64", |ctx| {
            // The gradient of x is about 1 / 1e-2 = 100 times g: relative precision is what counts.
            let case = Case::new(large_mean(Kind::Double, ctx.device()), &[64], true, 1e-5);
            gradients_match(&case, Tolerance::new(1e-6, 1e-8))
        })
        .check("the built-in normalizations are not called", |_ctx| {
            assert_no_method_calls(
                EXERCISE_SOURCE,
                &[
                    "layer_norm",
                    "native_layer_norm",
                    "group_norm",
                    "native_group_norm",
                    "batch_norm",
                    "instance_norm",
                ],
                "the exercise is to write layer norm yourself (torch's is what yours is compared \
                 with): mean, centered, variance, divide",
            )
        })
        // `tensorlings profile`: n rows of 1024 features with a weight and a bias, against
        // layer_norm.
        .profile("layer_norm", profile::sizes("n", [16, 256, 4096]), |n, device| {
            let x = randn(&[n, 1024], Kind::Float, device);
            let (weight, bias) = (randn(&[1024], Kind::Float, device), randn(&[1024], Kind::Float, device));
            // Optional tensors among the arguments: a case of its own rather than profile_case!.
            ProfileCase::new(vec![x, weight, bias])
                .exercise(|x| exercise::layer_norm(&x[0], &[1024], Some(&x[1]), Some(&x[2]), 1e-5))
                .reference(|x| solution::layer_norm(&x[0], &[1024], Some(&x[1]), Some(&x[2]), 1e-5))
                .builtin("F.layer_norm", |x| x[0].layer_norm([1024], Some(&x[1]), Some(&x[2]), 1e-5, false))
        })
        .run()
}
