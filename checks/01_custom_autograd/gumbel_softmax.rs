//! Checks of 01_custom_autograd/gumbel_softmax.
//!
//! - The noise: its mean and variance over many draws against Gumbel(0, 1)'s (Euler's constant
//!   0.5772 and pi^2/6), which tells a learner *what* is wrong with a wrong sampler, then the
//!   same draws as the reference under the same seed.
//! - The soft sample: rows sum to 1, equal to the reference under the same seed, for several
//!   temperatures (dividing only the logits by tau differs there) and shapes, and where a naive
//!   exp / sum overflows: tau 0.05, and logits of magnitude 100 (softmax subtracts each row's
//!   maximum first); float64 logits, whose samples are float64 (softmax takes the kind to
//!   compute in: a hard-coded `Kind::Float` changes it).
//! - The hard sample: one-hot rows, at the soft sample's argmax, carrying the soft sample's
//!   gradient (straight-through), and `StraightThrough` on its own.
//! - The Gumbel-max trick: over 20000 draws, each class is picked with probability
//!   softmax(logits), whatever the temperature. The seed is fixed, so the test is deterministic;
//!   the tolerance is 5 standard errors of a frequency, sqrt(p (1 - p) / n), which the reference
//!   meets with room to spare and a sampler with the wrong noise misses by far.
//! - `logits` left as it was (values and requires_grad); CUDA where there is a GPU.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("01_custom_autograd/gumbel_softmax.rs");

/// Calls `f` right after seeding libtorch's generators with `seed`, so that the exercise and
/// the reference draw the same numbers.
fn seeded<T>(seed: i64, f: impl FnOnce() -> T) -> T {
    tch::manual_seed(seed);
    f()
}

fn scalar(t: &Tensor) -> f64 {
    t.double_value(&[])
}

fn noise_is_gumbel(device: Device) -> CheckResult {
    let like = Tensor::zeros([200_000], (Kind::Double, device));
    let g = seeded(1, || exercise::sample_gumbel(&like));
    assert_unchanged("like", &like, &Tensor::zeros([200_000], (Kind::Double, device)))?;
    check_that!(
        g.size() == [200_000],
        "sample_gumbel returned shape {:?}; it must have the shape of `like`",
        g.size()
    );
    check_that!(
        g.kind() == Kind::Double,
        "sample_gumbel returned {:?} for a float64 `like`: draw with like.rand_like()",
        g.kind()
    );
    let finite = g.isfinite();
    let g = g.masked_select(&finite);
    let (mean, variance) = (scalar(&g.mean(Kind::Double)), scalar(&g.var(true)));
    let (euler, pi2_6) = (0.577_215_664_9, std::f64::consts::PI.powi(2) / 6.0);
    // Standard errors over 200000 draws: 0.0029 for the mean, 0.0077 for the variance.
    check_that!(
        (mean - euler).abs() < 0.015 && (variance - pi2_6).abs() < 0.04,
        "over 200000 draws your noise has mean {mean:.4} and variance {variance:.4}; Gumbel(0, 1) has mean \
         0.5772 and variance 1.6449. It is -log(-log(u)) with u uniform: -log(u) alone is exponential \
         (mean 1, variance 1), and randn is normal (mean 0, variance 1)"
    );
    Ok(())
}

fn noise_matches(like: &Tensor) -> CheckResult {
    call(
        "sample_gumbel(like)",
        &[("like", like)],
        |x| seeded(7, || solution::sample_gumbel(&x[0])),
        |x| seeded(7, || exercise::sample_gumbel(&x[0])),
    )
    .describe("with the same seed as the reference (draw u with exactly one like.rand_like())")
    .check()
}

fn rows_sum_to_one(what: &str, y: &Tensor) -> CheckResult {
    let sums = y.sum_dim_intlist(-1, false, Kind::Double);
    let worst = scalar(&(sums - 1.0).abs().max());
    check_that!(
        worst < 1e-4,
        "the rows of {what} do not sum to 1 (one is off by {worst:.3}): take the softmax over the last \
         dimension, the classes"
    );
    Ok(())
}

