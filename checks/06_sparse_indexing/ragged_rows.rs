//! Checks of 06_sparse_indexing/ragged_rows. Every method is compared with the reference and
//! with a loop over the rows in f64 (`Rows` below). Regimes visited:
//! - empty rows first, in the middle and last; every row empty; no rows at all (offsets [0]);
//!   one row;
//! - all-negative values (a max that lets zeros in gives 0), magnitudes of 1e4 (exp overflows
//!   without subtracting the row's max), float64, a non-contiguous `values` (every other
//!   element of a longer tensor), 5000 rows of random lengths;
//! - `to_padded` with fills 0 and -1 and without rows, `from_padded` with NaN in the padding and
//!   the round trip;
//! - the code: no loop over the rows (for, while, loop, or map / for_each / fold closures, or
//!   splitting the values into a tensor per row).

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::assert_equal;
use tensorlings_support::random::{randint, randn, uniform};
use tensorlings_support::source::{assert_no_method_calls, exercise_code};
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("06_sparse_indexing/ragged_rows.rs");

/// The rows as plain Rust vectors, for the loop references.
struct Rows(Vec<Vec<f64>>);

impl Rows {
    fn new(values: &Tensor, offsets: &Tensor) -> Rows {
        let values =
            Vec::<f64>::try_from(values.to_device(Device::Cpu).to_kind(Kind::Double).contiguous()).unwrap();
        let offsets = Vec::<i64>::try_from(offsets.to_device(Device::Cpu).contiguous()).unwrap();
        Rows(offsets.windows(2).map(|w| values[w[0] as usize..w[1] as usize].to_vec()).collect())
    }

    fn each(&self, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        self.0.iter().map(|row| f(row)).collect()
    }

    fn sums(&self) -> Vec<f64> {
        self.each(|row| row.iter().sum())
    }

    fn means(&self) -> Vec<f64> {
        self.each(|row| if row.is_empty() { 0.0 } else { row.iter().sum::<f64>() / row.len() as f64 })
    }

    fn maxes(&self) -> Vec<f64> {
        self.each(|row| row.iter().copied().fold(f64::NEG_INFINITY, f64::max))
    }

    fn softmax(&self) -> Vec<f64> {
        let mut out = Vec::new();
        for row in &self.0 {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = row.iter().map(|x| (x - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            out.extend(exps.iter().map(|e| e / sum));
        }
        out
    }
}

fn tensor(values: &[f64], like: &Tensor) -> Tensor {
    Tensor::from_slice(values).to_kind(like.kind()).to_device(like.device())
}

fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-12) } else { Tolerance::new(1e-5, 1e-5) }
}

fn describe(values: &Tensor, offsets: &Tensor) -> String {
    let offsets_text = if offsets.numel() <= 12 {
        format!("offsets {:?}", Vec::<i64>::try_from(offsets.to_device(Device::Cpu)).unwrap())
    } else {
        format!("{} rows", offsets.numel() - 1)
    };
    format!(
        "for values {:?}{} of {:?} and {offsets_text}",
        values.size(),
        if values.is_contiguous() { "" } else { " (non-contiguous)" },
        values.kind()
    )
}

/// NaN or inf where the reference is finite, explained.
fn explain_nonfinite(failure: Failure, got: &Tensor) -> Failure {
    if got.numel() > 0 && got.isfinite().logical_not().any().int64_value(&[]) != 0 {
        Failure::new(format!(
            "{}\n  NaN or inf in the result: a mean of an empty row is 0 / 0 unless the length is \
             clamped to at least 1; exp of large values overflows unless each row's maximum is \
             subtracted first (maxes.index_select(0, &row_ids))",
            failure.message()
        ))
    } else {
        failure
    }
}

