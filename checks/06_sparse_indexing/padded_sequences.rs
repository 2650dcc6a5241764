//! Checks of 06_sparse_indexing/padded_sequences. Each function is compared with the reference
//! and with a loop over the sequences in f64. Regimes visited:
//! - lengths of 0, 1, the full width and in between, in one batch; every length 0; every length
//!   full; one sequence; no sequences; one step; one feature;
//! - padding that holds random values (not zeros), and padding that holds NaN (masked_mean must
//!   select, not multiply by the mask; last_valid must not read it);
//! - a non-contiguous `padded` (a [t, b, d] tensor transposed), float64;
//! - `pack` and `unpack` round trip, with the order of `pack` sequence after sequence (not time
//!   step after time step as torch's pack_padded_sequence).

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::assert_equal;
use tensorlings_support::random::{randint, randn};
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("06_sparse_indexing/padded_sequences.rs");

fn ints(t: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t.to_device(Device::Cpu).contiguous()).expect("int64 values")
}

/// The valid rows of sequence `i` as f64 vectors.
fn valid_rows(padded: &Tensor, i: i64, len: i64) -> Vec<Vec<f64>> {
    let seq = padded.get(i).to_device(Device::Cpu).to_kind(Kind::Double);
    (0..len).map(|j| Vec::<f64>::try_from(seq.get(j)).expect("a row")).collect()
}

/// `[b, d]` of `kind` on `device` from rows of f64.
fn from_rows(rows: &[Vec<f64>], d: i64, kind: Kind, device: Device) -> Tensor {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).reshape([rows.len() as i64, d]).to_kind(kind).to_device(device)
}

