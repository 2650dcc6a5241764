//! Checks of 02_einsum/einsum_attention: `attention` against the reference and against libtorch's
//! `scaled_dot_product_attention`.
//!
//! Regimes of the contract, and the check that visits each:
//! - lq != lk and d != dv, so that no wrong pairing of letters hides behind equal sizes; and
//!   lq == lk == d == dv, where a transposed operand runs without an error;
//! - one query and one key;
//! - no mask, a [lq, lk] mask shared by the batch, and a mask per batch (each with a true in
//!   every row, as the exercise promises);
//! - all values 1: the output must then be 1 (each query's weights sum to 1);
//! - large scores (q and k of magnitude 10), where a softmax written as exp / sum overflows;
//! - a masked key holding each row's largest score by far, where a softmax taken before the
//!   mask (then renormalised) leaves 0 / 0;
//! - float64.
//!
//! Two mistakes get a message of their own: an output that is the same for every query (the
//! seed's "bqk,bvd->bqd") and NaN where the reference has none. The last check reads the
//! exercise's code: it must use einsum, and not call scaled_dot_product_attention.

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("02_einsum/einsum_attention.rs");

/// The sizes of one attention call: batch, queries, keys, features of q and k, features of v.
#[derive(Clone, Copy)]
struct Sizes {
    b: i64,
    lq: i64,
    lk: i64,
    d: i64,
    dv: i64,
}

/// Which mask a check passes.
#[derive(Clone, Copy)]
enum Mask {
    None,
    /// `[lq, lk]`, the same for every batch.
    Shared,
    /// `[b, lq, lk]`.
    PerBatch,
}

/// A boolean mask of `shape` (`[.., lq, lk]`): about half the keys allowed at random, and always
/// key `i % lk` for query `i`, so that every query may attend to at least one key.
fn random_mask(shape: &[i64], device: Device) -> Tensor {
    let (lq, lk) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let allowed = uniform(shape, 0.0, 1.0, Kind::Float, device).lt(0.5);
    let query = Tensor::arange(lq, (Kind::Int64, device)).unsqueeze(1);
    let key = Tensor::arange(lk, (Kind::Int64, device)).unsqueeze(0);
    allowed.logical_or(&query.remainder(lk).eq_tensor(&key))
}

/// Random q, k and v of these sizes (q and k scaled by `magnitude`), and the mask asked for.
fn inputs(
    sizes: Sizes,
    mask: Mask,
    magnitude: f64,
    kind: Kind,
    device: Device,
) -> (Tensor, Tensor, Tensor, Option<Tensor>) {
    let Sizes { b, lq, lk, d, dv } = sizes;
    let q = randn(&[b, lq, d], kind, device) * magnitude;
    let k = randn(&[b, lk, d], kind, device) * magnitude;
    let v = randn(&[b, lk, dv], kind, device);
    let mask = match mask {
        Mask::None => None,
        Mask::Shared => Some(random_mask(&[lq, lk], device)),
        Mask::PerBatch => Some(random_mask(&[b, lq, lk], device)),
    };
    (q, k, v, mask)
}

