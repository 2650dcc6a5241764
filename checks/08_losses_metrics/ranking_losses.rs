//! Checks of 08_losses_metrics/ranking_losses.
//!
//! - Each loss against the reference, values and gradients with respect to the scores: 3 lists
//!   of 5 items with integer grades (so with ties), in float32 and float64; relevances that are
//!   all different.
//! - `ranknet_loss` and `margin_ranking_loss` against libtorch's own losses on the pairs
//!   (`binary_cross_entropy_with_logits` with target 1, `margin_ranking_loss` with target 1),
//!   margins 1 and 0.1.
//! - Ties: a list whose items are all equally relevant has no pair: the pairwise losses are 0
//!   (not 0 / 0 = NaN) with zero gradients, alone and next to a list that has pairs; lists of one
//!   item. A result that counts tied pairs (or each item with itself), or averages per list, is
//!   named as such.
//! - Scores of +-100 in float32: finite values and gradients (softplus, log_softmax).
//! - Transposed (non-contiguous) scores and relevance; gradcheck in float64 for each loss.
//! - Inputs left as they were.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::{assert_grad_close, kind_name};
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::{randint, randn};
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("08_losses_metrics/ranking_losses.rs");

#[derive(Clone, Copy, Debug)]
enum Loss {
    RankNet,
    Margin(f64),
    ListNet,
}

impl Loss {
    fn call(&self) -> String {
        match self {
            Loss::RankNet => "ranknet_loss(scores, relevance)".into(),
            Loss::Margin(m) => format!("margin_ranking_loss(scores, relevance, {m})"),
            Loss::ListNet => "listnet_loss(scores, relevance)".into(),
        }
    }

    fn exercise(&self, s: &Tensor, r: &Tensor) -> Tensor {
        match *self {
            Loss::RankNet => exercise::ranknet_loss(s, r),
            Loss::Margin(m) => exercise::margin_ranking_loss(s, r, m),
            Loss::ListNet => exercise::listnet_loss(s, r),
        }
    }

    fn solution(&self, s: &Tensor, r: &Tensor) -> Tensor {
        match *self {
            Loss::RankNet => solution::ranknet_loss(s, r),
            Loss::Margin(m) => solution::margin_ranking_loss(s, r, m),
            Loss::ListNet => solution::listnet_loss(s, r),
        }
    }

    /// The loss of one pair from its score difference s_i - s_j.
    fn per_pair(&self, d: &Tensor) -> Option<Tensor> {
        match *self {
            Loss::RankNet => Some((-d).softplus()),
            Loss::Margin(m) => Some((m - d).clamp_min(0.0)),
            Loss::ListNet => None,
        }
    }
}

fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-9) } else { Tolerance::new(1e-5, 1e-5) }
}

/// The score differences s_i - s_j of the pairs with relevance_i > relevance_j (or >= with
/// `ties`), flattened.
fn pair_differences(scores: &Tensor, relevance: &Tensor, ties: bool) -> Tensor {
    let d = scores.unsqueeze(2) - scores.unsqueeze(1);
    let (ri, rj) = (relevance.unsqueeze(2), relevance.unsqueeze(1));
    let mask = if ties { ri.ge_tensor(&rj) } else { ri.gt_tensor(&rj) };
    d.masked_select(&mask)
}

/// What a typical mistake would give, to name it when the exercise's value equals it.
fn name_the_mistake(
    failure: Failure,
    got: &Tensor,
    loss: Loss,
    scores: &Tensor,
    relevance: &Tensor,
) -> Failure {
    if !got.size().is_empty() {
        return failure;
    }
    let value = got.double_value(&[]);
    let close = |x: f64| (value - x).abs() <= 1e-4 * (1.0 + x.abs());
    let mean_of = |d: &Tensor| loss.per_pair(d).map(|l| l.mean(Kind::Double).double_value(&[]));
    let hint = if !value.is_finite() {
        Some(
            "a NaN or an infinity: exp overflows at scores this large (write log(1 + exp(x)) as \
             softplus and log(softmax) as log_softmax), and a mean over no pair is 0 / 0 (divide by \
             the number of pairs clamped to at least 1)",
        )
    } else if mean_of(&pair_differences(scores, relevance, true)).is_some_and(close) {
        Some(
            "it equals the mean over the pairs with relevance_i >= relevance_j: tied pairs (and each \
             item with itself) carry no preference; count only relevance_i > relevance_j",
        )
    } else {
        let per_list: Vec<f64> = (0..scores.size()[0])
            .map(|b| pair_differences(&scores.get(b).unsqueeze(0), &relevance.get(b).unsqueeze(0), false))
            .filter(|d| d.numel() > 0)
            .filter_map(|d| mean_of(&d))
            .collect();
        (per_list.len() > 1 && close(per_list.iter().sum::<f64>() / per_list.len() as f64)).then_some(
            "it equals the mean of each list's mean: average over all the pairs of the batch at once",
        )
    };
    match hint {
        Some(hint) => Failure::new(format!("{}\n  {hint}", failure.message())),
        None => failure,
    }
}

/// The gradient of a loss with respect to a copy of the scores; an undefined tensor when it has
/// none.
fn gradient(loss: impl Fn(&Tensor) -> Tensor, scores: &Tensor) -> Result<Tensor, Failure> {
    let leaf = scores.detach().copy().set_requires_grad(true);
    let out = loss(&leaf);
    check_that!(out.size().is_empty(), "the loss has shape {:?}; it must be a scalar (shape [])", out.size());
    // run_backward from a root that does not require grad crashes libtorch: test first.
    if !out.requires_grad() {
        return Ok(Tensor::new());
    }
    Ok(Tensor::f_run_backward(&[out], &[&leaf], false, false)?.remove(0))
}

