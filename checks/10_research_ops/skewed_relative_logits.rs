//! Checks of 10_research_ops/skewed_relative_logits. skew: on and below the diagonal against a
//! loop (above it the result is unspecified), for lengths 1, 2 and 5, leading batch and head
//! dimensions, a transposed (non-contiguous) input. relative_logits: against a loop over queries
//! and keys in float64, zeros above the diagonal, lengths 1 and 6, batch and heads, a transposed
//! query, float64; gradcheck of q and e_rel; the code gathers nothing (the point of the skew).

use tch::{Device, Kind, Tensor};
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::randn;
use tensorlings_support::source::assert_no_method_calls;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("10_research_ops/skewed_relative_logits.rs");

fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-10) } else { Tolerance::new(1e-5, 1e-5) }
}

/// The last two dimensions of `x` as a list of [L, L] matrices (leading dimensions flattened).
fn matrices(x: &Tensor) -> Tensor {
    let size = x.size();
    let len = size[size.len() - 1];
    x.reshape([-1, len, len])
}

/// The skew with a loop: entry [i, j] = qe[i, L - 1 - i + j] for j <= i, 0 above the diagonal.
fn loop_skew(qe: &Tensor) -> Tensor {
    let size = qe.size();
    let len = size[size.len() - 1];
    let m = matrices(qe).to_kind(Kind::Double).to_device(Device::Cpu);
    let out = Tensor::zeros_like(&m);
    for i in 0..len {
        for j in 0..=i {
            out.select(1, i).select(1, j).copy_(&m.select(1, i).select(1, len - 1 - i + j));
        }
    }
    out.reshape(size.as_slice()).to_kind(qe.kind()).to_device(qe.device())
}

fn skew_matches(qe: &Tensor) -> CheckResult {
    within(format!("for qe of shape {:?}", qe.size()), || {
        let before = qe.copy();
        let got = exercise::skew(qe);
        assert_unchanged("qe", qe, &before)?;
        if got.size() != qe.size() {
            return Err(Failure::new(format!(
                "`skew(qe)` has shape {:?}, expected {:?}",
                got.size(),
                qe.size()
            )));
        }
        // Above the diagonal the skew is unspecified: compare on and below it.
        let what = "skew(qe) on and below the diagonal, compared with a loop,";
        assert_close(what, &got.tril(0), &loop_skew(qe), tolerance(qe.kind()))
    })
}

/// A qe whose entry [.., i, r] is 100 i + r - (L - 1): the row, and the distance of column r.
fn labelled(batch: &[i64], len: i64, device: Device) -> Tensor {
    let rows = Tensor::arange(len, (Kind::Float, device)).unsqueeze(1) * 100.0;
    let distances = Tensor::arange(len, (Kind::Float, device)) - (len - 1) as f64;
    let mut shape = batch.to_vec();
    shape.extend([len, len]);
    (rows + distances).expand(shape.as_slice(), false).contiguous()
}

/// relative_logits with a loop over queries and keys, in float64.
fn loop_logits(q: &Tensor, e_rel: &Tensor) -> Tensor {
    let size = q.size();
    let (len, d) = (size[size.len() - 2], size[size.len() - 1]);
    let qs = q.reshape([-1, len, d]).to_kind(Kind::Double).to_device(Device::Cpu);
    let e = e_rel.to_kind(Kind::Double).to_device(Device::Cpu);
    let out = Tensor::zeros([qs.size()[0], len, len], (Kind::Double, Device::Cpu));
    for i in 0..len {
        for j in 0..=i {
            let dot = (qs.select(1, i) * e.get(len - 1 - i + j)).sum_dim_intlist(-1, false, None::<Kind>);
            out.select(1, i).select(1, j).copy_(&dot);
        }
    }
    let mut shape = size[..size.len() - 1].to_vec();
    shape.push(len);
    out.reshape(shape.as_slice()).to_kind(q.kind()).to_device(q.device())
}

fn logits_match(q: &Tensor, e_rel: &Tensor) -> CheckResult {
    within(
        format!("for q of shape {:?} ({:?}) and e_rel of shape {:?}", q.size(), q.kind(), e_rel.size()),
        || {
            let (q_before, e_before) = (q.copy(), e_rel.copy());
            let expected = solution::relative_logits(&q.copy(), &e_rel.copy());
            let got = exercise::relative_logits(q, e_rel);
            assert_unchanged("q", q, &q_before)?;
            assert_unchanged("e_rel", e_rel, &e_before)?;
            let tol = tolerance(q.kind());
            assert_close(
                "relative_logits(q, e_rel), compared with a loop over queries and keys,",
                &got,
                &loop_logits(q, e_rel),
                tol,
            )?;
            assert_close("relative_logits(q, e_rel)", &got, &expected, tol)
        },
    )
}

fn main() {
    Checks::new()
        .check("skew of a labelled [5, 5] matrix, and of lengths 1 and 2", |ctx| {
            skew_matches(&labelled(&[], 5, ctx.device()))?;
            skew_matches(&labelled(&[], 1, ctx.device()))?;
            skew_matches(&labelled(&[], 2, ctx.device()))
        })
        .check("skew with batch and head dimensions, and of a transposed input", |ctx| {
            skew_matches(&randn(&[2, 3, 5, 5], Kind::Float, ctx.device()))?;
            skew_matches(&randn(&[2, 4, 4], Kind::Float, ctx.device()).transpose(1, 2))
        })
        .check("relative_logits with batch and heads: zeros above the diagonal", |ctx| {
            logits_match(
                &randn(&[2, 3, 6, 4], Kind::Float, ctx.device()),
                &randn(&[6, 4], Kind::Float, ctx.device()),
            )
        })
        .check("relative_logits of one token, of a transposed query, in float64", |ctx| {
            let dev = ctx.device();
            logits_match(&randn(&[2, 1, 3], Kind::Float, dev), &randn(&[1, 3], Kind::Float, dev))?;
            logits_match(
                &randn(&[2, 3, 5], Kind::Float, dev).transpose(1, 2),
                &randn(&[5, 3], Kind::Float, dev),
            )?;
            logits_match(&randn(&[2, 5, 3], Kind::Double, dev), &randn(&[5, 3], Kind::Double, dev))
        })
        .check("gradcheck of q and e_rel in float64", |ctx| {
            let (q, e) =
                (randn(&[1, 4, 2], Kind::Double, ctx.device()), randn(&[4, 2], Kind::Double, ctx.device()));
            within("for q of shape [1, 4, 2] and e_rel of shape [4, 2]", || {
                gradcheck(|t| exercise::relative_logits(&t[0], &t[1]), &[q, e], GradcheckOptions::default())
            })
        })
        .check("no gather: the skew is a pad, a reshape and a slice", |_ctx| {
            assert_no_method_calls(
                EXERCISE_SOURCE,
                &["gather", "index_select", "take", "take_along_dim", "index", "embedding"],
                "the skew exists to avoid gathering an embedding per (query, key) pair: pad one \
                 column on the left, reshape to [.., L + 1, L], drop the first row",
            )
        })
        .run()
}