/// "for q of shape [2, 3, 4], k [2, 5, 4], v [2, 5, 6] and a mask of shape [3, 5]"
fn describe(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> String {
    let mask = match mask {
        Some(mask) => format!("a mask of shape {:?}", mask.size()),
        None => "no mask".to_string(),
    };
    format!("for q of shape {:?}, k {:?}, v {:?} and {mask}", q.size(), k.size(), v.size())
}

/// Fails when the result has NaN or infinite values where the reference is finite, naming the
/// two ways that happens.
fn finite_where_expected(got: &Tensor, expected: &Tensor) -> CheckResult {
    if got.size() != expected.size() || got.numel() == 0 {
        return Ok(());
    }
    let bad = got.isfinite().logical_not().logical_and(&expected.isfinite()).to_device(Device::Cpu);
    if bad.any().int64_value(&[]) == 0 {
        return Ok(());
    }
    let first = Vec::<i64>::try_from(&bad.nonzero().get(0)).map_err(Failure::from)?;
    let value = got.to_device(Device::Cpu).double_value(&first);
    Err(Failure::new(format!(
        "`attention(q, k, v, mask)` is {value} at {first:?}, where the reference is finite. \
         Common causes: exp() of large scores overflows (softmax(-1, ..) subtracts each row's \
         maximum first, exp(s) / sum(exp(s)) does not); a mask added as 0/1 times -inf gives \
         0 * -inf = NaN where the mask is 0 (use masked_fill); the softmax of a row whose scores \
         are all -inf is NaN: is the mask inverted? (true means the query MAY attend to that key, \
         so fill -inf where the mask is false: mask.logical_not()); and a softmax over the queries \
         instead of the keys meets a whole column of -inf where no query may see a key (take it \
         over the last dimension); a softmax taken before the mask and renormalised after it \
         gives 0 / 0 when a masked key holds the row's largest score (the others underflow to 0: \
         fill -inf before the softmax)"
    )))
}

/// Fails when every query got the same output row while the reference's rows differ: the mark
/// of an equation that sums the weights and the values separately.
fn depends_on_the_queries(got: &Tensor, expected: &Tensor) -> CheckResult {
    if got.size() != expected.size() || got.numel() == 0 || got.size()[1] < 2 {
        return Ok(());
    }
    let spread = |t: &Tensor| (t - t.narrow(1, 0, 1)).abs().max().double_value(&[]);
    let scale = 1.0 + got.abs().max().double_value(&[]);
    if spread(got) <= 1e-5 * scale && spread(expected) > 1e-3 {
        return Err(Failure::new(
            "every query got the same output: `attention(q, k, v, mask)[s, i]` is the same row for \
             every query i, but the reference's rows differ. An equation such as \"bqk,bvd->bqd\" \
             does this: with different letters for the keys of the weights (k) and the rows of v \
             (v), einsum sums each on its own, so every query gets (the sum of its weights, 1) \
             times (the sum of all the values). The weight of key j must meet row j of v: use \
             the same letter, \"bqk,bkd->bqd\"",
        ));
    }
    Ok(())
}

/// The exercise against the reference and scaled_dot_product_attention, with the two diagnoses.
fn attention_matches(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    tol: Tolerance,
) -> CheckResult {
    let mut inputs = vec![("q", q), ("k", k), ("v", v)];
    inputs.extend(mask.map(|mask| ("mask", mask)));
    call(
        "attention(q, k, v, mask)",
        &inputs,
        |x| solution::attention(&x[0], &x[1], &x[2], x.get(3)),
        |x| exercise::attention(&x[0], &x[1], &x[2], x.get(3)),
    )
    .describe(describe(q, k, v, mask))
    .diagnose(finite_where_expected)
    .diagnose(depends_on_the_queries)
    .tolerance(tol)
    .builtin("scaled_dot_product_attention", |x| {
        Tensor::scaled_dot_product_attention(&x[0], &x[1], &x[2], x.get(3), 0.0, false, None, false)
    })
    .check()
}

/// Random inputs of these sizes, through [`attention_matches`].
fn random_attention_matches(device: Device, sizes: Sizes, mask: Mask, kind: Kind) -> CheckResult {
    let (q, k, v, mask) = inputs(sizes, mask, 1.0, kind, device);
    attention_matches(&q, &k, &v, mask.as_ref(), tolerance(kind))
}

/// Two correct programs round differently (where the scale is applied, how the softmax sums),
/// and the softmax turns an absolute error in a score into a relative error in the weights.
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-10, 1e-9) } else { Tolerance::new(1e-5, 1e-4) }
}

const SIZES: Sizes = Sizes { b: 2, lq: 3, lk: 5, d: 4, dv: 6 };

