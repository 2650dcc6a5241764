//! Checks of 10_research_ops/learnable_pooling. gem_pool: values against the reference and the
//! naive formula (avg_pool2d of x^p) where that is finite; p = 1 is average pooling; p = 0.5 is
//! clamped to 1 (and p's gradient is 0 there); p = 100, where x^p overflows float32, lies between
//! max * n^(-1/p) and the max; features with exact zeros (the eps clamp: no NaN in the
//! gradient); a 1x1 map; a permuted (non-contiguous) input; float64; gradients of x and p against
//! the reference and gradcheck. attention_pool: against a loop over the batch, with and without
//! a mask, scores of about 1e4, one position, a transposed input, float64; gradients of x and
//! query and gradcheck.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::assert_grad_close;
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::{randn, uniform};
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("10_research_ops/learnable_pooling.rs");

const EPS: f64 = 1e-6;

fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-10, 1e-10) } else { Tolerance::new(1e-5, 1e-5) }
}

/// Positive features of shape [2, 3, 4, 5] below 4, about a quarter of them exactly 0 (as
/// after a ReLU).
fn features(kind: Kind, device: Device) -> Tensor {
    (uniform(&[2, 3, 4, 5], -1.0, 4.0, Kind::Float, device)).relu().to_kind(kind)
}

fn scalar(p: f64, kind: Kind, device: Device) -> Tensor {
    Tensor::from(p).to_kind(kind).to_device(device)
}

/// gem_pool's values against the reference; `also` is a second expected result (a built-in)
/// with its name, compared as well.
fn gem_matches(x: &Tensor, p: f64, also: Option<(&str, Tensor)>) -> CheckResult {
    within(format!("for x of shape {:?} ({:?}) and p {p}", x.size(), x.kind()), || {
        let p = scalar(p, x.kind(), x.device());
        let before = x.copy();
        let expected = solution::gem_pool(&x.copy(), &p, EPS);
        let got = exercise::gem_pool(x, &p, EPS);
        assert_unchanged("x", x, &before)?;
        if got.size() == expected.size() && got.isfinite().logical_not().any().int64_value(&[]) != 0 {
            return Err(Failure::new(
                "`gem_pool(x, p, eps)` is inf or NaN: x^p overflows for a large p (4^100 is beyond \
                 float32): compute exp((logsumexp(p * log x) - log(H * W)) / p)",
            ));
        }
        let tol = tolerance(x.kind());
        assert_close("gem_pool(x, p, eps)", &got, &expected, tol)?;
        match also {
            Some((name, other)) => {
                assert_close(&format!("gem_pool(x, p, eps), compared with {name},"), &got, &other, tol)
            }
            None => Ok(()),
        }
    })
}

/// The naive GeM with built-ins (finite for moderate p).
fn naive_gem(x: &Tensor, p: f64) -> Tensor {
    let (h, w) = (x.size()[2], x.size()[3]);
    x.clamp_min(EPS)
        .pow_tensor_scalar(p.max(1.0))
        .avg_pool2d([h, w], [h, w], [0, 0], false, true, None::<i64>)
        .pow_tensor_scalar(1.0 / p.max(1.0))
        .flatten(1, 3)
}