fn soft_matches(logits: &Tensor, tau: f64) -> CheckResult {
    call(
        "the soft sample",
        &[("logits", logits)],
        |x| seeded(11, || solution::gumbel_softmax(&x[0], tau, false)),
        |x| seeded(11, || exercise::gumbel_softmax(&x[0], tau, false)),
    )
    .describe(format!("for logits of shape {:?} and tau {tau}", logits.size()))
    .diagnose(|got, expected| {
        let overflow = got.size() == expected.size()
            && got.isfinite().logical_not().logical_and(&expected.isfinite()).any().int64_value(&[]) != 0;
        check_that!(
            !overflow,
            "the soft sample has NaN or infinite values where the reference is finite: exp() of \
             (logits + g) / tau overflows for a small tau or large logits, and exp / sum gives \
             inf / inf; softmax(-1, ..) subtracts each row's maximum first"
        );
        rows_sum_to_one("the soft sample", got)
    })
    .tolerance(Tolerance::new(1e-5, 1e-4))
    .check()
}

fn hard_matches(logits: &Tensor, tau: f64) -> CheckResult {
    call(
        "the hard sample",
        &[("logits", logits)],
        |x| seeded(13, || solution::gumbel_softmax(&x[0], tau, true)),
        |x| seeded(13, || exercise::gumbel_softmax(&x[0], tau, true)),
    )
    .describe(format!("for logits of shape {:?} and tau {tau}", logits.size()))
    .diagnose(|hard, _| {
        let (shape, want) = (hard.size(), logits.size());
        check_that!(
            shape == want,
            "the hard sample has shape {shape:?}; it must have the shape of logits, {want:?}"
        );
        // Within rounding of 0 or 1: `y_hard - y_soft.detach() + y_soft`, PyTorch's way of
        // writing the straight-through estimator, gives 1 - a + a, which need not be exactly 1.
        let off_binary = scalar(&(hard - hard.round()).abs().max());
        let binary = hard.round().eq(0.0).logical_or(&hard.round().eq(1.0)).all();
        check_that!(
            off_binary < 1e-5 && bool::try_from(&binary).unwrap_or(false),
            "the hard sample has values other than 0 and 1: it must be one-hot (StraightThrough's forward)"
        );
        rows_sum_to_one("the hard sample", hard)?;
        let soft = seeded(13, || exercise::gumbel_softmax(logits, tau, false));
        assert_equal("the class of each hard sample", &hard.argmax(-1, false), &soft.argmax(-1, false))
            .map_err(|f| {
                f.context(
                    "the hard sample must be the one-hot of the soft sample's argmax, from the same noise",
                )
            })
    })
    .tolerance(Tolerance::new(1e-5, 0.0))
    .check()
}

/// d loss / d logits for `loss = sum(sample * weights)`, the sample drawn with `seed`.
fn gradient_of_sample(logits: &Tensor, weights: &Tensor, tau: f64, hard: bool) -> Result<Tensor, Failure> {
    let leaf = logits.detach().copy().set_requires_grad(true);
    let sample = seeded(17, || exercise::gumbel_softmax(&leaf, tau, hard));
    check_that!(
        sample.is_floating_point(),
        "the {} sample has dtype {:?}: keep the dtype of logits (an integer tensor never has a gradient)",
        if hard { "hard" } else { "soft" },
        sample.kind()
    );
    check_that!(
        sample.requires_grad(),
        "the {} sample does not require grad although logits do: {}",
        if hard { "hard" } else { "soft" },
        if hard {
            "it must carry the soft sample's gradient (StraightThrough, whose backward passes it on)"
        } else {
            "compute it from logits with differentiable operations"
        }
    );
    let loss = (sample * weights).sum(Kind::Double);
    Ok(Tensor::f_run_backward(&[loss], &[&leaf], false, false)?.remove(0))
}

fn straight_through_matches(y: &Tensor) -> CheckResult {
    let leaf = y.detach().copy().set_requires_grad(true);
    let out = exercise::StraightThrough::apply(&[&leaf])?;
    check_that!(out.len() == 1, "StraightThrough's forward returned {} outputs; return one", out.len());
    let expected = solution::StraightThrough::apply(&[y.copy()])?.remove(0);
    assert_close("StraightThrough(y)", &out[0], &expected, Tolerance::for_kind(y.kind()))?;
    let weights = randn(&y.size(), y.kind(), y.device());
    let grad =
        Tensor::f_run_backward(&[(&out[0] * &weights).sum(y.kind())], &[&leaf], false, false)?.remove(0);
    within("backward must pass the incoming gradient on unchanged", || {
        assert_close("the gradient through StraightThrough", &grad, &weights, Tolerance::for_kind(y.kind()))
    })
}

