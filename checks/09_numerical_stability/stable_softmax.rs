//! Checks of 09_numerical_stability/stable_softmax: stable_logsumexp, stable_softmax and
//! stable_log_softmax against the reference and against torch's built-ins (computed in float32
//! for half-precision inputs), entry by entry. Regimes: ordinary logits; magnitudes 1e4, where a
//! naive exp overflows (float32 and float64), and 1e-30; dim 0, a negative dim and a transposed
//! (non-contiguous) input; rows of size 1 and an empty batch; fully masked rows (every entry
//! -inf: zeros, -inf and -inf as the exercise documents) beside partly masked ones; float16 and
//! bfloat16 (computed in float32, returned in the input's kind: rows whose logsumexp is near 0
//! show rounding in half precision); gradients equal the built-ins' and are free of NaN on
//! masked rows; the built-ins themselves are not called.

use tch::{Kind, Tensor};
use tensorlings_support::random::{randn, with_magnitude};
use tensorlings_support::source::assert_no_method_calls;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};
use tensorlings_support::{profile, profile_case};

tensorlings_support::exercise_modules!("09_numerical_stability/stable_softmax.rs");

/// One of the three functions of the exercise.
#[derive(Clone, Copy)]
enum Op {
    LogSumExp,
    Softmax,
    LogSoftmax,
}

const ALL: [Op; 3] = [Op::LogSumExp, Op::Softmax, Op::LogSoftmax];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::LogSumExp => "stable_logsumexp(x, dim)",
            Op::Softmax => "stable_softmax(x, dim)",
            Op::LogSoftmax => "stable_log_softmax(x, dim)",
        }
    }

    fn exercise(self, x: &Tensor, dim: i64) -> Tensor {
        match self {
            Op::LogSumExp => exercise::stable_logsumexp(x, dim),
            Op::Softmax => exercise::stable_softmax(x, dim),
            Op::LogSoftmax => exercise::stable_log_softmax(x, dim),
        }
    }

    fn solution(self, x: &Tensor, dim: i64) -> Tensor {
        match self {
            Op::LogSumExp => solution::stable_logsumexp(x, dim),
            Op::Softmax => solution::stable_softmax(x, dim),
            Op::LogSoftmax => solution::stable_log_softmax(x, dim),
        }
    }

    /// torch's own, in float32 for half-precision inputs and rounded back, as autocast does.
    fn builtin(self, x: &Tensor, dim: i64) -> Tensor {
        let wide = match x.kind() {
            Kind::Half | Kind::BFloat16 => x.to_kind(Kind::Float),
            _ => x.shallow_clone(),
        };
        let y = match self {
            Op::LogSumExp => wide.logsumexp([dim], false),
            Op::Softmax => wide.softmax(dim, None::<Kind>),
            Op::LogSoftmax => wide.log_softmax(dim, None::<Kind>),
        };
        y.to_kind(x.kind())
    }
}

/// Between two correct answers: a few roundings apart. float32 values are compared relatively
/// (logsumexp of 1e4-sized logits is about 3e4, where one rounding is 2e-3); half precision with
/// torch's defaults for its kind, which allow about one rounding of the result (computing in
/// float32 and rounding once stays within it; rounding every step does not).
fn tolerance(kind: Kind) -> Tolerance {
    match kind {
        Kind::Double => Tolerance::new(1e-12, 1e-10),
        Kind::Float => Tolerance::new(1e-6, 1e-5),
        kind => Tolerance::for_kind(kind),
    }
}