/// Gradients of sum(gem_pool(x, p) * g) for x and p against the reference's: finite, and equal.
fn gem_gradients_match(x: &Tensor, p: f64) -> CheckResult {
    within(format!("for the gradients with x of shape {:?} ({:?}) and p {p}", x.size(), x.kind()), || {
        let g = randn(&[x.size()[0], x.size()[1]], x.kind(), x.device());
        let run = |f: &dyn Fn(&Tensor, &Tensor) -> Tensor| -> Result<Vec<Tensor>, Failure> {
            let xl = x.detach().copy().set_requires_grad(true);
            let pl = scalar(p, x.kind(), x.device()).set_requires_grad(true);
            let y = f(&xl, &pl);
            if !y.requires_grad() {
                return Err(Failure::new(
                    "`gem_pool(x, p, eps)` does not require grad for an x and a p that do",
                ));
            }
            Tensor::f_run_backward(&[(y * &g).sum(None::<Kind>)], &[&xl, &pl], false, true)
                .map_err(Failure::from)
        };
        let got = run(&|x, p| exercise::gem_pool(x, p, EPS))?;
        let expected = run(&|x, p| solution::gem_pool(x, p, EPS))?;
        for ((name, got), expected) in ["x", "p"].iter().zip(got).zip(expected) {
            if got.defined() && got.isnan().any().int64_value(&[]) != 0 {
                return Err(Failure::new(format!(
                    "the gradient of `{name}` has NaN: log of a feature that is exactly 0 is -inf \
                     (and its derivative inf): clamp x at eps before the log"
                )));
            }
            assert_grad_close(name, &got, &expected, Tolerance::new(1e-5, 1e-4))?;
        }
        Ok(())
    })
}

/// attention_pool with a loop over the batch, in float64: the softmax-weighted mean of each
/// sample's positions.
fn attention_loop(x: &Tensor, query: &Tensor, mask: Option<&Tensor>) -> Tensor {
    let xd = x.to_kind(Kind::Double);
    let q = query.to_kind(Kind::Double);
    let d = x.size()[2] as f64;
    let rows: Vec<Tensor> = (0..x.size()[0])
        .map(|n| {
            let xn = xd.get(n);
            let mut scores = xn.mv(&q) / d.sqrt();
            if let Some(mask) = mask {
                scores = scores.masked_fill(&mask.get(n).logical_not(), f64::NEG_INFINITY);
            }
            let weights = scores.softmax(0, Kind::Double);
            (xn * weights.unsqueeze(1)).sum_dim_intlist(0, false, Kind::Double)
        })
        .collect();
    Tensor::stack(&rows, 0).to_kind(x.kind())
}

fn attention_matches(what: &str, x: &Tensor, query: &Tensor, mask: Option<&Tensor>) -> CheckResult {
    within(
        format!(
            "for {what}: x of shape {:?} ({:?}), {}",
            x.size(),
            x.kind(),
            if mask.is_some() { "with a mask" } else { "no mask" }
        ),
        || {
            let (x_before, q_before) = (x.copy(), query.copy());
            let expected = solution::attention_pool(&x.copy(), &query.copy(), mask);
            let got = exercise::attention_pool(x, query, mask);
            assert_unchanged("x", x, &x_before)?;
            assert_unchanged("query", query, &q_before)?;
            let tol = tolerance(x.kind());
            assert_close("attention_pool(x, query, mask)", &got, &expected, tol)?;
            let looped = attention_loop(x, query, mask);
            assert_close(
                "attention_pool(x, query, mask), compared with a loop over the batch,",
                &got,
                &looped,
                tol,
            )
        },
    )
}

