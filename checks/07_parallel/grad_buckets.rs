//! Checks of 07_parallel/grad_buckets: the greedy bucketing rule, flatten and unflatten, and the
//! bucketed all-reduce on simulated ranks with an all-reduce that counts its calls.
//!
//! Regimes: `bucket_ranges` on a bucket filled exactly (`<=`, not `<`), a gradient larger than a
//! bucket first, in the middle and last, empty gradients (size 0) among others, one gradient,
//! none, everything in one bucket and one gradient per bucket; flatten and unflatten on a
//! scalar, an empty gradient and a transposed (non-contiguous) view, in float32 and float64;
//! the bucketed all-reduce on 1 and 3 ranks, with the number and sizes of the all-reduce calls
//! on every rank checked against the buckets, every gradient of its own shape and equal to the
//! mean over the ranks, and the inputs left as they were.

use std::ops::Range;

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::ranks::{Rank, run_ranks};
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("07_parallel/grad_buckets.rs");

fn ranges_match(sizes: &[i64], bucket_elems: i64) -> CheckResult {
    let expected = solution::bucket_ranges(sizes, bucket_elems);
    let got = within(format!("for sizes {sizes:?} and bucket_elems {bucket_elems}"), || {
        Ok::<_, Failure>(exercise::bucket_ranges(sizes, bucket_elems))
    })?;
    let totals = |ranges: &[Range<usize>]| -> Vec<i64> {
        ranges.iter().map(|r| sizes.get(r.clone()).map_or(-1, |s| s.iter().sum())).collect()
    };
    check_that!(
        got == expected,
        "`bucket_ranges({sizes:?}, {bucket_elems})` is {got:?} (buckets of {:?} elements), but the \
         buckets are {expected:?} (of {:?} elements): in order, a gradient joins the current bucket \
         when the bucket's total stays <= {bucket_elems}, otherwise it starts a new one; a \
         gradient larger than a bucket has one of its own, and no bucket is empty",
        totals(&got),
        totals(&expected)
    );
    Ok(())
}

/// Gradients of these shapes, the ones marked `true` as transposed views.
fn gradients(shapes: &[(&[i64], bool)], kind: Kind, device: Device) -> Vec<Tensor> {
    shapes
        .iter()
        .map(|&(shape, transposed)| {
            if transposed {
                let mut flipped = shape.to_vec();
                flipped.reverse();
                randn(&flipped, kind, device).tr()
            } else {
                randn(shape, kind, device)
            }
        })
        .collect()
}

fn describe(grads: &[Tensor]) -> String {
    let shapes: Vec<String> = grads
        .iter()
        .map(|g| format!("{:?}{}", g.size(), if g.is_contiguous() { "" } else { " (transposed)" }))
        .collect();
    format!("for gradients of shapes [{}]", shapes.join(", "))
}

fn flatten_and_unflatten(grads: &[Tensor]) -> CheckResult {
    within(describe(grads), || {
        let before: Vec<Tensor> = grads.iter().map(|g| g.copy()).collect();
        let expected = solution::flatten_bucket(&before.iter().map(|g| g.copy()).collect::<Vec<_>>());
        let flat = exercise::flatten_bucket(grads);
        for (i, (g, b)) in grads.iter().zip(&before).enumerate() {
            assert_unchanged(&format!("grads[{i}]"), g, b)?;
        }
        assert_close("flatten_bucket(grads)", &flat, &expected, Tolerance::EXACT)?;
        let flat_before = expected.copy();
        let pieces = exercise::unflatten_bucket(&expected, grads);
        assert_unchanged("flat", &expected, &flat_before)?;
        check_that!(
            pieces.len() == grads.len(),
            "`unflatten_bucket(flat, like)` returned {} tensors for {} gradients: one per gradient, \
             in order",
            pieces.len(),
            grads.len()
        );
        for (i, (piece, g)) in pieces.iter().zip(grads).enumerate() {
            assert_close(&format!("unflatten_bucket(flat, like)[{i}]"), piece, g, Tolerance::EXACT)?;
        }
        Ok(())
    })
}

/// A naive all-reduce (mean, in rank order) that records the size of every call.
fn counting_all_reduce(rank: &Rank<'_>, flat: &Tensor, calls: &mut Vec<i64>) -> Tensor {
    calls.push(flat.numel() as i64);
    let world = rank.world_size();
    for other in (0..world).filter(|&other| other != rank.rank()) {
        rank.send(other, flat);
    }
    let mut sum = flat.zeros_like();
    for from in 0..world {
        sum += if from == rank.rank() { flat.shallow_clone() } else { rank.recv(from) };
    }
    sum / world as f64
}

