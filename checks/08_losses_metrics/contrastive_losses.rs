//! Checks of 08_losses_metrics/contrastive_losses.
//!
//! - `nt_xent_loss` against a reference written as loops over the rows (in f64 on the CPU,
//!   logsumexp with the maximum subtracted), and against the reference solution, values and
//!   gradients of both views: N = 4 and N = 1 (where each row has only its positive and the loss
//!   is 0); temperatures 0.5, 0.1 and 0.01 (logits up to 100, where a hand-written exp overflows
//!   float32); views that are not unit vectors; an all-zero embedding (normalization divides by
//!   max(|z|, 1e-12)); D = 1; a transposed (non-contiguous) view; float64; gradcheck.
//!   A result that equals the loss with the self-similarity left in, or with only the first
//!   view's rows, is named as such.
//! - `margin_contrastive_loss` against the reference and a loop reference, values and gradients:
//!   mixed labels, all similar, all dissimilar, pairs beyond the margin, one pair, identical
//!   points (d = 0, where sqrt of a sum of squares has a NaN gradient), float64, a transposed
//!   view; gradcheck away from d = 0 and the margin.
//! - Inputs left as they were.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::{assert_grad_close, kind_name};
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::{randint, randn};
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("08_losses_metrics/contrastive_losses.rs");

/// The rows of a 2-D tensor as f64 vectors.
fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let t = t.to_kind(Kind::Double).to_device(Device::Cpu).contiguous();
    let (n, d) = (t.size()[0], t.size()[1]);
    let flat = Vec::<f64>::try_from(&t.reshape([-1])).unwrap_or_default();
    (0..n as usize).map(|i| flat[i * d as usize..(i + 1) * d as usize].to_vec()).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// How the loop reference counts the rows.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    /// NT-Xent as specified.
    Correct,
    /// The self-similarity left in every denominator.
    WithSelf,
    /// Only the N rows of the first view averaged.
    FirstViewOnly,
    /// Dot products of the rows as they are, not cosine similarities.
    NotNormalized,
}

/// NT-Xent by loops, one row at a time, in f64.
fn nt_xent_by_loops(z1: &Tensor, z2: &Tensor, temperature: f64, variant: Variant) -> f64 {
    let mut z = rows(z1);
    z.extend(rows(z2));
    let two_n = z.len();
    let n = two_n / 2;
    for row in z.iter_mut().filter(|_| variant != Variant::NotNormalized) {
        let norm = dot(row, row).sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= norm);
    }
    let mut total = 0.0;
    let counted = if variant == Variant::FirstViewOnly { n } else { two_n };
    for i in 0..counted {
        let positive = (i + n) % two_n;
        let logits: Vec<f64> = (0..two_n)
            .filter(|&k| k != i || variant == Variant::WithSelf)
            .map(|k| dot(&z[i], &z[k]) / temperature)
            .collect();
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let logsumexp = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
        total += logsumexp - dot(&z[i], &z[positive]) / temperature;
    }
    total / counted as f64
}

/// Values: a matrix product and a log-softmax over 2N entries; the exercise may normalize or
/// reduce in another order. Relative to losses of up to ~200 at temperature 0.01.
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-10, 1e-9) } else { Tolerance::new(1e-5, 1e-5) }
}

/// The gradients of `loss(a, b)` with respect to copies of `a` and `b`; an undefined tensor for
/// one that the loss does not reach (both, when the loss does not require grad).
fn gradients(
    loss: impl Fn(&Tensor, &Tensor) -> Tensor,
    a: &Tensor,
    b: &Tensor,
) -> Result<[Tensor; 2], Failure> {
    let (a, b) = (a.detach().copy().set_requires_grad(true), b.detach().copy().set_requires_grad(true));
    let out = loss(&a, &b);
    check_that!(out.size().is_empty(), "the loss has shape {:?}; it must be a scalar (shape [])", out.size());
    // run_backward from a root that does not require grad crashes libtorch: test first.
    if !out.requires_grad() {
        return Ok([Tensor::new(), Tensor::new()]);
    }
    let grads = Tensor::f_run_backward(&[out], &[&a, &b], false, true)?;
    Ok([grads[0].shallow_clone(), grads[1].shallow_clone()])
}