fn main() {
    Checks::new()
        .check("gem_pool with p 3 equals the naive formula", |ctx| {
            let x = features(Kind::Float, ctx.device());
            gem_matches(&x, 3.0, Some(("avg_pool2d(x.clamp(eps)^p)^(1/p)", naive_gem(&x, 3.0))))
        })
        .check("gem_pool with p 1 is average pooling", |ctx| {
            let x = features(Kind::Float, ctx.device());
            let average = x.clamp_min(EPS).mean_dim([2, 3].as_slice(), false, Kind::Float);
            gem_matches(&x, 1.0, Some(("the average (p = 1)", average)))
        })
        .check("gem_pool clamps p at 1: p 0.5 is average pooling too", |ctx| {
            let x = features(Kind::Float, ctx.device());
            let average = x.clamp_min(EPS).mean_dim([2, 3].as_slice(), false, Kind::Float);
            gem_matches(&x, 0.5, Some(("the average (p clamped at P_MIN = 1)", average)))
        })
        .check("gem_pool with p 100, where x^p overflows float32, approaches the max", |ctx| {
            let x = features(Kind::Float, ctx.device());
            let max = x.amax([2, 3].as_slice(), false);
            gem_matches(&x, 100.0, None)?;
            // (mean x^p)^(1/p) lies between max * n^(-1/p) (one entry at the max) and the max.
            let got = exercise::gem_pool(&x, &scalar(100.0, Kind::Float, ctx.device()), EPS);
            let low = &max * 20f64.powf(-1.0 / 100.0) - 1e-5;
            let ok = got.ge_tensor(&low).logical_and(&got.le_tensor(&(&max + 1e-5)));
            if ok.all().int64_value(&[]) == 0 {
                return Err(Failure::new("for p 100, `gem_pool` is not between max * n^(-1/p) and the max"));
            }
            Ok(())
        })
        .check("gem_pool on a 1x1 map, a permuted (non-contiguous) input, float64", |ctx| {
            gem_matches(&features(Kind::Float, ctx.device()).narrow(2, 0, 1).narrow(3, 0, 1), 3.0, None)?;
            let nhwc = uniform(&[2, 4, 5, 3], 0.0, 4.0, Kind::Float, ctx.device());
            gem_matches(&nhwc.permute([0, 3, 1, 2]), 2.5, None)?;
            gem_matches(&features(Kind::Double, ctx.device()), 3.0, None)
        })
        .check("gem_pool's gradients of x and p, with exact zeros in x", |ctx| {
            let x = features(Kind::Float, ctx.device());
            gem_gradients_match(&x, 3.0)?;
            gem_gradients_match(&x, 100.0)?;
            gem_gradients_match(&x, 0.5)
        })
        .check("gem_pool passes gradcheck in float64", |ctx| {
            let x = uniform(&[1, 2, 2, 3], 0.5, 3.0, Kind::Double, ctx.device());
            let p = scalar(2.5, Kind::Double, ctx.device());
            within("for x of shape [1, 2, 2, 3] and p 2.5", || {
                gradcheck(|t| exercise::gem_pool(&t[0], &t[1], EPS), &[x, p], GradcheckOptions::default())
            })
        })
        .check("attention_pool without and with a mask", |ctx| {
            let dev = ctx.device();
            let x = randn(&[3, 5, 4], Kind::Float, dev);
            let q = randn(&[4], Kind::Float, dev);
            attention_matches("random positions", &x, &q, None)?;
            let mask = uniform(&[3, 5], 0.0, 1.0, Kind::Float, dev).gt(0.4).index_fill(
                1,
                &Tensor::from_slice(&[2i64]).to_device(dev),
                1,
            );
            attention_matches("random positions", &x, &q, Some(&mask))
        })
        .check("attention_pool with scores of about 1e4, one position, a transposed input, float64", |ctx| {
            let dev = ctx.device();
            let q = randn(&[4], Kind::Float, dev) * 100.0;
            attention_matches("large scores", &(randn(&[2, 6, 4], Kind::Float, dev) * 100.0), &q, None)?;
            attention_matches("one position", &randn(&[3, 1, 4], Kind::Float, dev), &q, None)?;
            attention_matches(
                "a transposed input",
                &randn(&[2, 4, 6], Kind::Float, dev).transpose(1, 2),
                &(&q / 100.0),
                None,
            )?;
            attention_matches(
                "float64",
                &randn(&[2, 5, 3], Kind::Double, dev),
                &randn(&[3], Kind::Double, dev),
                None,
            )
        })
        .check("attention_pool's gradients of x and query", |ctx| {
            let dev = ctx.device();
            let x = randn(&[2, 4, 3], Kind::Double, dev);
            let q = randn(&[3], Kind::Double, dev);
            let mask = Tensor::from_slice(&[true, false, true, true, false, true, false, true])
                .reshape([2, 4])
                .to_device(dev);
            within("for x of shape [2, 4, 3] and a query of shape [3], with a mask", || {
                gradcheck(
                    |t| exercise::attention_pool(&t[0], &t[1], Some(&mask)),
                    &[x, q],
                    GradcheckOptions::default(),
                )
            })
        })
        .run()
}