/// What the three loops compute: the last valid row, the mean, and the packed rows.
fn loops(padded: &Tensor, lengths: &[i64]) -> (Tensor, Tensor, Tensor) {
    let d = padded.size()[2];
    let (mut last, mut mean, mut packed) = (Vec::new(), Vec::new(), Vec::new());
    for (i, &len) in lengths.iter().enumerate() {
        let rows = valid_rows(padded, i as i64, len);
        last.push(rows.last().cloned().unwrap_or(vec![0.0; d as usize]));
        let mut sum = vec![0.0; d as usize];
        for row in &rows {
            sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        mean.push(sum.iter().map(|s| s / (len.max(1) as f64)).collect());
        packed.extend(rows);
    }
    let (kind, device) = (padded.kind(), padded.device());
    (
        from_rows(&last, d, kind, device),
        from_rows(&mean, d, kind, device),
        from_rows(&packed, d, kind, device),
    )
}

/// A batch with these lengths, `t` steps and `d` features, whose padding holds `padding`
/// (`None`: random values like the rest); transposed from [t, b, d] if `strided`.
fn batch(
    lengths: &[i64],
    t: i64,
    d: i64,
    padding: Option<f64>,
    strided: bool,
    kind: Kind,
    device: Device,
) -> (Tensor, Tensor) {
    let b = lengths.len() as i64;
    let padded = if strided {
        randn(&[t, b, d], kind, device).transpose(0, 1)
    } else {
        randn(&[b, t, d], kind, device)
    };
    let lengths = Tensor::from_slice(lengths).to_device(device);
    let padded = match padding {
        Some(value) => {
            let valid =
                Tensor::arange(t, (Kind::Int64, device)).unsqueeze(0).lt_tensor(&lengths.unsqueeze(1));
            padded.masked_fill(&valid.logical_not().unsqueeze(2), value)
        }
        None => padded,
    };
    (padded, lengths)
}

fn describe(padded: &Tensor, lengths: &Tensor) -> String {
    format!(
        "for padded {:?}{} of {:?} and lengths {:?}",
        padded.size(),
        if padded.is_contiguous() { "" } else { " (non-contiguous)" },
        padded.kind(),
        ints(lengths)
    )
}

/// NaN where the reference is finite, explained.
fn explain_nan(failure: Failure, got: &Tensor) -> Failure {
    if got.numel() > 0 && got.isnan().any().int64_value(&[]) != 0 {
        Failure::new(format!(
            "{}\n  NaN in the result: from the padding (NaN * 0 is NaN: zero the padding with \
             masked_fill or where, not by multiplying by the mask) or from an empty sequence \
             (0 / 0: divide by the length clamped to at least 1)",
            failure.message()
        ))
    } else {
        failure
    }
}

/// Every function on one batch: the reference first on copies, then the exercise, the inputs
/// as they were, then the reference and the loops.
fn batch_matches(padded: &Tensor, lengths: &Tensor) -> CheckResult {
    within(describe(padded, lengths), || {
        let (p_before, l_before) = (padded.copy(), lengths.copy());
        let t = padded.size()[1];
        let lens = ints(lengths);
        let (loop_last, loop_mean, loop_packed) = loops(padded, &lens);
        let tol = if padded.kind() == Kind::Double {
            Tolerance::new(1e-12, 1e-12)
        } else {
            Tolerance::new(1e-6, 1e-5)
        };

        let expected = solution::length_mask(&lengths.copy(), t);
        let got = exercise::length_mask(lengths, t);
        assert_equal(&format!("length_mask(lengths, {t})"), &got, &expected)?;

        let expected = solution::last_valid(&padded.copy(), &lengths.copy());
        let got = exercise::last_valid(padded, lengths);
        assert_unchanged("padded", padded, &p_before)?;
        assert_unchanged("lengths", lengths, &l_before)?;
        assert_close("last_valid(padded, lengths)", &got, &expected, Tolerance::EXACT)
            .map_err(|f| explain_nan(f, &got))?;
        assert_close(
            "last_valid(padded, lengths), compared with a loop,",
            &got,
            &loop_last,
            Tolerance::EXACT,
        )?;

        let expected = solution::masked_mean(&padded.copy(), &lengths.copy());
        let got = exercise::masked_mean(padded, lengths);
        assert_unchanged("padded", padded, &p_before)?;
        assert_close("masked_mean(padded, lengths)", &got, &expected, tol)
            .map_err(|f| explain_nan(f, &got))?;
        assert_close("masked_mean(padded, lengths), compared with a loop,", &got, &loop_mean, tol)?;

        let expected = solution::pack(&padded.copy(), &lengths.copy());
        let got = exercise::pack(padded, lengths);
        assert_unchanged("padded", padded, &p_before)?;
        assert_close("pack(padded, lengths)", &got, &expected, Tolerance::EXACT)?;
        assert_close("pack(padded, lengths), compared with a loop,", &got, &loop_packed, Tolerance::EXACT)?;

        // Unpack the reference's packing: valid steps back in place, zeros in the padding.
        let flat = expected;
        let f_before = flat.copy();
        let expected = solution::unpack(&flat.copy(), &lengths.copy(), t);
        let got = exercise::unpack(&flat, lengths, t);
        assert_unchanged("flat", &flat, &f_before)?;
        assert_close(&format!("unpack(flat, lengths, {t})"), &got, &expected, Tolerance::EXACT)?;
        let mask = solution::length_mask(lengths, t).unsqueeze(2);
        let round_trip = padded.masked_fill(&mask.logical_not(), 0.0);
        assert_close(
            &format!(
                "unpack(pack(padded, lengths), lengths, {t}), compared with padded with its padding zeroed,"
            ),
            &got,
            &round_trip,
            Tolerance::EXACT,
        )
    })
}

fn main() {
    Checks::new()
        .check("lengths 0, 1, full and in between (padding holds random values)", |ctx| {
            let (padded, lengths) = batch(&[3, 0, 5, 1, 2], 5, 4, None, false, Kind::Float, ctx.device());
            batch_matches(&padded, &lengths)
        })
        .check("every sequence full, every sequence empty", |ctx| {
            let d = ctx.device();
            let (padded, lengths) = batch(&[4, 4, 4], 4, 3, None, false, Kind::Float, d);
            batch_matches(&padded, &lengths)?;
            let (padded, lengths) = batch(&[0, 0], 3, 2, None, false, Kind::Float, d);
            batch_matches(&padded, &lengths)
        })
        .check("a batch of no sequences", |ctx| {
            let (padded, lengths) = batch(&[], 4, 3, None, false, Kind::Float, ctx.device());
            batch_matches(&padded, &lengths)
        })
        .check("one sequence, one step, one feature", |ctx| {
            let d = ctx.device();
            let (padded, lengths) = batch(&[2], 6, 3, None, false, Kind::Float, d);
            batch_matches(&padded, &lengths)?;
            let (padded, lengths) = batch(&[1, 0, 1], 1, 2, None, false, Kind::Float, d);
            batch_matches(&padded, &lengths)?;
            let (padded, lengths) = batch(&[2, 3, 1], 3, 1, None, false, Kind::Float, d);
            batch_matches(&padded, &lengths)
        })
        .check("padding that holds NaN must not change any result", |ctx| {
            let (padded, lengths) =
                batch(&[3, 0, 5, 1, 2], 5, 4, Some(f64::NAN), false, Kind::Float, ctx.device());
            batch_matches(&padded, &lengths)
        })
        .check("a non-contiguous padded (a [t, b, d] tensor transposed)", |ctx| {
            let (padded, lengths) = batch(&[2, 6, 0, 4], 6, 3, None, true, Kind::Float, ctx.device());
            batch_matches(&padded, &lengths)
        })
        .check("float64, random lengths", |ctx| {
            let d = ctx.device();
            let lengths = ints(&randint(&[6], 8, Device::Cpu));
            let (padded, lengths) = batch(&lengths, 7, 5, None, false, Kind::Double, d);
            batch_matches(&padded, &lengths)
        })
        .run()
}