fn main() {
    Checks::new()
        .check("no mask: q [2, 3, 4], k [2, 5, 4], v [2, 5, 6]", |ctx| {
            random_attention_matches(ctx.device(), SIZES, Mask::None, Kind::Float)
        })
        .check("no mask, as many queries as keys: q, k and v [3, 4, 4]", |ctx| {
            let sizes = Sizes { b: 3, lq: 4, lk: 4, d: 4, dv: 4 };
            random_attention_matches(ctx.device(), sizes, Mask::None, Kind::Float)
        })
        .check("one query and one key: q [2, 1, 3], k [2, 1, 3], v [2, 1, 2]", |ctx| {
            let sizes = Sizes { b: 2, lq: 1, lk: 1, d: 3, dv: 2 };
            random_attention_matches(ctx.device(), sizes, Mask::None, Kind::Float)
        })
        .check("a [lq, lk] mask shared by the batch", |ctx| {
            random_attention_matches(ctx.device(), SIZES, Mask::Shared, Kind::Float)
        })
        .check("a [b, lq, lk] mask, one per batch", |ctx| {
            let sizes = Sizes { b: 3, ..SIZES };
            random_attention_matches(ctx.device(), sizes, Mask::PerBatch, Kind::Float)
        })
        .check("each query's weights sum to 1: with every value 1, every output is 1", |ctx| {
            let (q, k, _, mask) = inputs(SIZES, Mask::PerBatch, 1.0, Kind::Float, ctx.device());
            let v = Tensor::ones([SIZES.b, SIZES.lk, SIZES.dv], (Kind::Float, ctx.device()));
            attention_matches(&q, &k, &v, mask.as_ref(), tolerance(Kind::Float)).map_err(|f| {
                f.context(
                    "with every value 1 the output must be 1 everywhere, because each query's \
                     weights must sum to 1 over the keys (a softmax over the last dimension, with \
                     masked scores at -inf before it, not a mask multiplied in after it)",
                )
            })
        })
        .check("large scores (q and k of magnitude 10), with a mask", |ctx| {
            let (q, k, v, mask) = inputs(SIZES, Mask::Shared, 10.0, Kind::Float, ctx.device());
            // Scores of about 100: a relative rounding error of 1e-7 in a score is 1e-5 in the
            // exponent, and so in the weights.
            let tol = Tolerance::new(1e-4, 1e-4);
            attention_matches(&q, &k, &v, mask.as_ref(), tol)
        })
        .check("a masked key holding the largest score of every row, by far", |ctx| {
            // Positive queries and a first key of 100s: its score is about 400, the others' a
            // few units. It is masked for every query; the other keys are allowed.
            let Sizes { b, lq, lk, d, dv } = SIZES;
            let q = randn(&[b, lq, d], Kind::Float, ctx.device()).abs() + 1.0;
            let k = randn(&[b, lk, d], Kind::Float, ctx.device());
            let k = k.index_fill(1, &Tensor::from_slice(&[0i64]).to_device(ctx.device()), 100.0);
            let v = randn(&[b, lk, dv], Kind::Float, ctx.device());
            let key = Tensor::arange(lk, (Kind::Int64, ctx.device()));
            let mask = key.ne(0).unsqueeze(0).expand([lq, lk], false).contiguous();
            attention_matches(&q, &k, &v, Some(&mask), tolerance(Kind::Float))
        })
        .check("float64, with a mask per batch", |ctx| {
            random_attention_matches(ctx.device(), SIZES, Mask::PerBatch, Kind::Double)
        })
        .check("written with einsum, without scaled_dot_product_attention", |_ctx| {
            assert_calls(
                EXERCISE_SOURCE,
                "einsum",
                "this section is about einsum: the scores are Tensor::einsum(\"bqd,bkd->bqk\", &[q, k], \
                 None::<i64>) and the output Tensor::einsum(\"bqk,bkd->bqd\", &[&weights, v], None::<i64>)",
            )?;
            assert_does_not_call(
                EXERCISE_SOURCE,
                "scaled_dot_product_attention",
                "it is what your attention is compared with; write the scores, the mask, the softmax and \
                 the weighted sum yourself",
            )
        })
        // `tensorlings profile`: 8 sequences of n queries and n keys of 64 features, no mask,
        // against the fused scaled_dot_product_attention.
        .profile("attention", profile::sizes("n", [64, 256, 1024]), |n, device| {
            let (q, k, v) = (
                randn(&[8, n, 64], Kind::Float, device),
                randn(&[8, n, 64], Kind::Float, device),
                randn(&[8, n, 64], Kind::Float, device),
            );
            profile_case!(attention(q, k, v; None)).builtin("F.scaled_dot_product_attention", |x| {
                Tensor::scaled_dot_product_attention(
                    &x[0],
                    &x[1],
                    &x[2],
                    None::<&Tensor>,
                    0.0,
                    false,
                    None,
                    false,
                )
            })
        })
        .run()
}