/// Over `n` hard draws from one row of logits, each class's frequency against softmax(logits).
fn frequencies_match(logits: &Tensor, tau: f64, n: i64) -> CheckResult {
    let k = logits.size()[0];
    let draws =
        seeded(19, || exercise::gumbel_softmax(&logits.expand([n, k], false).contiguous(), tau, true));
    let frequencies = Vec::<f64>::try_from(
        draws.to_kind(Kind::Double).mean_dim(0, false, Kind::Double).to_device(Device::Cpu),
    )?;
    let expected =
        Vec::<f64>::try_from(logits.to_kind(Kind::Double).softmax(-1, Kind::Double).to_device(Device::Cpu))?;
    for (class, (f, p)) in frequencies.iter().zip(&expected).enumerate() {
        let tolerance = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
        check_that!(
            (f - p).abs() <= tolerance,
            "over {n} hard samples at tau {tau}, class {class} was picked with frequency {f:.4}, but \
             softmax(logits) gives it {p:.4} (allowed: ±{tolerance:.4}). The argmax of logits + Gumbel \
             noise is distributed as softmax(logits), whatever tau: check the noise and that the \
             argmax is over the last dimension"
        );
    }
    Ok(())
}

fn main() {
    Checks::new()
        .check("sample_gumbel draws Gumbel(0, 1) noise (mean 0.5772, variance 1.6449)", |ctx| {
            noise_is_gumbel(ctx.device())
        })
        .check("sample_gumbel draws as the reference does, in float32 and float64", |ctx| {
            noise_matches(&randn(&[4, 5], Kind::Float, ctx.device()))?;
            noise_matches(&randn(&[3], Kind::Double, ctx.device()))
        })
        .check("the soft sample, at tau 1, 0.5 and 5, on shapes [4, 6], [6] and [2, 3, 5]", |ctx| {
            for (shape, tau) in [(&[4i64, 6][..], 1.0), (&[4, 6], 0.5), (&[6], 5.0), (&[2, 3, 5], 0.5)] {
                let logits = randn(shape, Kind::Float, ctx.device());
                soft_matches(&logits, tau)?;
            }
            Ok(())
        })
        .check("the soft and hard samples of float64 logits are float64", |ctx| {
            let logits = randn(&[4, 6], Kind::Double, ctx.device());
            soft_matches(&logits, 0.5)?;
            hard_matches(&logits, 0.5)
        })
        .check("the soft sample where exp overflows: tau 0.05, and logits of magnitude 100", |ctx| {
            soft_matches(&randn(&[4, 6], Kind::Float, ctx.device()), 0.05)?;
            soft_matches(&with_magnitude(&[4, 6], 100.0, Kind::Float, ctx.device()), 1.0)
        })
        .check("the hard sample is one-hot at the soft sample's argmax", |ctx| {
            for (shape, tau) in [(&[8i64, 5][..], 1.0), (&[5], 0.3)] {
                let logits = randn(shape, Kind::Float, ctx.device());
                hard_matches(&logits, tau)?;
            }
            Ok(())
        })
        .check("StraightThrough: one-hot forward, identity backward", |ctx| {
            within("for y of shape [6, 4]", || straight_through_matches(&randn(&[6, 4], Kind::Double, ctx.device())))
        })
        .check("the hard sample carries the soft sample's gradient", |ctx| {
            let logits = randn(&[5, 4], Kind::Double, ctx.device());
            let weights = randn(&[5, 4], Kind::Double, ctx.device());
            let soft = gradient_of_sample(&logits, &weights, 0.7, false)?;
            let hard = gradient_of_sample(&logits, &weights, 0.7, true)?;
            within("it must equal the gradient through the soft sample drawn with the same seed (straight-through)", || assert_close("the gradient of logits through the hard sample", &hard, &soft, Tolerance::for_kind(Kind::Double)))
        })
        .check("over 20000 hard samples, class frequencies match softmax(logits), at tau 1 and 0.3", |ctx| {
            let logits = Tensor::from_slice(&[1.0f32, 0.0, -1.0, 2.0, 0.5]).to_device(ctx.device());
            frequencies_match(&logits, 1.0, 20_000)?;
            frequencies_match(&logits, 0.3, 20_000)
        })
        .check("soft and hard samples on CUDA", |_ctx| {
            let cuda = cuda_or_skip()?;
            let logits = randn(&[64, 10], Kind::Float, cuda);
            within("on CUDA", || soft_matches(&logits, 0.5))?;
            within("on CUDA", || hard_matches(&logits, 0.5))
        })
        .run()
}