/// Fails with what to do when `got` is not finite somewhere the reference is finite: the two
/// ways that happens are an exp that overflowed and a probability that underflowed before a log.
fn no_overflow(op: Op, got: &Tensor, expected: &Tensor) -> CheckResult {
    if got.size() != expected.size() || got.numel() == 0 {
        return Ok(());
    }
    let bad = got.isfinite().logical_not().logical_and(&expected.isfinite());
    if bad.any().int64_value(&[]) == 0 {
        return Ok(());
    }
    let at = Vec::<i64>::try_from(&bad.nonzero().get(0)).map_err(Failure::from)?;
    Err(Failure::new(format!(
        "`{}` is {} at {at:?}, where the result is {}: exp of large logits overflows (exp(89) is \
         inf in float32), and a probability that underflows to 0 has log -inf: subtract each \
         row's maximum before exp, and write log_softmax as (x - max) - log(sum(exp(x - max))), \
         not as the log of the softmax",
        op.name(),
        got.to_kind(Kind::Double).double_value(&at),
        expected.to_kind(Kind::Double).double_value(&at)
    )))
}

/// Fails with the documented choice when a fully masked row of `x` gave NaN.
fn masked_rows_not_nan(op: Op, x: &Tensor, dim: i64, got: &Tensor, expected: &Tensor) -> CheckResult {
    if got.size() != expected.size() || got.numel() == 0 {
        return Ok(());
    }
    let masked = fully_masked(x, dim);
    let masked = match op {
        Op::LogSumExp => masked.squeeze_dim(dim),
        _ => masked.expand_as(x),
    };
    let nan = got.isnan().logical_and(&expected.isnan().logical_not()).logical_and(&masked);
    if nan.any().int64_value(&[]) == 0 {
        return Ok(());
    }
    let at = Vec::<i64>::try_from(&nan.nonzero().get(0)).map_err(Failure::from)?;
    Err(Failure::new(format!(
        "`{}` is NaN at {at:?}, in a fully masked row (every logit -inf): its maximum is -inf and \
         -inf - (-inf) is NaN. Shift such a row by 0 instead, and keep 0 / 0 and log(0) out: the \
         course's choice is zeros for softmax, -inf for log_softmax and logsumexp",
        op.name()
    )))
}

/// One function on `x` over `dim`: the reference first on a copy, then the exercise; `x` as it
/// was; then the result against the reference and against the built-in (where the built-in is
/// not NaN: it is NaN on fully masked rows, where the course chose otherwise).
fn op_matches(op: Op, x: &Tensor, dim: i64) -> CheckResult {
    let kind = x.kind();
    within(format!("for x of shape {:?} ({kind:?}) over dim {dim}", x.size()), || {
        let before = x.copy();
        let expected = op.solution(&x.copy(), dim);
        let got = op.exercise(x, dim);
        assert_unchanged("x", x, &before)?;
        masked_rows_not_nan(op, x, dim, &got, &expected)?;
        no_overflow(op, &got, &expected)?;
        assert_close(op.name(), &got, &expected, tolerance(kind))?;
        let builtin = op.builtin(x, dim);
        let builtin = builtin.where_self(&builtin.isnan().logical_not(), &expected);
        let what = format!("{}, compared with torch's own,", op.name());
        assert_close(&what, &got, &builtin, tolerance(kind))
    })
}

fn all_match(x: &Tensor, dim: i64) -> CheckResult {
    ALL.iter().try_for_each(|&op| op_matches(op, x, dim))
}

/// Logits of shape [4, 6] where row 1 is fully masked and row 3 partly (two entries -inf).
fn masked_logits(kind: Kind, device: tch::Device) -> Tensor {
    let mut mask = vec![false; 24];
    mask[6..12].fill(true);
    mask[18..20].fill(true);
    let mask = Tensor::from_slice(&mask).reshape([4, 6]).to_device(device);
    (randn(&[4, 6], Kind::Float, device) * 3.0).masked_fill(&mask, f64::NEG_INFINITY).to_kind(kind)
}

/// Whether each row of `x` along `dim` is fully masked (every entry -inf), kept as a dimension.
fn fully_masked(x: &Tensor, dim: i64) -> Tensor {
    x.eq(f64::NEG_INFINITY).all_dim(dim, true)
}