/// Every method on one ragged batch: the reference first on its own copy, then the exercise,
/// the inputs as they were, then the reference and the loops.
fn ragged_matches(values: &Tensor, offsets: &Tensor) -> CheckResult {
    within(describe(values, offsets), || {
        let (v_before, o_before) = (values.copy(), offsets.copy());
        let reference = solution::Ragged { values: values.copy(), offsets: offsets.copy() };
        let mine = exercise::Ragged { values: values.shallow_clone(), offsets: offsets.shallow_clone() };
        let rows = Rows::new(values, offsets);
        let tol = tolerance(values.kind());
        let unchanged = || -> CheckResult {
            assert_unchanged("values", values, &v_before)?;
            assert_unchanged("offsets", offsets, &o_before)
        };

        assert_equal("lengths()", &mine.lengths(), &reference.lengths())?;
        assert_equal("row_ids()", &mine.row_ids(), &reference.row_ids())?;
        unchanged()?;

        let got = mine.row_sums();
        assert_close("row_sums()", &got, &reference.row_sums(), tol)?;
        assert_close(
            "row_sums(), compared with a loop over the rows,",
            &got,
            &tensor(&rows.sums(), values),
            tol,
        )?;
        let got = mine.row_means();
        assert_close("row_means()", &got, &reference.row_means(), tol)
            .map_err(|f| explain_nonfinite(f, &got))?;
        assert_close(
            "row_means(), compared with a loop over the rows,",
            &got,
            &tensor(&rows.means(), values),
            tol,
        )?;
        let got = mine.row_maxes();
        assert_close("row_maxes()", &got, &reference.row_maxes(), Tolerance::EXACT)?;
        assert_close(
            "row_maxes(), compared with a loop over the rows,",
            &got,
            &tensor(&rows.maxes(), values),
            Tolerance::EXACT,
        )?;
        unchanged()?;

        let got = mine.row_softmax();
        let expected = reference.row_softmax();
        assert_equal("row_softmax().offsets", &got.offsets, &expected.offsets)?;
        assert_close("row_softmax().values", &got.values, &expected.values, tol)
            .map_err(|f| explain_nonfinite(f, &got.values))?;
        assert_close(
            "row_softmax().values, compared with a loop over the rows,",
            &got.values,
            &tensor(&rows.softmax(), values),
            tol,
        )?;
        unchanged()?;

        for fill in [0.0, -1.0] {
            let got = mine.to_padded(fill);
            assert_close(
                &format!("to_padded({fill:?})"),
                &got,
                &reference.to_padded(fill),
                Tolerance::EXACT,
            )?;
        }
        unchanged()
    })
}

/// Random ragged rows with these lengths.
fn with_lengths(lengths: &[i64], kind: Kind, device: Device) -> (Tensor, Tensor) {
    let total: i64 = lengths.iter().sum();
    let mut offsets = vec![0i64];
    for l in lengths {
        offsets.push(offsets.last().unwrap() + l);
    }
    (randn(&[total], kind, device), Tensor::from_slice(&offsets).to_device(device))
}

/// `from_padded` on a padded tensor whose padding holds `padding`, and the round trip.
fn from_padded_matches(lengths: &[i64], width: i64, padding: f64, device: Device) -> CheckResult {
    let rows = lengths.len() as i64;
    let lengths_t = Tensor::from_slice(lengths).to_device(device);
    let valid = Tensor::arange(width, (Kind::Int64, device)).unsqueeze(0).lt_tensor(&lengths_t.unsqueeze(1));
    let padded = randn(&[rows, width], Kind::Float, device).masked_fill(&valid.logical_not(), padding);
    within(format!("for padded {:?} (padding {padding:?}) and lengths {lengths:?}", padded.size()), || {
        let (p_before, l_before) = (padded.copy(), lengths_t.copy());
        let expected = solution::Ragged::from_padded(&padded.copy(), &lengths_t.copy());
        let got = exercise::Ragged::from_padded(&padded, &lengths_t);
        assert_unchanged("padded", &padded, &p_before)?;
        assert_unchanged("lengths", &lengths_t, &l_before)?;
        assert_equal("from_padded(padded, lengths).offsets", &got.offsets, &expected.offsets)?;
        assert_close("from_padded(padded, lengths).values", &got.values, &expected.values, Tolerance::EXACT)?;
        let back =
            solution::Ragged { values: got.values.shallow_clone(), offsets: got.offsets.shallow_clone() };
        if width > 0 && lengths.contains(&width) {
            let zeroed = padded.masked_fill(&valid.logical_not(), 0.0);
            assert_close(
                "from_padded(padded, lengths) padded again with 0",
                &back.to_padded(0.0),
                &zeroed,
                Tolerance::EXACT,
            )?;
        }
        Ok(())
    })
}

