//! Checks of 06_sparse_indexing/windowed_attention. Regimes visited:
//! - `window_indices` and `window_mask`: a window shorter than the sequence, of 1, longer than
//!   the sequence, a sequence of 1 and of 0; compared exactly, order of the slots included
//!   (the last slot is the query itself).
//! - both attentions: against the reference, the gathered one against the dense reference, and
//!   both against `scaled_dot_product_attention` with the window mask; lq = lk = len, d != dv,
//!   window 1 (the output is v), a window as long as the sequence and longer (causal attention),
//!   large scores (q and k of magnitude 10), float64, q, k and v non-contiguous (transposed from
//!   [len, b, d]).
//! - scale: a sequence of 200,000 positions, where one dense score matrix would be 160 GB; and
//!   the bytes the gathered version allocates for a sequence of 2048, measured by the allocator,
//!   against one [b, len, len] matrix.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::assert_equal;
use tensorlings_support::memory;
use tensorlings_support::random::randn;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("06_sparse_indexing/windowed_attention.rs");

fn indices_match(len: i64, window: i64, device: Device) -> CheckResult {
    within(format!("for len {len} and window {window}"), || {
        let (expected_index, expected_valid) = solution::window_indices(len, window, device);
        let (index, valid) = exercise::window_indices(len, window, device);
        assert_equal("window_indices(len, window, device).0 (the index)", &index, &expected_index)?;
        assert_equal("window_indices(len, window, device).1 (valid)", &valid, &expected_valid)?;
        let mask = exercise::window_mask(len, window, device);
        assert_equal("window_mask(len, window, device)", &mask, &solution::window_mask(len, window, device))
    })
}

/// Which of the exercise's two attentions a check calls.
#[derive(Clone, Copy, Debug)]
enum Version {
    Dense,
    Gathered,
}

fn describe(q: &Tensor, k: &Tensor, v: &Tensor, window: i64) -> String {
    format!(
        "for q {:?}, k {:?}, v {:?}{} of {:?} and window {window}",
        q.size(),
        k.size(),
        v.size(),
        if q.is_contiguous() { "" } else { " (non-contiguous)" },
        q.kind()
    )
}

/// Two correct programs round differently (where the scale is applied, how the softmax sums).
fn tolerance(kind: Kind, magnitude: f64) -> Tolerance {
    let base = if kind == Kind::Double { Tolerance::new(1e-10, 1e-9) } else { Tolerance::new(1e-5, 1e-4) };
    // Scores of magnitude^2: their rounding error, relative, becomes an absolute error in the
    // exponent.
    Tolerance::new(base.atol * magnitude * magnitude, base.rtol * magnitude * magnitude)
}

/// NaN in the output: a row of the softmax with every score at -inf.
fn explain_nan(failure: Failure, got: &Tensor) -> Failure {
    if got.numel() > 0 && got.isnan().any().int64_value(&[]) != 0 {
        Failure::new(format!(
            "{}\n  NaN in the output: a query whose scores are all -inf (is the mask inverted? the \
             last slot of each window, the query itself, is always valid)",
            failure.message()
        ))
    } else {
        failure
    }
}

fn attention_matches(
    version: Version,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    window: i64,
    tol: Tolerance,
) -> CheckResult {
    within(describe(q, k, v, window), || {
        let before = (q.copy(), k.copy(), v.copy());
        let (name, expected, got) = match version {
            Version::Dense => (
                "dense_window_attention(q, k, v, window)",
                solution::dense_window_attention(&q.copy(), &k.copy(), &v.copy(), window),
                exercise::dense_window_attention(q, k, v, window),
            ),
            Version::Gathered => (
                "windowed_attention(q, k, v, window)",
                solution::dense_window_attention(&q.copy(), &k.copy(), &v.copy(), window),
                exercise::windowed_attention(q, k, v, window),
            ),
        };
        assert_unchanged("q", q, &before.0)?;
        assert_unchanged("k", k, &before.1)?;
        assert_unchanged("v", v, &before.2)?;
        let what = match version {
            Version::Dense => name.to_string(),
            Version::Gathered => format!("{name}, compared with the dense reference,"),
        };
        assert_close(&what, &got, &expected, tol).map_err(|f| explain_nan(f, &got))?;
        let len = q.size()[1];
        let mask = solution::window_mask(len, window, q.device());
        let builtin = Tensor::scaled_dot_product_attention(q, k, v, Some(&mask), 0.0, false, None, false);
        assert_close(&format!("{name}, compared with scaled_dot_product_attention,"), &got, &builtin, tol)
    })
}

