//! Checks of 03_memory/memory_efficient_matmul. Values against the naive, whole computation (the
//! reference), for:
//!
//! - a block that does not divide n (a last, smaller block of one row), one that does, a block
//!   of 1, a block equal to n and one larger than n, one row, no rows;
//! - non-contiguous inputs (transposed views), float64;
//! - scores in the thousands, where a softmax written with a plain exp overflows;
//! - top-k: values and indices (their order and pairing), k = 1 and k = m.
//!
//! Memory, measured with the support library's allocator statistics in this process (a warm-up
//! call first): the blocked version's peak on [2048, 16] x [2048, 16] in blocks of 128 rows is at
//! most a quarter of the naive peak (it is about a tenth: 128 of 2048 rows of scores), and a
//! block of 64 rows peaks at less than half what a block of 512 does (about an eighth), so the
//! block size must be the one asked for. Inputs are never modified.

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::{
    CheckResult, Checks, Tolerance, assert_close, assert_unchanged, check_that, compare::assert_equal,
    memory, within,
};
use tensorlings_support::{profile, profile_case};

tensorlings_support::exercise_modules!("03_memory/memory_efficient_matmul.rs");

/// The blocked and the whole computation run the same operations per row, but a matrix product
/// of a block may sum in another order than one of the whole matrix: a few float32 roundings.
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::for_kind(kind) } else { Tolerance::new(1e-5, 1e-5) }
}

fn softmax_sum_matches(a: &Tensor, b: &Tensor, v: &Tensor, block: i64) -> CheckResult {
    within(
        format!(
            "for a of shape {:?}, b of shape {:?}, v of shape {:?} in blocks of {block}",
            a.size(),
            b.size(),
            v.size()
        ),
        || {
            let (a0, b0, v0) = (a.copy(), b.copy(), v.copy());
            let expected = solution::naive_softmax_weighted_sum(&a.copy(), &b.copy(), &v.copy());
            let got = exercise::softmax_weighted_sum(a, b, v, block);
            assert_unchanged("a", a, &a0)?;
            assert_unchanged("b", b, &b0)?;
            assert_unchanged("v", v, &v0)?;
            assert_close("softmax_weighted_sum(a, b, v, block)", &got, &expected, tolerance(a.kind()))
        },
    )
}

fn topk_matches(a: &Tensor, b: &Tensor, k: i64, block: i64) -> CheckResult {
    within(
        format!("for a of shape {:?}, b of shape {:?}, k = {k} in blocks of {block}", a.size(), b.size()),
        || {
            let (a0, b0) = (a.copy(), b.copy());
            let (values, indices) = solution::naive_topk_scores(&a.copy(), &b.copy(), k);
            let (got_values, got_indices) = exercise::topk_scores(a, b, k, block);
            assert_unchanged("a", a, &a0)?;
            assert_unchanged("b", b, &b0)?;
            assert_close(
                "topk_scores(a, b, k, block).0 (the values)",
                &got_values,
                &values,
                tolerance(a.kind()),
            )?;
            assert_equal("topk_scores(a, b, k, block).1 (the indices)", &got_indices, &indices)
        },
    )
}

fn random(n: i64, m: i64, d: i64, e: i64, kind: Kind, dev: Device) -> (Tensor, Tensor, Tensor) {
    (randn(&[n, d], kind, dev), randn(&[m, d], kind, dev), randn(&[m, e], kind, dev))
}

/// The peak of `f` above the level at its start, after a warm-up call (first calls of a
/// product initialise caches: a cuBLAS workspace on a GPU).
fn peak<T>(dev: Device, f: impl Fn() -> T) -> Result<u64, tensorlings_support::Failure> {
    drop(f());
    Ok(memory::measure(dev, f)?.1.peak_bytes)
}

