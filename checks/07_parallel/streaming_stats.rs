//! Checks of 07_parallel/streaming_stats: the streamed statistics against the full computation
//! in float64 on all the rows at once, and the memory they hold, measured with the allocator's
//! statistics (`tensorlings_support::memory`): never more than a few chunks at once.
//!
//! Regimes: `chunk_moments` and `merge_moments` on their own (merging summaries of unequal
//! counts); chunks of unequal sizes, an empty chunk first and in the middle (a mean over nothing
//! is NaN), one chunk, one row in all (variance 0), data around 10,000 with a standard deviation
//! of 1 (where E[x^2] - E[x]^2 cancels in float32), transposed (non-contiguous) chunks, float64;
//! for logsumexp also values of magnitude 1e4 (exp overflows float32), -inf entries and a column
//! of only -inf. Memory: 32 chunks of [2048, 16] float32 (128 KiB each, 4 MiB in all) made on
//! demand by the iterator: the peak above the start must stay under 8 chunks (a right answer
//! holds about 3: the chunk and its temporaries), where collecting them all needs 4 MiB or more.
//! The peak is a count of bytes, not a time: the same on every run.

use tch::{Device, Kind, Tensor};
use tensorlings_support::memory::{self, format_bytes};
use tensorlings_support::random::{randn, with_magnitude};
use tensorlings_support::{
    CheckResult, Checks, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("07_parallel/streaming_stats.rs");

fn describe(chunks: &[Tensor]) -> String {
    let shapes: Vec<String> = chunks.iter().map(|c| format!("{:?}", c.size())).collect();
    let layout = if chunks.iter().all(|c| c.is_contiguous()) { "" } else { " (transposed views)" };
    let kind = if chunks[0].kind() == Kind::Double { " in float64" } else { "" };
    format!("for chunks of shapes [{}]{layout}{kind}", shapes.join(", "))
}

fn all_rows(chunks: &[Tensor]) -> Tensor {
    Tensor::cat(&chunks.iter().map(|c| c.to_kind(Kind::Double)).collect::<Vec<_>>(), 0)
}

/// The largest |x| of the rows (finite ones), for tolerances.
fn scale(x: &Tensor) -> f64 {
    let finite = x.masked_select(&x.isfinite());
    if finite.numel() == 0 { 1.0 } else { finite.abs().max().double_value(&[]).max(1.0) }
}

fn eps(kind: Kind) -> f64 {
    if kind == Kind::Double { f64::EPSILON } else { f32::EPSILON as f64 }
}

/// Mean and variance of these chunks, against the full computation in float64.
///
/// Tolerances: a mean of values up to `s` in absolute value, summed in any order in the chunks'
/// kind, is off by some epsilon times `s` times a small factor (libtorch sums pairwise). The
/// variance, computed from deviations, is off relative to itself: the chunks' means are off by
/// about epsilon times s (1e-3 for data around 10,000 in float32), which moves the merge's
/// delta^2 term by a part in 1e4 of the variance; 1e-3 relative leaves room, and is far below
/// what sums of squares lose there (1e8 * 1e-7 * a few: the variance itself, or more). A
/// variance divided by n - 1 instead of n is off by 1 / (n - 1), more than 5 % here.
fn mean_var_match(chunks: &[Tensor]) -> CheckResult {
    within(describe(chunks), || {
        let before: Vec<Tensor> = chunks.iter().map(|c| c.copy()).collect();
        let kind = chunks[0].kind();
        let x = all_rows(chunks);
        let (mean, var) = (x.mean_dim(0, false, Kind::Double), x.var_correction(&[0i64][..], 0i64, false));
        let (ref_mean, ref_var) =
            solution::streaming_mean_var(before.iter().map(|c| c.copy()).collect::<Vec<_>>());
        let (got_mean, got_var) =
            exercise::streaming_mean_var(chunks.iter().map(|c| c.shallow_clone()).collect::<Vec<_>>());
        for (i, (c, b)) in chunks.iter().zip(&before).enumerate() {
            assert_unchanged(&format!("chunk {i}"), c, b)?;
        }
        let s = scale(&x);
        let mean_tol = Tolerance::new(64.0 * eps(kind) * s, 16.0 * eps(kind));
        let largest_var = var.max().double_value(&[]);
        let var_rtol = if kind == Kind::Double { 1e-10 } else { 1e-3 };
        let var_tol = Tolerance::new((var_rtol * largest_var).max(1e-7), var_rtol);
        assert_close("the mean", &got_mean, &mean.to_kind(kind), mean_tol)?;
        assert_close("the mean, compared with the reference,", &got_mean, &ref_mean, mean_tol)?;
        assert_close("the variance", &got_var, &var.to_kind(kind), var_tol)?;
        assert_close("the variance, compared with the reference,", &got_var, &ref_var, var_tol)
    })
}

/// logsumexp of these chunks, against the full computation in float64.
fn logsumexp_matches(chunks: &[Tensor]) -> CheckResult {
    within(describe(chunks), || {
        let before: Vec<Tensor> = chunks.iter().map(|c| c.copy()).collect();
        let kind = chunks[0].kind();
        let expected = all_rows(chunks).logsumexp([0i64], false);
        let reference = solution::streaming_logsumexp(before.iter().map(|c| c.copy()).collect::<Vec<_>>());
        let got = exercise::streaming_logsumexp(chunks.iter().map(|c| c.shallow_clone()).collect::<Vec<_>>());
        for (i, (c, b)) in chunks.iter().zip(&before).enumerate() {
            assert_unchanged(&format!("chunk {i}"), c, b)?;
        }
        // Each merge rounds once, relative to the result (whose size is about the largest value).
        let tol = Tolerance::new(16.0 * eps(kind), 16.0 * eps(kind));
        assert_close("streaming_logsumexp(chunks)", &got, &expected.to_kind(kind), tol)?;
        assert_close("streaming_logsumexp(chunks), compared with the reference,", &got, &reference, tol)
    })
}

fn chunks_of(rows: &[i64], d: i64, kind: Kind, device: Device) -> Vec<Tensor> {
    rows.iter().map(|&n| randn(&[n, d], kind, device)).collect()
}

const CHUNKS: i64 = 32;
const ROWS: i64 = 2048;
const COLS: i64 = 16;
/// A right answer holds the chunk and two temporaries of its size; 8 leaves room for another
/// style, and is a quarter of what holding every chunk needs.
const ALLOWED_CHUNKS: u64 = 8;

/// Runs `f` on chunks made on demand, measuring the memory of `device`, and checks the peak.
fn peak_is_bounded<T>(
    name: &str,
    device: Device,
    f: impl FnOnce(Box<dyn Iterator<Item = Tensor>>) -> T,
) -> CheckResult {
    let chunk_bytes = (ROWS * COLS * 4) as u64;
    let make = move |_| randn(&[ROWS, COLS], Kind::Float, device);
    // One intra-op thread: the bytes are the same, and on a loaded machine libtorch's threads
    // waiting for each other made this check take seconds instead of milliseconds.
    tch::set_num_threads(1);
    let (_, m) = memory::measure(device, || f(Box::new((0..CHUNKS).map(make))))?;
    check_that!(
        m.peak_bytes <= ALLOWED_CHUNKS * chunk_bytes,
        "`{name}` held up to {} at once for {CHUNKS} chunks of [{ROWS}, {COLS}] float32 ({} each, {} \
         in all), more than {ALLOWED_CHUNKS} chunks' worth: use each chunk and let it go before the \
         next one comes (do not collect the iterator or cat the chunks)",
        format_bytes(m.peak_bytes),
        format_bytes(chunk_bytes),
        format_bytes(chunk_bytes * CHUNKS as u64)
    );
    Ok(())
}

fn main() {
    Checks::new()
        .check("chunk_moments, and merge_moments of summaries of 5 and 3 rows", |ctx| {
            let (a, b) =
                (randn(&[5, 4], Kind::Float, ctx.device()), randn(&[3, 4], Kind::Float, ctx.device()));
            within("for chunks a of shape [5, 4] and b of shape [3, 4]", || {
                let tol = Tolerance::new(1e-5, 1e-5);
                let ma = exercise::chunk_moments(&a);
                check_that!(ma.count == 5, "chunk_moments(a).count is {}, not 5 (the rows)", ma.count);
                assert_close("chunk_moments(a).mean", &ma.mean, &a.mean_dim(0, false, Kind::Float), tol)?;
                let m2 =
                    (&a - a.mean_dim(0, true, Kind::Float)).square().sum_dim_intlist(0, false, Kind::Float);
                assert_close("chunk_moments(a).m2", &ma.m2, &m2, tol)?;
                // Summaries made here, so that a wrong chunk_moments does not show up as a wrong merge.
                let moments = |c: &Tensor| {
                    let mean = c.mean_dim(0, false, Kind::Float);
                    let m2 = (c - &mean).square().sum_dim_intlist(0, false, Kind::Float);
                    exercise::Moments { count: c.size()[0], mean, m2 }
                };
                let merged = exercise::merge_moments(&moments(&a), &moments(&b));
                let whole = moments(&Tensor::cat(&[&a, &b], 0));
                check_that!(merged.count == 8, "merge_moments(..).count is {}, not 5 + 3", merged.count);
                assert_close("merge_moments(a, b).mean", &merged.mean, &whole.mean, tol)?;
                assert_close("merge_moments(a, b).m2", &merged.m2, &whole.m2, tol)
            })
        })
        .check("streaming_mean_var over chunks of 5, 3, 8 and 1 rows", |ctx| {
            mean_var_match(&chunks_of(&[5, 3, 8, 1], 4, Kind::Float, ctx.device()))
        })
        .check("streaming_mean_var with empty chunks, one chunk, and one row in all", |ctx| {
            let d = ctx.device();
            mean_var_match(&chunks_of(&[0, 4, 0, 6], 3, Kind::Float, d))?;
            mean_var_match(&chunks_of(&[7], 3, Kind::Float, d))?;
            mean_var_match(&chunks_of(&[1], 5, Kind::Float, d))
        })
        .check("streaming_mean_var of data around 10,000 with a standard deviation of 1", |ctx| {
            let chunks: Vec<Tensor> = chunks_of(&[100, 50, 100, 70], 3, Kind::Float, ctx.device())
                .into_iter()
                .map(|c| c + 10_000.0)
                .collect();
            mean_var_match(&chunks)
        })
        .check("streaming_mean_var on transposed chunks, and in float64", |ctx| {
            let d = ctx.device();
            let transposed: Vec<Tensor> =
                chunks_of(&[4, 4, 4], 6, Kind::Float, d).iter().map(|c| c.tr()).collect();
            mean_var_match(&transposed)?;
            mean_var_match(&chunks_of(&[9, 2, 5], 3, Kind::Double, d))
        })
        .check("streaming_mean_var holds a few chunks at a time, not all of them", |ctx| {
            peak_is_bounded("streaming_mean_var", ctx.device(), exercise::streaming_mean_var)
        })
        .check("streaming_logsumexp over chunks of 5, 3, 8 and 1 rows, and with empty chunks", |ctx| {
            let d = ctx.device();
            logsumexp_matches(&chunks_of(&[5, 3, 8, 1], 4, Kind::Float, d))?;
            logsumexp_matches(&chunks_of(&[0, 4, 0, 2], 3, Kind::Float, d))
        })
        .check("streaming_logsumexp of values around 1e4 (exp overflows) and with -inf", |ctx| {
            let d = ctx.device();
            logsumexp_matches(
                &[4, 6, 3].iter().map(|&n| with_magnitude(&[n, 3], 1e4, Kind::Float, d)).collect::<Vec<_>>(),
            )?;
            // Column 0 only -inf; column 1 -inf in some rows.
            let masked: Vec<Tensor> = chunks_of(&[3, 4], 3, Kind::Float, d)
                .iter()
                .map(|c| {
                    let mask = Tensor::zeros_like(c).to_kind(Kind::Bool);
                    let _ = mask.select(1, 0).fill_(1);
                    let _ = mask.select(1, 1).narrow(0, 0, 2).fill_(1);
                    c.masked_fill(&mask, f64::NEG_INFINITY)
                })
                .collect();
            logsumexp_matches(&masked)
        })
        .check("streaming_logsumexp on one row, transposed chunks, and in float64", |ctx| {
            let d = ctx.device();
            logsumexp_matches(&chunks_of(&[1], 4, Kind::Float, d))?;
            logsumexp_matches(
                &chunks_of(&[5, 5], 3, Kind::Float, d).iter().map(|c| c.tr()).collect::<Vec<_>>(),
            )?;
            logsumexp_matches(&chunks_of(&[6, 1, 4], 2, Kind::Double, d))
        })
        .check("streaming_logsumexp holds a few chunks at a time, not all of them", |ctx| {
            peak_is_bounded("streaming_logsumexp", ctx.device(), exercise::streaming_logsumexp)
        })
        .run()
}