fn loss_matches(loss: Loss, scores: &Tensor, relevance: &Tensor) -> CheckResult {
    let description = format!(
        "for {} scores of shape {:?} and relevance {:?}",
        kind_name(scores.kind()),
        scores.size(),
        Vec::<Vec<f64>>::try_from(&relevance.to_kind(Kind::Double).to_device(Device::Cpu))
            .unwrap_or_default()
    );
    within(description, || {
        let (scores_before, relevance_before) = (scores.copy(), relevance.copy());
        let expected = loss.solution(&scores.copy(), &relevance.copy());
        let got = loss.exercise(scores, relevance);
        assert_unchanged("scores", scores, &scores_before)?;
        assert_unchanged("relevance", relevance, &relevance_before)?;
        let tol = tolerance(scores.kind());
        let what = loss.call();
        assert_close(&what, &got, &expected, tol)
            .map_err(|f| name_the_mistake(f, &got, loss, scores, relevance))?;
        // libtorch's own loss on the pairs, where there are pairs.
        let d = pair_differences(scores, relevance, false);
        if d.numel() > 0 {
            let ones = d.ones_like();
            let builtin = match loss {
                Loss::RankNet => Some(d.binary_cross_entropy_with_logits(
                    &ones,
                    None::<Tensor>,
                    None::<Tensor>,
                    tch::Reduction::Mean,
                )),
                Loss::Margin(m) => {
                    Some(Tensor::margin_ranking_loss(&d, &d.zeros_like(), &ones, m, tch::Reduction::Mean))
                }
                Loss::ListNet => None,
            };
            if let Some(builtin) = builtin {
                assert_close(
                    &format!("{what}, compared with libtorch's loss on the pairs,"),
                    &got,
                    &builtin,
                    tol,
                )?;
            }
        }
        let expected_grad = gradient(|s| loss.solution(s, relevance), scores)?;
        let got_grad = gradient(|s| loss.exercise(s, relevance), scores)?;
        if got_grad.defined() {
            check_that!(
                got_grad.isfinite().all().int64_value(&[]) != 0,
                "the gradient with respect to the scores has NaN or infinite values: exp overflows at \
                 large scores (use softplus / log_softmax), and a mean over no pair must be 0, not 0 / 0"
            );
        }
        assert_grad_close("scores", &got_grad, &expected_grad, tol)
    })
}

const ALL: [Loss; 4] = [Loss::RankNet, Loss::Margin(1.0), Loss::Margin(0.1), Loss::ListNet];

fn grades(shape: &[i64], device: Device) -> Tensor {
    randint(shape, 4, device).to_kind(Kind::Float)
}

fn main() {
    Checks::new()
        .check("each loss on 3 lists of 5 items with tied grades (float32)", |ctx| {
            let scores = randn(&[3, 5], Kind::Float, ctx.device()) * 2.0;
            let relevance = grades(&[3, 5], ctx.device());
            ALL.iter().try_for_each(|&loss| loss_matches(loss, &scores, &relevance))
        })
        .check("each loss on 2 lists of 6 items, float64 and distinct relevances", |ctx| {
            let scores = randn(&[2, 6], Kind::Double, ctx.device());
            let relevance = randn(&[2, 6], Kind::Double, ctx.device());
            ALL.iter().try_for_each(|&loss| loss_matches(loss, &scores, &relevance))
        })
        .check("ties: a list of equally relevant items has no pair (loss 0, never NaN)", |ctx| {
            let scores = randn(&[2, 4], Kind::Float, ctx.device());
            let all_tied = Tensor::full([2, 4], 2.0, (Kind::Float, ctx.device()));
            ALL.iter().try_for_each(|&loss| loss_matches(loss, &scores, &all_tied))?;
            // Next to a list that has pairs.
            let mixed = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 1.0, 3.0, 0.0, 1.0, 3.0])
                .reshape([2, 4])
                .to_device(ctx.device());
            ALL.iter().try_for_each(|&loss| loss_matches(loss, &scores, &mixed))
        })
        .check("lists of one item", |ctx| {
            let scores = randn(&[3, 1], Kind::Float, ctx.device());
            let relevance = grades(&[3, 1], ctx.device());
            ALL.iter().try_for_each(|&loss| loss_matches(loss, &scores, &relevance))
        })
        .check("scores of +-100 (float32): finite values and gradients", |ctx| {
            let scores = (randint(&[2, 5], 3, ctx.device()) - 1).to_kind(Kind::Float) * 100.0;
            // Distinct relevances, in the opposite order of some scores.
            let relevance = randn(&[2, 5], Kind::Float, ctx.device());
            ALL.iter().try_for_each(|&loss| loss_matches(loss, &scores, &relevance))
        })
        .check("transposed (non-contiguous) scores and relevance", |ctx| {
            let scores = randn(&[5, 3], Kind::Float, ctx.device());
            let relevance = grades(&[5, 3], ctx.device());
            ALL.iter().try_for_each(|&loss| loss_matches(loss, &scores.tr(), &relevance.tr()))
        })
        .check("each loss's gradient by finite differences (gradcheck, float64)", |ctx| {
            let scores = randn(&[2, 4], Kind::Double, ctx.device());
            let relevance = grades(&[2, 4], ctx.device()).to_kind(Kind::Double);
            for loss in ALL {
                within(format!("for {} on scores of shape [2, 4]", loss.call()), || {
                    gradcheck(
                        |xs| loss.exercise(&xs[0], &relevance),
                        &[scores.copy()],
                        GradcheckOptions::default(),
                    )
                })?;
            }
            Ok(())
        })
        .run()
}