/// Gradients of sum(f(x) * w) for random w: free of NaN everywhere, and equal to the reference's
/// and the built-in's on rows that are not fully masked (where the gradient is a matter of
/// convention).
fn gradients_match(op: Op, what: &str, x: &Tensor, dim: i64) -> CheckResult {
    within(format!("for the gradient with {what} of shape {:?} over dim {dim}", x.size()), || {
        let out_shape = op.solution(x, dim).size();
        let w = randn(&out_shape, x.kind(), x.device());
        let grad = |f: &dyn Fn(&Tensor) -> Tensor| -> Result<Option<Tensor>, Failure> {
            let leaf = x.detach().copy().set_requires_grad(true);
            let y = f(&leaf);
            if !y.requires_grad() {
                return Ok(None);
            }
            let loss = (y * &w).sum(None::<Kind>);
            Ok(Tensor::f_run_backward(&[loss], &[&leaf], false, false)?.pop())
        };
        let Some(got) = grad(&|t| op.exercise(t, dim))? else {
            return Err(Failure::new(format!(
                "`{}` does not require grad for an x that does: compute it with tensor \
                 operations on x (no detach, no values read out into Rust)",
                op.name()
            )));
        };
        let expected = grad(&|t| op.solution(t, dim))?.expect("the reference is differentiable");
        let builtin = grad(&|t| op.builtin(t, dim))?.expect("the built-in is differentiable");
        if got.isnan().any().int64_value(&[]) != 0 {
            let at = Vec::<i64>::try_from(&got.isnan().nonzero().get(0)).map_err(Failure::from)?;
            return Err(Failure::new(format!(
                "the gradient of `{}` is NaN at {at:?}: a NaN or inf in the forward pass (an \
                 exp that overflows, a fully masked row), even in a branch that `where` or \
                 `masked_fill` throws away, reaches the gradient (0 * NaN is NaN): subtract the \
                 row's maximum, and replace the sum of a fully masked row by 1 before dividing by \
                 it or taking its log",
                op.name()
            )));
        }
        let keep = fully_masked(x, dim).logical_not().expand_as(x);
        let zero_masked = |g: &Tensor| g.where_self(&keep, &g.zeros_like());
        let what = format!("the gradient of {}", op.name());
        let tol = tolerance(x.kind());
        assert_close(&what, &zero_masked(&got), &zero_masked(&expected), tol)?;
        assert_close(
            &format!("{what}, compared with torch's own,"),
            &zero_masked(&got),
            &zero_masked(&builtin),
            tol,
        )
    })
}