/// Adds a line to `failure` when `got` equals one of the typical mistakes' values.
fn name_the_mistake(failure: Failure, got: &Tensor, z1: &Tensor, z2: &Tensor, temperature: f64) -> Failure {
    if got.numel() != 1 || !got.size().is_empty() {
        return failure;
    }
    let got = got.to_kind(Kind::Double).double_value(&[]);
    let hints = [
        (
            Variant::WithSelf,
            "it equals the loss with each row's similarity to itself left in the denominator: fill the diagonal of the logits with -inf before the cross entropy",
        ),
        (
            Variant::FirstViewOnly,
            "it equals the mean over the first view's N rows only: the rows of the second view (positive i - N) count too, 2N rows in all",
        ),
        (
            Variant::NotNormalized,
            "it equals the loss on dot products of the rows as they are: normalize each row to length 1 first (cosine similarities), dividing by max(|z|, 1e-12)",
        ),
    ];
    for (variant, hint) in hints {
        let value = nt_xent_by_loops(z1, z2, temperature, variant);
        if (got - value).abs() <= 1e-4 * (1.0 + value.abs()) {
            return Failure::new(format!("{}\n  {hint}", failure.message()));
        }
    }
    failure
}

/// nt_xent_loss on these views: against the loop reference and the reference solution, values
/// and gradients; the views unchanged.
fn nt_xent_matches(z1: &Tensor, z2: &Tensor, temperature: f64) -> CheckResult {
    nt_xent_matches_with(z1, z2, temperature, true)
}

/// The same, with `compare_gradients` false where the gradient is a matter of convention: at an
/// all-zero embedding, the normalization's gradient is 1 / eps (1e12 for F.normalize, 1e8 for
/// cosine_similarity). It must still be free of NaN.
fn nt_xent_matches_with(z1: &Tensor, z2: &Tensor, temperature: f64, compare_gradients: bool) -> CheckResult {
    let description =
        format!("for {} views of shape {:?} at temperature {temperature}", kind_name(z1.kind()), z1.size());
    within(description, || {
        let (z1_before, z2_before) = (z1.copy(), z2.copy());
        let expected = solution::nt_xent_loss(&z1.copy(), &z2.copy(), temperature);
        let got = exercise::nt_xent_loss(z1, z2, temperature);
        assert_unchanged("z1", z1, &z1_before)?;
        assert_unchanged("z2", z2, &z2_before)?;
        let tol = tolerance(z1.kind());
        let by_loops = Tensor::from(nt_xent_by_loops(z1, z2, temperature, Variant::Correct))
            .to_kind(z1.kind())
            .to_device(z1.device());
        let what = "nt_xent_loss(z1, z2, temperature)";
        assert_close(&format!("{what}, compared with a loop over the rows,"), &got, &by_loops, tol)
            .map_err(|f| name_the_mistake(f, &got, z1, z2, temperature))?;
        assert_close(what, &got, &expected, tol)?;
        let [expected_1, expected_2] = gradients(|a, b| solution::nt_xent_loss(a, b, temperature), z1, z2)?;
        let [got_1, got_2] = gradients(|a, b| exercise::nt_xent_loss(a, b, temperature), z1, z2)?;
        if !compare_gradients {
            for (name, grad) in [("z1", &got_1), ("z2", &got_2)] {
                let nan = grad.defined() && grad.isnan().any().int64_value(&[]) != 0;
                check_that!(
                    !nan,
                    "the gradient with respect to {name} has NaN values: an all-zero row divided by its \
                     norm 0 gives 0 / 0; divide by max(|z|, 1e-12) as F.normalize does"
                );
            }
            return Ok(());
        }
        assert_grad_close("z1", &got_1, &expected_1, tol)?;
        assert_grad_close("z2", &got_2, &expected_2, tol)
    })
}

/// The margin loss by a loop over the pairs, in f64.
fn margin_by_loops(x1: &Tensor, x2: &Tensor, similar: &Tensor, margin: f64) -> f64 {
    let (a, b) = (rows(x1), rows(x2));
    let labels = Vec::<bool>::try_from(&similar.to_device(Device::Cpu)).unwrap_or_default();
    let total: f64 = a
        .iter()
        .zip(&b)
        .zip(&labels)
        .map(|((p, q), &same)| {
            let d = p.iter().zip(q).map(|(u, v)| (u - v).powi(2)).sum::<f64>().sqrt();
            if same { d * d } else { (margin - d).max(0.0).powi(2) }
        })
        .sum();
    total / a.len() as f64
}