/// Random q, k, v of `[b, len, d]`, `[b, len, d]`, `[b, len, dv]` for `[b, len, d, dv]`; q and k
/// times `magnitude`; transposed from `[len, b, ..]` when `strided`.
fn qkv(
    sizes: [i64; 4],
    magnitude: f64,
    strided: bool,
    kind: Kind,
    device: Device,
) -> (Tensor, Tensor, Tensor) {
    let [b, len, d, dv] = sizes;
    let draw = |width: i64| {
        if strided {
            randn(&[len, b, width], kind, device).transpose(0, 1)
        } else {
            randn(&[b, len, width], kind, device)
        }
    };
    (draw(d) * magnitude, draw(d) * magnitude, draw(dv))
}

fn both_match(
    b: i64,
    len: i64,
    window: i64,
    magnitude: f64,
    strided: bool,
    kind: Kind,
    device: Device,
) -> CheckResult {
    let (q, k, v) = qkv([b, len, 4, 3], magnitude, strided, kind, device);
    let tol = tolerance(kind, magnitude);
    attention_matches(Version::Dense, &q, &k, &v, window, tol)?;
    attention_matches(Version::Gathered, &q, &k, &v, window, tol)
}

fn main() {
    Checks::new()
        .check("window_indices and window_mask: len 5 with windows 3, 1 and 8", |ctx| {
            indices_match(5, 3, ctx.device())?;
            indices_match(5, 1, ctx.device())?;
            indices_match(5, 8, ctx.device())
        })
        .check("window_indices and window_mask: len 1 and len 0", |ctx| {
            indices_match(1, 1, ctx.device())?;
            indices_match(1, 4, ctx.device())?;
            indices_match(0, 3, ctx.device())
        })
        .check("both attentions: b 2, len 7, window 3, d 4, dv 3", |ctx| {
            both_match(2, 7, 3, 1.0, false, Kind::Float, ctx.device())
        })
        .check("both attentions: window 1 (each query sees itself: the output is v)", |ctx| {
            both_match(2, 6, 1, 1.0, false, Kind::Float, ctx.device())
        })
        .check("both attentions: a window as long as the sequence, and longer", |ctx| {
            both_match(1, 5, 5, 1.0, false, Kind::Float, ctx.device())?;
            both_match(2, 4, 9, 1.0, false, Kind::Float, ctx.device())?;
            both_match(3, 1, 2, 1.0, false, Kind::Float, ctx.device())
        })
        .check("both attentions: large scores (q and k of magnitude 10)", |ctx| {
            both_match(2, 9, 4, 10.0, false, Kind::Float, ctx.device())
        })
        .check("both attentions: float64, and non-contiguous q, k and v", |ctx| {
            both_match(2, 8, 3, 1.0, false, Kind::Double, ctx.device())?;
            both_match(2, 8, 3, 1.0, true, Kind::Float, ctx.device())
        })
        .check("windowed_attention on 200,000 positions (one dense score matrix: 160 GB)", |ctx| {
            let (q, k, v) = qkv([1, 200_000, 8, 8], 1.0, false, Kind::Float, ctx.device());
            within("for q, k, v [1, 200000, 8] and window 4", || {
                let expected = solution::windowed_attention(&q, &k, &v, 4);
                let got = exercise::windowed_attention(&q, &k, &v, 4);
                assert_close("windowed_attention(q, k, v, 4)", &got, &expected, tolerance(Kind::Float, 1.0))
            })
            .map_err(|f| {
                if f.message().contains("allocate") {
                    Failure::new(format!(
                        "{}\n  a [200000, 200000] float32 matrix is 160 GB: gather each query's \
                         window of keys instead of scoring every key",
                        f.message()
                    ))
                } else {
                    f
                }
            })
        })
        .check("windowed_attention allocates less than one [len, len] matrix (len 4096, window 8)", |ctx| {
            let d = ctx.device();
            let (len, window) = (4096, 8);
            let (q, k, v) = qkv([1, len, 16, 16], 1.0, false, Kind::Float, d);
            // The allocator's counts are exact and the same on every run: no margin for noise is
            // needed. The reference's gathered version peaks at about 5 MiB (its gathered keys
            // and values, [1, 4096, 8, 16] each, and their copies); the dense one at about 224 MiB.
            let (_, dense) = memory::measure(d, || solution::dense_window_attention(&q, &k, &v, window))?;
            let (_, gathered) = within("for q, k, v [1, 4096, 16] and window 8", || {
                Ok(memory::measure(d, || exercise::windowed_attention(&q, &k, &v, window))?)
            })?;
            let matrix = (len * len * 4) as u64;
            check_that!(
                gathered.peak_bytes < matrix,
                "`windowed_attention(q, k, v, 8)` for q, k, v [1, 4096, 16] allocated a peak of {} \
                 bytes ({gathered}): more than one [1, 4096, 4096] float32 score matrix ({matrix} \
                 bytes). The dense masked version peaks at {} bytes. Gather each query's 8 keys \
                 (index_select with window_indices) and score only those: [1, 4096, 8] scores",
                gathered.peak_bytes,
                dense.peak_bytes
            );
            Ok(())
        })
        .run()
}