/// The bucketed all-reduce on `world` ranks, each with random gradients of `shapes`.
fn bucketed_matches(
    world: usize,
    shapes: &[(&[i64], bool)],
    bucket_elems: i64,
    device: Device,
) -> CheckResult {
    let per_rank: Vec<Vec<Tensor>> = (0..world).map(|_| gradients(shapes, Kind::Float, device)).collect();
    let sizes: Vec<i64> = per_rank[0].iter().map(|g| g.numel() as i64).collect();
    let buckets = solution::bucket_ranges(&sizes, bucket_elems);
    let bucket_sizes: Vec<i64> = buckets.iter().map(|b| sizes[b.clone()].iter().sum()).collect();
    within(format!("on {world} rank(s), {} and bucket_elems {bucket_elems}", describe(&per_rank[0])), || {
        let before: Vec<Vec<Tensor>> =
            per_rank.iter().map(|gs| gs.iter().map(|g| g.copy()).collect()).collect();
        let inputs: Vec<Vec<Tensor>> =
            per_rank.iter().map(|gs| gs.iter().map(|g| g.shallow_clone()).collect()).collect();
        let (outputs, _) = run_ranks(inputs, |rank, grads| {
            let mut calls = Vec::new();
            let reduced = exercise::bucketed_all_reduce(&grads, bucket_elems, |flat| {
                counting_all_reduce(rank, flat, &mut calls)
            });
            (reduced, calls)
        })?;
        for (r, (gs, bs)) in per_rank.iter().zip(&before).enumerate() {
            for (i, (g, b)) in gs.iter().zip(bs).enumerate() {
                assert_unchanged(&format!("grads[{i}] of rank {r}"), g, b)?;
            }
        }
        for (r, (reduced, calls)) in outputs.iter().enumerate() {
            check_that!(
                *calls == bucket_sizes,
                "on rank {r}, all_reduce was called {} times, on {calls:?} elements; the gradients \
                 of sizes {sizes:?} make {} bucket{} of {bucket_sizes:?} elements with bucket_elems \
                 {bucket_elems}: flatten each bucket and all-reduce it once",
                calls.len(),
                bucket_sizes.len(),
                if bucket_sizes.len() == 1 { "" } else { "s" }
            );
            check_that!(
                reduced.len() == sizes.len(),
                "on rank {r}, `bucketed_all_reduce` returned {} tensors for {} gradients: one per \
                 gradient, in order",
                reduced.len(),
                sizes.len()
            );
            for (i, got) in reduced.iter().enumerate() {
                let all: Vec<Tensor> = before.iter().map(|bs| bs[i].to_kind(Kind::Double)).collect();
                let mean = Tensor::stack(&all, 0).mean_dim(0, false, Kind::Double).to_kind(Kind::Float);
                // A sum of `world` float32 values and a division: a few epsilon.
                let tol = Tolerance::new(1e-6 * world as f64, 1e-6);
                assert_close(&format!("bucketed_all_reduce(..)[{i}] on rank {r}"), got, &mean, tol)?;
            }
        }
        Ok(())
    })
}

/// Shapes of a small model's gradients, some transposed views: sizes 12, 5, 1, 0, 12, 20, 4.
const MODEL: &[(&[i64], bool)] = &[
    (&[4, 3], false),
    (&[5], false),
    (&[], false),
    (&[2, 0], false),
    (&[3, 4], true),
    (&[20], false),
    (&[2, 2], false),
];

fn main() {
    Checks::new()
        .check("bucket_ranges fills buckets greedily, in order", |_ctx| {
            ranges_match(&[3, 4, 2, 10, 1], 8)?;
            ranges_match(&[1, 2, 3], 100)?;
            ranges_match(&[5, 6, 7], 1)
        })
        .check("bucket_ranges: a bucket filled exactly, and gradients larger than a bucket", |_ctx| {
            ranges_match(&[4, 4, 4], 8)?;
            ranges_match(&[10, 1, 1], 8)?;
            ranges_match(&[1, 10, 1], 8)?;
            ranges_match(&[2, 3, 9], 8)
        })
        .check("bucket_ranges with empty gradients, one gradient, and none", |_ctx| {
            ranges_match(&[0, 8, 0, 1], 8)?;
            ranges_match(&[3], 8)?;
            ranges_match(&[], 8)
        })
        .check("flatten_bucket and unflatten_bucket undo each other, shapes kept", |ctx| {
            flatten_and_unflatten(&gradients(&[(&[2, 3], false), (&[5], false)], Kind::Float, ctx.device()))?;
            flatten_and_unflatten(&gradients(MODEL, Kind::Float, ctx.device()))?;
            flatten_and_unflatten(&gradients(&[(&[3, 2], true)], Kind::Double, ctx.device()))
        })
        .check("bucketed_all_reduce on 3 ranks: one all-reduce per bucket, every gradient the mean", |ctx| {
            bucketed_matches(3, MODEL, 16, ctx.device())
        })
        .check("bucketed_all_reduce with one bucket for all, one per gradient, and on 1 rank", |ctx| {
            bucketed_matches(3, MODEL, 1000, ctx.device())?;
            bucketed_matches(2, MODEL, 1, ctx.device())?;
            bucketed_matches(1, MODEL, 16, ctx.device())
        })
        .run()
}