fn main() {
    Checks::new()
        .check("random logits of shape [4, 7] over the last dim", |ctx| {
            all_match(&randn(&[4, 7], Kind::Float, ctx.device()), 1)
        })
        .check("logits of magnitude 1e4, where exp overflows (float32)", |ctx| {
            let x = with_magnitude(&[5, 8], 1e4, Kind::Float, ctx.device());
            all_match(&x, 1)?;
            all_match(&x, 0)
        })
        .check("logits of magnitude 1e4 in float64 (exp(710) overflows float64)", |ctx| {
            all_match(&with_magnitude(&[3, 6], 1e4, Kind::Double, ctx.device()), -1)
        })
        .check("logits of magnitude 1e-30", |ctx| {
            all_match(&with_magnitude(&[3, 6], 1e-30, Kind::Float, ctx.device()), 1)
        })
        .check("dim 0 of a transposed (non-contiguous) input, and dim -2 of a 3-D input", |ctx| {
            let x = randn(&[6, 4], Kind::Float, ctx.device()) * 10.0;
            all_match(&x.tr(), 0)?;
            all_match(&randn(&[2, 5, 3], Kind::Float, ctx.device()), -2)
        })
        .check("rows of size 1, and an empty batch", |ctx| {
            all_match(&randn(&[4, 1], Kind::Float, ctx.device()), 1)?;
            all_match(&randn(&[0, 5], Kind::Float, ctx.device()), 1)
        })
        .check("fully masked rows (every logit -inf) beside partly masked ones", |ctx| {
            let x = masked_logits(Kind::Float, ctx.device());
            all_match(&x, 1)?;
            all_match(&x.tr(), 0)
        })
        .check("float16: computed in float32, returned in float16", |ctx| {
            // Rows whose logsumexp is near 0, where rounding each step to half precision shows.
            let rows = Tensor::from_slice(&[-0.7f32, -0.7, -1.3, -2.0, -0.5, -1.5, -0.2, -2.5]);
            all_match(&rows.reshape([4, 2]).to_kind(Kind::Half).to_device(ctx.device()), 1)?;
            all_match(&with_magnitude(&[4, 8], 1e4, Kind::Half, ctx.device()), 1)?;
            all_match(&masked_logits(Kind::Half, ctx.device()), 1)
        })
        .check("bfloat16: computed in float32, returned in bfloat16", |ctx| {
            let rows = Tensor::from_slice(&[-0.7f32, -0.7, -1.3, -2.0, -0.5, -1.5, -0.2, -2.5]);
            all_match(&rows.reshape([4, 2]).to_kind(Kind::BFloat16).to_device(ctx.device()), 1)?;
            all_match(&with_magnitude(&[4, 8], 1e4, Kind::BFloat16, ctx.device()), 1)?;
            all_match(&masked_logits(Kind::BFloat16, ctx.device()), 1)
        })
        .check("gradients equal torch's, for ordinary logits and logits of magnitude 1e4", |ctx| {
            let x = randn(&[3, 5], Kind::Float, ctx.device());
            let big = with_magnitude(&[3, 5], 1e4, Kind::Float, ctx.device());
            let double = randn(&[4, 3], Kind::Double, ctx.device());
            for op in ALL {
                gradients_match(op, "logits", &x, 1)?;
                gradients_match(op, "logits of magnitude 1e4", &big, 1)?;
                gradients_match(op, "float64 logits", &double, 0)?;
            }
            Ok(())
        })
        .check("gradients are free of NaN on fully masked rows", |ctx| {
            let x = masked_logits(Kind::Float, ctx.device());
            ALL.iter().try_for_each(|&op| gradients_match(op, "masked logits", &x, 1))
        })
        .check("softmax, log_softmax and logsumexp are not called", |_ctx| {
            assert_no_method_calls(
                EXERCISE_SOURCE,
                &[
                    "softmax",
                    "log_softmax",
                    "logsumexp",
                    "special_softmax",
                    "special_log_softmax",
                    "special_logsumexp",
                ],
                "the exercise is to write them yourself (the built-ins are what your functions are \
                 compared with): subtract each row's maximum, exp, sum, log",
            )
        })
        // `tensorlings profile`: n rows of 1024 logits, over the last dim, against the built-ins.
        .profile("stable_softmax", profile::sizes("n", [16, 256, 4096]), |n, device| {
            let x = randn(&[n, 1024], Kind::Float, device);
            profile_case!(stable_softmax(x; 1)).builtin("x.softmax(-1)", |x| x[0].softmax(-1, None::<Kind>))
        })
        .profile("stable_log_softmax", profile::sizes("n", [16, 256, 4096]), |n, device| {
            let x = randn(&[n, 1024], Kind::Float, device);
            profile_case!(stable_log_softmax(x; 1))
                .builtin("x.log_softmax(-1)", |x| x[0].log_softmax(-1, None::<Kind>))
        })
        .profile("stable_logsumexp", profile::sizes("n", [16, 256, 4096]), |n, device| {
            let x = randn(&[n, 1024], Kind::Float, device);
            profile_case!(stable_logsumexp(x; 1)).builtin("x.logsumexp(-1)", |x| x[0].logsumexp([-1], false))
        })
        .run()
}