/// The margin loss: F.pairwise_distance's eps (1e-6 added to the differences) is a fair way to
/// write d and moves it by about 1e-6, which this tolerance allows.
fn margin_tolerance() -> Tolerance {
    Tolerance::new(2e-5, 1e-4)
}

fn margin_matches(
    x1: &Tensor,
    x2: &Tensor,
    similar: &Tensor,
    margin: f64,
    compare_gradients: bool,
) -> CheckResult {
    let description = format!(
        "for {} pairs of shape {:?} with similar = {:?} and margin {margin}",
        kind_name(x1.kind()),
        x1.size(),
        Vec::<bool>::try_from(&similar.to_device(Device::Cpu)).unwrap_or_default()
    );
    within(description, || {
        let (x1_before, x2_before, similar_before) = (x1.copy(), x2.copy(), similar.copy());
        let expected = solution::margin_contrastive_loss(&x1.copy(), &x2.copy(), &similar.copy(), margin);
        let got = exercise::margin_contrastive_loss(x1, x2, similar, margin);
        assert_unchanged("x1", x1, &x1_before)?;
        assert_unchanged("x2", x2, &x2_before)?;
        assert_unchanged("similar", similar, &similar_before)?;
        let by_loops =
            Tensor::from(margin_by_loops(x1, x2, similar, margin)).to_kind(x1.kind()).to_device(x1.device());
        let what = "margin_contrastive_loss(x1, x2, similar, margin)";
        assert_close(
            &format!("{what}, compared with a loop over the pairs,"),
            &got,
            &by_loops,
            margin_tolerance(),
        )?;
        assert_close(what, &got, &expected, margin_tolerance())?;
        let loss = |a: &Tensor, b: &Tensor| exercise::margin_contrastive_loss(a, b, similar, margin);
        let [got_1, got_2] = gradients(loss, x1, x2)?;
        for (name, grad) in [("x1", &got_1), ("x2", &got_2)] {
            if grad.defined() {
                let bad = grad.isfinite().logical_not().any().int64_value(&[]) != 0;
                check_that!(
                    !bad,
                    "the gradient with respect to {name} has NaN or infinite values: at identical \
                     points d = 0, and the derivative of sqrt at 0 is infinite; take d from a norm \
                     (x1 - x2).norm_scalaropt_dim(2.0, [1], false), whose gradient at 0 is 0"
                );
            }
        }
        if compare_gradients {
            let reference = |a: &Tensor, b: &Tensor| solution::margin_contrastive_loss(a, b, similar, margin);
            let [expected_1, expected_2] = gradients(reference, x1, x2)?;
            assert_grad_close("x1", &got_1, &expected_1, margin_tolerance())?;
            assert_grad_close("x2", &got_2, &expected_2, margin_tolerance())?;
        }
        Ok(())
    })
}

fn bools(values: &[bool], device: Device) -> Tensor {
    Tensor::from_slice(values).to_device(device)
}

