//! Checks of 10_research_ops/soft_topk: the mask against the reference (the function is defined
//! exactly: t is the unique solution of sum = k), its rows summing to k and its entries in [0, 1];
//! the hard top-k mask at tau 1e-3; k = 0, k = n and rows of one entry; magnitudes of 1e4; a
//! transposed (non-contiguous) input and a 3-D batch; float64; gradients against the reference
//! and gradcheck (finite differences through the whole bisection), which a gradient without the
//! threshold's dependence on x fails.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::assert_grad_close;
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("10_research_ops/soft_topk.rs");

/// Two correct answers find the same threshold to the kind's precision; an error of d in t moves
/// an entry by at most d / (4 tau).
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-10, 1e-8) } else { Tolerance::new(1e-5, 1e-4) }
}

/// The row sums are k, each entry is in [0, 1].
fn is_a_soft_mask(got: &Tensor, k: i64) -> CheckResult {
    let sums = got.to_kind(Kind::Double).sum_dim_intlist(-1, false, None::<Kind>).flatten(0, -1);
    let allowed = if got.kind() == Kind::Double { 1e-8 } else { 1e-4 } * (k.max(1) as f64);
    let off = (&sums - k as f64).abs();
    if off.numel() > 0 && off.max().double_value(&[]) > allowed {
        let row = off.argmax(0, false).int64_value(&[]);
        return Err(Failure::new(format!(
            "row {row} of the mask sums to {}, expected k = {k}: find t more precisely (a bracket \
             from min(x) - 40 tau to max(x) + 40 tau, halved 100 times)",
            sums.double_value(&[row])
        )));
    }
    let outside = got.lt(0.0).logical_or(&got.gt(1.0));
    if outside.any().int64_value(&[]) != 0 {
        return Err(Failure::new("the mask has entries outside [0, 1]: each is a sigmoid"));
    }
    Ok(())
}

fn mask_matches(x: &Tensor, k: i64, tau: f64) -> CheckResult {
    within(format!("for x of shape {:?} ({:?}), k {k}, tau {tau}", x.size(), x.kind()), || {
        let before = x.copy();
        let expected = solution::soft_topk_mask(&x.copy(), k, tau);
        let got = exercise::soft_topk_mask(x, k, tau);
        assert_unchanged("x", x, &before)?;
        if got.size() == x.size() {
            is_a_soft_mask(&got, k)?;
        }
        assert_close("soft_topk_mask(x, k, tau)", &got, &expected, tolerance(x.kind()))
    })
}

/// The hard top-k mask along the last dimension.
fn hard_mask(x: &Tensor, k: i64) -> Tensor {
    let (_, indices) = x.topk(k, -1, true, false);
    x.zeros_like().scatter_value(-1, &indices, 1.0)
}

/// Rows of distinct values at least 0.1 apart, in random order: [rows, n].
fn spread(rows: i64, n: i64, device: Device) -> Tensor {
    let perms: Vec<Tensor> = (0..rows).map(|_| Tensor::randperm(n, (Kind::Float, Device::Cpu))).collect();
    (Tensor::stack(&perms, 0) * 0.1 + randn(&[rows, n], Kind::Float, Device::Cpu) * 0.01).to_device(device)
}

fn main() {
    Checks::new()
        .check("rows of 8, k 3, tau 0.5: sums of k, entries in [0, 1], equal to the reference", |ctx| {
            mask_matches(&randn(&[4, 8], Kind::Float, ctx.device()), 3, 0.5)?;
            mask_matches(&randn(&[4, 8], Kind::Float, ctx.device()), 1, 2.0)
        })
        .check("at tau 1e-3 the mask is the hard top-k mask", |ctx| {
            let x = spread(3, 7, ctx.device());
            mask_matches(&x, 2, 1e-3)?;
            within("for x of shape [3, 7] with values 0.1 apart, k 2, tau 0.001", || {
                let got = exercise::soft_topk_mask(&x, 2, 1e-3);
                assert_close(
                    "soft_topk_mask(x, k, tau), compared with the hard top-k mask,",
                    &got,
                    &hard_mask(&x, 2),
                    Tolerance::new(1e-3, 0.0),
                )
            })
        })
        .check("k 0 gives zeros, k n gives ones, rows of one entry", |ctx| {
            let x = randn(&[3, 5], Kind::Float, ctx.device());
            mask_matches(&x, 0, 0.5)?;
            mask_matches(&x, 5, 0.5)?;
            mask_matches(&randn(&[4, 1], Kind::Float, ctx.device()), 1, 0.5)
        })
        .check("magnitudes of 1e4", |ctx| {
            mask_matches(&(randn(&[3, 6], Kind::Float, ctx.device()) * 1e4), 2, 1.0)
        })
        .check("a transposed (non-contiguous) input and a 3-D batch: the last dimension", |ctx| {
            mask_matches(&randn(&[8, 4], Kind::Float, ctx.device()).tr(), 3, 0.5)?;
            mask_matches(&randn(&[2, 3, 6], Kind::Float, ctx.device()), 2, 0.5)
        })
        .check("float64", |ctx| mask_matches(&randn(&[3, 7], Kind::Double, ctx.device()), 4, 0.3))
        .check("gradients equal the reference's", |ctx| {
            let x = randn(&[3, 6], Kind::Float, ctx.device());
            let g = randn(&[3, 6], Kind::Float, ctx.device());
            within("for x of shape [3, 6], k 2, tau 0.5", || {
                let grad = |f: &dyn Fn(&Tensor) -> Tensor| -> Result<Option<Tensor>, Failure> {
                    let leaf = x.copy().set_requires_grad(true);
                    let y = f(&leaf);
                    if !y.requires_grad() {
                        return Ok(None);
                    }
                    Ok(Tensor::f_run_backward(&[(y * &g).sum(None::<Kind>)], &[&leaf], false, false)?.pop())
                };
                let got = grad(&|t| exercise::soft_topk_mask(t, 2, 0.5))?;
                let expected = grad(&|t| solution::soft_topk_mask(t, 2, 0.5))?;
                let none = Tensor::new;
                assert_grad_close(
                    "x",
                    &got.unwrap_or_else(none),
                    &expected.unwrap_or_else(none),
                    Tolerance::new(1e-5, 1e-3),
                )
            })
        })
        .check("gradcheck in float64: the threshold's dependence on x is in the gradient", |ctx| {
            let x = randn(&[2, 5], Kind::Double, ctx.device());
            within("for x of shape [2, 5], k 2, tau 0.5", || {
                gradcheck(|t| exercise::soft_topk_mask(&t[0], 2, 0.5), &[x], GradcheckOptions::default())
                    .map_err(|f| {
                        if !f.message().contains("gradcheck:") {
                            return f;
                        }
                        Failure::new(format!(
                            "{}\n  the threshold t depends on x: give it the gradient dt/dx_j = s_j / sum(s) \
                         with t = t0 + sum(w * (x - x.detach())), t0 found without gradient",
                            f.message()
                        ))
                    })
            })
        })
        .run()
}