/// The lines of the exercise's code (main left out) with a loop keyword.
fn row_loops(code: &str) -> Option<(usize, &'static str)> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    for (number, line) in code.lines().enumerate() {
        for keyword in ["for", "while", "loop"] {
            for (at, _) in line.match_indices(keyword) {
                let before = line[..at].chars().next_back();
                let after = line[at + keyword.len()..].chars().next();
                let whole = !before.is_some_and(is_word) && !after.is_some_and(is_word);
                // `impl Trait for Type` is not a loop.
                if whole && !(keyword == "for" && line[..at].contains("impl")) {
                    return Some((number + 1, keyword));
                }
            }
        }
    }
    None
}

fn main() {
    Checks::new()
        .check("rows [3, 0, 2]: lengths, row_ids, sums, means, maxes, softmax, padded", |ctx| {
            let (values, offsets) = with_lengths(&[3, 0, 2], Kind::Float, ctx.device());
            ragged_matches(&values, &offsets)
        })
        .check("empty rows first, in the middle and last; all values negative", |ctx| {
            let (values, offsets) = with_lengths(&[0, 4, 0, 0, 1, 3, 0], Kind::Float, ctx.device());
            ragged_matches(&(values.abs() * -1.0 - 0.5), &offsets)
        })
        .check("one row; every row empty; no rows at all", |ctx| {
            let d = ctx.device();
            let (values, offsets) = with_lengths(&[5], Kind::Float, d);
            ragged_matches(&values, &offsets)?;
            let (values, offsets) = with_lengths(&[0, 0, 0], Kind::Float, d);
            ragged_matches(&values, &offsets)?;
            let (values, offsets) = with_lengths(&[], Kind::Float, d);
            ragged_matches(&values, &offsets)
        })
        .check("magnitudes of 1e4, where exp overflows without the row's max subtracted", |ctx| {
            let (values, offsets) = with_lengths(&[4, 1, 0, 3], Kind::Float, ctx.device());
            let large = values * 1e4;
            ragged_matches(&large, &offsets)
        })
        .check("float64, and a non-contiguous values (every other element)", |ctx| {
            let d = ctx.device();
            let (values, offsets) = with_lengths(&[2, 0, 3, 1], Kind::Double, d);
            ragged_matches(&values, &offsets)?;
            let strided = randn(&[12], Kind::Float, d).slice(0, 0, None, 2);
            ragged_matches(&strided, &Tensor::from_slice(&[0i64, 2, 2, 6]).to_device(d))
        })
        .check("5000 rows of random lengths 0 to 6", |ctx| {
            let d = ctx.device();
            let lengths = Vec::<i64>::try_from(randint(&[5000], 7, Device::Cpu)).unwrap();
            let (values, offsets) = with_lengths(&lengths, Kind::Float, d);
            ragged_matches(&(values * uniform(&[1], 1.0, 3.0, Kind::Float, d)), &offsets)
        })
        .check("from_padded: NaN in the padding, empty rows, no rows, and back to padded", |ctx| {
            let d = ctx.device();
            from_padded_matches(&[2, 0, 4, 1], 4, f64::NAN, d)?;
            from_padded_matches(&[3, 3], 3, -7.0, d)?;
            from_padded_matches(&[], 5, 0.0, d)
        })
        .check("no loop over the rows", |_ctx| {
            let code = exercise_code(EXERCISE_SOURCE);
            if let Some((line, keyword)) = row_loops(&code) {
                return Err(Failure::new(format!(
                    "your code has a `{keyword}` loop (line {line}): work on all rows at once with \
                     row_ids (repeat_interleave of the lengths), index_add, \
                     internal_scatter_reduce and index_select; one libtorch call per row is what \
                     the layout avoids"
                )));
            }
            assert_no_method_calls(
                EXERCISE_SOURCE,
                &[
                    "map",
                    "for_each",
                    "fold",
                    "iter",
                    "into_iter",
                    "unbind",
                    "split",
                    "split_with_sizes",
                    "tensor_split",
                    "chunk",
                ],
                "a closure or a split per row is a loop over the rows: work on all rows at once with \
                 row_ids (repeat_interleave of the lengths), index_add, internal_scatter_reduce and \
                 index_select",
            )
        })
        .run()
}