fn main() {
    Checks::new()
        .check("nt_xent_loss on 4 samples of 8 features at temperature 0.5", |ctx| {
            let z1 = randn(&[4, 8], Kind::Float, ctx.device());
            let z2 = &z1 + randn(&[4, 8], Kind::Float, ctx.device()) * 0.5;
            nt_xent_matches(&z1, &z2, 0.5)
        })
        .check("nt_xent_loss with one pair: each row has only its positive, the loss is 0", |ctx| {
            let z1 = randn(&[1, 5], Kind::Float, ctx.device());
            let z2 = randn(&[1, 5], Kind::Float, ctx.device());
            nt_xent_matches(&z1, &z2, 0.5)
        })
        .check("nt_xent_loss at temperatures 0.1 and 0.01 (logits up to 100), float32", |ctx| {
            let z1 = randn(&[6, 4], Kind::Float, ctx.device()) * 3.0;
            let z2 = randn(&[6, 4], Kind::Float, ctx.device());
            nt_xent_matches(&z1, &z2, 0.1)?;
            // The positives are near-duplicates and a negative too: logits near 100.
            let z2 = &z1 + randn(&[6, 4], Kind::Float, ctx.device()) * 0.01;
            nt_xent_matches(&z1, &z2, 0.01)
        })
        .check("nt_xent_loss with an all-zero embedding, one feature, a transposed view, float64", |ctx| {
            let z1 = randn(&[3, 4], Kind::Float, ctx.device());
            let z2 = randn(&[3, 4], Kind::Float, ctx.device());
            let _ = z2.get(1).fill_(0.0);
            nt_xent_matches_with(&z1, &z2, 0.5, false)?;
            nt_xent_matches(
                &randn(&[5, 1], Kind::Float, ctx.device()),
                &randn(&[5, 1], Kind::Float, ctx.device()),
                0.3,
            )?;
            let stored = randn(&[6, 3], Kind::Float, ctx.device());
            nt_xent_matches(&stored.tr(), &randn(&[3, 6], Kind::Float, ctx.device()), 0.5)?;
            nt_xent_matches(
                &randn(&[4, 3], Kind::Double, ctx.device()),
                &randn(&[4, 3], Kind::Double, ctx.device()),
                0.2,
            )
        })
        .check("nt_xent_loss's gradient by finite differences (gradcheck, float64)", |ctx| {
            let z1 = randn(&[3, 4], Kind::Double, ctx.device());
            let z2 = randn(&[3, 4], Kind::Double, ctx.device());
            within("for views of shape [3, 4] at temperature 0.5", || {
                gradcheck(
                    |xs| exercise::nt_xent_loss(&xs[0], &xs[1], 0.5),
                    &[z1, z2],
                    GradcheckOptions::default(),
                )
            })
        })
        .check("margin_contrastive_loss on mixed, all-similar and all-dissimilar pairs", |ctx| {
            let x1 = randn(&[6, 3], Kind::Float, ctx.device());
            let x2 = randn(&[6, 3], Kind::Float, ctx.device());
            let mixed = bools(&[true, false, true, false, false, true], ctx.device());
            margin_matches(&x1, &x2, &mixed, 2.0, true)?;
            margin_matches(&x1, &x2, &mixed.ones_like(), 2.0, true)?;
            margin_matches(&x1, &x2, &mixed.zeros_like(), 2.0, true)?;
            // Margin 0.5: most dissimilar pairs are beyond it and cost nothing.
            margin_matches(&x1, &x2, &mixed.zeros_like(), 0.5, true)
        })
        .check("margin_contrastive_loss with one pair", |ctx| {
            let x1 = randn(&[1, 4], Kind::Float, ctx.device());
            let x2 = randn(&[1, 4], Kind::Float, ctx.device());
            margin_matches(&x1, &x2, &bools(&[false], ctx.device()), 3.0, true)?;
            margin_matches(&x1, &x2, &bools(&[true], ctx.device()), 3.0, true)
        })
        .check("margin_contrastive_loss of identical points: finite values and gradients", |ctx| {
            let x1 = randn(&[4, 3], Kind::Float, ctx.device());
            let x2 = x1.copy();
            // The distance's gradient at 0 is a choice (0 for a norm, another direction with
            // pairwise_distance's eps): only its finiteness is checked here.
            margin_matches(&x1, &x2, &bools(&[true, false, true, false], ctx.device()), 1.0, false)
        })
        .check("margin_contrastive_loss in float64 and on a transposed view", |ctx| {
            let x1 = randn(&[5, 2], Kind::Double, ctx.device());
            let x2 = randn(&[5, 2], Kind::Double, ctx.device());
            let similar = randint(&[5], 2, ctx.device()).to_kind(Kind::Bool);
            margin_matches(&x1, &x2, &similar, 1.5, true)?;
            let stored = randn(&[3, 5], Kind::Float, ctx.device());
            margin_matches(&stored.tr(), &randn(&[5, 3], Kind::Float, ctx.device()), &similar, 1.5, true)
        })
        .check("margin_contrastive_loss's gradient by finite differences (gradcheck, float64)", |ctx| {
            // Points 2 to 4 apart along the first feature, margin 3: away from d = 0 and d = margin.
            let offsets = Tensor::from_slice(&[2.0, 4.0, 2.5, 3.5]).to_device(ctx.device());
            let x1 = randn(&[4, 3], Kind::Double, ctx.device()) * 0.1;
            let x2 = &x1
                + Tensor::stack(&[offsets.shallow_clone(), offsets.zeros_like(), offsets.zeros_like()], 1);
            let similar = bools(&[true, false, false, true], ctx.device());
            within("for pairs of shape [4, 3], margin 3", || {
                gradcheck(
                    |xs| exercise::margin_contrastive_loss(&xs[0], &xs[1], &similar, 3.0),
                    &[x1, x2],
                    GradcheckOptions::default(),
                )
            })
        })
        .run()
}