fn main() {
    Checks::new()
        .check("softmax_weighted_sum with a last, smaller block (10 rows in blocks of 3)", |ctx| {
            let (a, b, v) = random(10, 6, 4, 3, Kind::Float, ctx.device());
            softmax_sum_matches(&a, &b, &v, 3)?;
            softmax_sum_matches(&a, &b, &v, 4)
        })
        .check("softmax_weighted_sum in blocks of 5, 1, 10 and 32 rows of 10", |ctx| {
            let (a, b, v) = random(10, 7, 4, 5, Kind::Float, ctx.device());
            for block in [5, 1, 10, 32] {
                softmax_sum_matches(&a, &b, &v, block)?;
            }
            Ok(())
        })
        .check("softmax_weighted_sum with one row and with no rows", |ctx| {
            let (a, b, v) = random(1, 6, 4, 3, Kind::Float, ctx.device());
            softmax_sum_matches(&a, &b, &v, 4)?;
            let (a, b, v) = random(0, 6, 4, 3, Kind::Float, ctx.device());
            softmax_sum_matches(&a, &b, &v, 4)
        })
        .check("softmax_weighted_sum of transposed views, and in float64", |ctx| {
            let dev = ctx.device();
            let a = randn(&[4, 9], Kind::Float, dev).tr();
            let b = randn(&[4, 6], Kind::Float, dev).tr();
            let v = randn(&[3, 6], Kind::Float, dev).tr();
            softmax_sum_matches(&a, &b, &v, 4)?;
            let (a, b, v) = random(9, 6, 4, 3, Kind::Double, dev);
            softmax_sum_matches(&a, &b, &v, 2)
        })
        .check("softmax_weighted_sum of scores in the thousands (a plain exp overflows)", |ctx| {
            let (a, b, v) = random(8, 6, 4, 3, Kind::Float, ctx.device());
            softmax_sum_matches(&(a * 30.0), &(b * 30.0), &v, 3)
        })
        .check("topk_scores: values and indices, k = 1, 2 and m, in blocks with a smaller last one", |ctx| {
            let dev = ctx.device();
            let a = randn(&[10, 4], Kind::Float, dev);
            let b = randn(&[6, 4], Kind::Float, dev);
            topk_matches(&a, &b, 2, 3)?;
            topk_matches(&a, &b, 1, 4)?;
            topk_matches(&a, &b, 6, 10)?;
            topk_matches(&a, &b, 3, 1)
        })
        .check("topk_scores of transposed views, in float64, of one row and of no rows", |ctx| {
            let dev = ctx.device();
            topk_matches(&randn(&[4, 7], Kind::Float, dev).tr(), &randn(&[4, 5], Kind::Float, dev).tr(), 2, 3)?;
            topk_matches(&randn(&[7, 4], Kind::Double, dev), &randn(&[5, 4], Kind::Double, dev), 3, 2)?;
            topk_matches(&randn(&[1, 4], Kind::Float, dev), &randn(&[5, 4], Kind::Float, dev), 2, 3)?;
            topk_matches(&randn(&[0, 4], Kind::Float, dev), &randn(&[5, 4], Kind::Float, dev), 2, 3)
        })
        .check("softmax_weighted_sum peaks at a fraction of the naive version, and less for smaller blocks", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            let (a, b, v) = random(2048, 2048, 16, 16, Kind::Float, dev);
            let naive = peak(dev, || solution::naive_softmax_weighted_sum(&a, &b, &v))?;
            let blocked = within("for a, b, v of shapes [2048, 16] in blocks of 128", || {
                peak(dev, || exercise::softmax_weighted_sum(&a, &b, &v, 128))
            })?;
            check_that!(
                blocked * 4 <= naive,
                "softmax_weighted_sum on [2048, 16] rows in blocks of 128 peaked at {} above its start, the naive \
                 version at {}: blocked, at most block * m scores should exist at once (about a tenth of the \
                 naive peak). Compute each block's scores, reduce them, and keep only the [block, e] piece",
                memory::format_bytes(blocked),
                memory::format_bytes(naive)
            );
            let small = peak(dev, || exercise::softmax_weighted_sum(&a, &b, &v, 64))?;
            let large = peak(dev, || exercise::softmax_weighted_sum(&a, &b, &v, 512))?;
            check_that!(
                small * 2 < large,
                "softmax_weighted_sum on [2048, 16] rows peaked at {} in blocks of 64 and at {} in blocks of 512: \
                 the peak should grow with the block (about block * m scores at once). Use the block size given",
                memory::format_bytes(small),
                memory::format_bytes(large)
            );
            Ok(())
        })
        .check("topk_scores peaks at a fraction of the naive version, and less for smaller blocks", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            let (a, b, _) = random(2048, 2048, 16, 1, Kind::Float, dev);
            let naive = peak(dev, || solution::naive_topk_scores(&a, &b, 5))?;
            let blocked = within("for a, b of shapes [2048, 16], k = 5 in blocks of 128", || {
                peak(dev, || exercise::topk_scores(&a, &b, 5, 128))
            })?;
            check_that!(
                blocked * 4 <= naive,
                "topk_scores on [2048, 16] rows in blocks of 128 peaked at {} above its start, the naive version \
                 at {}: blocked, at most block * m scores should exist at once",
                memory::format_bytes(blocked),
                memory::format_bytes(naive)
            );
            let small = peak(dev, || exercise::topk_scores(&a, &b, 5, 64))?;
            let large = peak(dev, || exercise::topk_scores(&a, &b, 5, 512))?;
            check_that!(
                small * 2 < large,
                "topk_scores on [2048, 16] rows peaked at {} in blocks of 64 and at {} in blocks of 512: the peak \
                 should grow with the block. Use the block size given",
                memory::format_bytes(small),
                memory::format_bytes(large)
            );
            Ok(())
        })
        // `tensorlings profile`: blocks of 256 rows against the whole score matrix at once, for
        // n rows against n rows of 64 features: the time the blocks cost and the memory they save.
        .profile("softmax_weighted_sum", profile::sizes("n", [256, 1024, 4096]), |n, device| {
            let (a, b, v) = (randn(&[n, 64], Kind::Float, device), randn(&[n, 64], Kind::Float, device), randn(&[n, 64], Kind::Float, device));
            profile_case!(softmax_weighted_sum(a, b, v; 256))
                .builtin("softmax(a @ b.T) @ v, whole", |x| x[0].matmul(&x[1].tr()).softmax(-1, Kind::Float).matmul(&x[2]))
        })
        .run()
}
