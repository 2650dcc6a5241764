//! Checks of 06_sparse_indexing/gather_scatter. Every result is compared with the reference and
//! with a loop written out element by element in f64 (`loop_*` below). Regimes visited:
//! - `pick_scores`: random labels on [5, 4] (more rows than classes, so gathering along dim 0
//!   stays in bounds and silently reads the wrong scores), one class, no rows, float64, and
//!   non-contiguous inputs (transposed scores, labels taken with a step of 2).
//! - `segment_sum`: unsorted ids with repeats and segments without rows, every row in one
//!   segment (all ids equal), more segments than ids, one column, no rows, float64, a transposed
//!   `values`.
//! - `segment_reduce`: sum, mean and amax on the same inputs, with all-negative values (where a
//!   max that lets the zeros in gives 0) and segments without rows (0 for every reduction), one
//!   column, no rows, float64, non-contiguous values.
//! - `one_hot_scatter`: a class that never occurs, one class, no labels; float32; against
//!   `one_hot` too, which the code must not call.

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::{randint, randn, uniform};
use tensorlings_support::source::assert_does_not_call;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("06_sparse_indexing/gather_scatter.rs");

use exercise::Reduce;

/// A CPU float64 copy of `t` as nested rows.
fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let t = t.to_device(Device::Cpu).to_kind(Kind::Double);
    (0..t.size()[0]).map(|i| Vec::<f64>::try_from(t.get(i)).expect("a row of f64")).collect()
}

fn ints(t: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t.to_device(Device::Cpu).contiguous()).expect("int64 values")
}

/// `out[i] = scores[i][labels[i]]`, by a loop.
fn loop_pick(scores: &Tensor, labels: &Tensor) -> Tensor {
    let rows = rows(scores);
    let picked: Vec<f64> = ints(labels).iter().enumerate().map(|(i, &l)| rows[i][l as usize]).collect();
    Tensor::from_slice(&picked).to_kind(scores.kind()).to_device(scores.device())
}

/// Each segment's rows combined by `reduce`, by a loop over the rows; 0 for an empty segment.
fn loop_reduce(values: &Tensor, ids: &Tensor, num_segments: i64, reduce: Reduce) -> Tensor {
    let d = values.size()[1] as usize;
    let mut members: Vec<Vec<Vec<f64>>> = vec![Vec::new(); num_segments as usize];
    for (row, id) in rows(values).into_iter().zip(ints(ids)) {
        members[id as usize].push(row);
    }
    let mut out = Vec::new();
    for segment in &members {
        for j in 0..d {
            let column = segment.iter().map(|row| row[j]);
            out.push(match (segment.is_empty(), reduce) {
                (true, _) => 0.0,
                (false, Reduce::Sum) => column.sum(),
                (false, Reduce::Mean) => column.sum::<f64>() / segment.len() as f64,
                (false, Reduce::Amax) => column.fold(f64::NEG_INFINITY, f64::max),
            });
        }
    }
    Tensor::from_slice(&out)
        .reshape([num_segments, d as i64])
        .to_kind(values.kind())
        .to_device(values.device())
}

/// Sums of a few values in another order: a few roundings of the largest partial sum.
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-12) } else { Tolerance::new(1e-5, 1e-5) }
}

fn describe(t: &Tensor) -> String {
    format!("{:?}{}", t.size(), if t.is_contiguous() { "" } else { " (non-contiguous)" })
}

fn pick_matches(scores: &Tensor, labels: &Tensor) -> CheckResult {
    within(format!("for scores {} and labels {}", describe(scores), describe(labels)), || {
        let (s_before, l_before) = (scores.copy(), labels.copy());
        let expected = solution::pick_scores(&scores.copy(), &labels.copy());
        let got = exercise::pick_scores(scores, labels);
        assert_unchanged("scores", scores, &s_before)?;
        assert_unchanged("labels", labels, &l_before)?;
        assert_close("pick_scores(scores, labels)", &got, &expected, Tolerance::EXACT)?;
        assert_close(
            "pick_scores(scores, labels), compared with a loop,",
            &got,
            &loop_pick(scores, labels),
            Tolerance::EXACT,
        )
    })
}

/// Adds what repeated ids mean to a failure on inputs that have them.
fn explain_repeats(failure: Failure, ids: &Tensor) -> Failure {
    let ids = ints(ids);
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() < ids.len() {
        Failure::new(format!(
            "{}\n  several rows share a segment id here: all of them must be combined (index_add, \
             scatter_add and scatter_reduce do; scatter, index_put without accumulate and \
             x[idx] += v keep only one of them)",
            failure.message()
        ))
    } else {
        failure
    }
}

/// The old overload's error, explained.
fn explain_old_overload(failure: Failure) -> Failure {
    if failure.message().contains("reduce argument must be either add or multiply") {
        Failure::new(format!(
            "{}\n  tch's `scatter_reduce(dim, index, src, reduce)` is the old torch.scatter(.., \
             reduce=), which knows only \"add\" and \"multiply\": torch.scatter_reduce is \
             `internal_scatter_reduce(dim, index, src, reduce, include_self)` in tch",
            failure.message()
        ))
    } else {
        failure
    }
}

/// `None` checks `segment_sum`, `Some(reduce)` checks `segment_reduce`.
fn segments_match(values: &Tensor, ids: &Tensor, num_segments: i64, reduce: Option<Reduce>) -> CheckResult {
    let description =
        format!("for values {}, segment_ids {:?} and {num_segments} segments", describe(values), ints(ids));
    within(description, || {
        let (v_before, i_before) = (values.copy(), ids.copy());
        let (name, expected, got) = match reduce {
            None => {
                let expected = solution::segment_sum(&values.copy(), &ids.copy(), num_segments);
                (
                    "segment_sum(values, segment_ids, num_segments)".to_string(),
                    expected,
                    exercise::segment_sum(values, ids, num_segments),
                )
            }
            Some(reduce) => {
                let sol_reduce = match reduce {
                    Reduce::Sum => solution::Reduce::Sum,
                    Reduce::Mean => solution::Reduce::Mean,
                    Reduce::Amax => solution::Reduce::Amax,
                };
                let expected =
                    solution::segment_reduce(&values.copy(), &ids.copy(), num_segments, sol_reduce);
                let got = exercise::segment_reduce(values, ids, num_segments, reduce);
                (
                    format!("segment_reduce(values, segment_ids, num_segments, Reduce::{reduce:?})"),
                    expected,
                    got,
                )
            }
        };
        assert_unchanged("values", values, &v_before)?;
        assert_unchanged("segment_ids", ids, &i_before)?;
        let tol = tolerance(values.kind());
        assert_close(&name, &got, &expected, tol)?;
        let looped = loop_reduce(values, ids, num_segments, reduce.unwrap_or(Reduce::Sum));
        assert_close(&format!("{name}, compared with a loop over the rows,"), &got, &looped, tol)
    })
    .map_err(|f| explain_old_overload(explain_repeats(f, ids)))
}

/// Random values `[n, d]` and ids in `0..num_segments`.
fn random_segments(n: i64, d: i64, num_segments: i64, kind: Kind, device: Device) -> (Tensor, Tensor) {
    (randn(&[n, d], kind, device), randint(&[n], num_segments, device))
}

/// Ids for 8 rows into 5 segments, unsorted, with repeats, and segments 2 and 4 empty.
fn gappy_ids(device: Device) -> Tensor {
    Tensor::from_slice(&[3i64, 0, 3, 1, 0, 3, 1, 3]).to_device(device)
}

fn one_hot_matches(labels: &Tensor, num_classes: i64) -> CheckResult {
    within(format!("for labels {:?} and {num_classes} classes", ints(labels)), || {
        let before = labels.copy();
        let expected = solution::one_hot_scatter(&labels.copy(), num_classes);
        let got = exercise::one_hot_scatter(labels, num_classes);
        assert_unchanged("labels", labels, &before)?;
        assert_close("one_hot_scatter(labels, num_classes)", &got, &expected, Tolerance::EXACT)?;
        let builtin = labels.one_hot(num_classes).to_kind(Kind::Float);
        assert_close(
            "one_hot_scatter(labels, num_classes), compared with one_hot,",
            &got,
            &builtin,
            Tolerance::EXACT,
        )
    })
}

fn all_reductions(values: &Tensor, ids: &Tensor, num_segments: i64) -> CheckResult {
    for reduce in [Reduce::Sum, Reduce::Mean, Reduce::Amax] {
        segments_match(values, ids, num_segments, Some(reduce))?;
    }
    Ok(())
}

fn main() {
    Checks::new()
        .check("pick_scores on [5, 4] scores", |ctx| {
            let d = ctx.device();
            pick_matches(&randn(&[5, 4], Kind::Float, d), &randint(&[5], 4, d))
        })
        .check("pick_scores with one class, no rows, float64, non-contiguous inputs", |ctx| {
            let d = ctx.device();
            pick_matches(&randn(&[3, 1], Kind::Float, d), &Tensor::zeros([3], (Kind::Int64, d)))?;
            pick_matches(&randn(&[0, 4], Kind::Float, d), &Tensor::zeros([0], (Kind::Int64, d)))?;
            pick_matches(&randn(&[4, 6], Kind::Double, d), &randint(&[4], 6, d))?;
            let every_other = randint(&[12], 3, d).slice(0, 0, None, 2);
            pick_matches(&randn(&[3, 6], Kind::Float, d).tr(), &every_other)
        })
        .check("segment_sum: unsorted ids with repeats, and empty segments", |ctx| {
            let d = ctx.device();
            segments_match(&randn(&[8, 3], Kind::Float, d), &gappy_ids(d), 5, None)
        })
        .check("segment_sum: every row in one segment, more segments than ids", |ctx| {
            let d = ctx.device();
            segments_match(
                &randn(&[6, 2], Kind::Float, d),
                &Tensor::full([6], 1, (Kind::Int64, d)),
                3,
                None,
            )?;
            let (values, ids) = random_segments(4, 3, 4, Kind::Float, d);
            segments_match(&values, &ids, 9, None)
        })
        .check("segment_sum: one column, no rows, float64, transposed values", |ctx| {
            let d = ctx.device();
            let (values, ids) = random_segments(7, 1, 3, Kind::Float, d);
            segments_match(&values, &ids, 3, None)?;
            segments_match(&randn(&[0, 3], Kind::Float, d), &Tensor::zeros([0], (Kind::Int64, d)), 2, None)?;
            let (values, ids) = random_segments(9, 4, 3, Kind::Double, d);
            segments_match(&values, &ids, 3, None)?;
            segments_match(&randn(&[3, 8], Kind::Float, d).tr(), &gappy_ids(d), 5, None)
        })
        .check("segment_reduce: sum, mean and amax, with repeats and empty segments", |ctx| {
            let d = ctx.device();
            all_reductions(&randn(&[8, 3], Kind::Float, d), &gappy_ids(d), 5)
        })
        .check(
            "segment_reduce: all values negative (the max is not 0, the mean counts only the rows)",
            |ctx| {
                let d = ctx.device();
                let negative = -uniform(&[8, 3], 1.0, 5.0, Kind::Float, d);
                all_reductions(&negative, &gappy_ids(d), 5)
            },
        )
        .check("segment_reduce: one column, no rows, float64, transposed values", |ctx| {
            let d = ctx.device();
            let (values, ids) = random_segments(7, 1, 3, Kind::Float, d);
            all_reductions(&values, &ids, 3)?;
            all_reductions(&randn(&[0, 2], Kind::Float, d), &Tensor::zeros([0], (Kind::Int64, d)), 2)?;
            let (values, ids) = random_segments(10, 3, 4, Kind::Double, d);
            all_reductions(&values, &ids, 4)?;
            all_reductions(&randn(&[3, 8], Kind::Float, d).tr(), &gappy_ids(d), 5)
        })
        .check("one_hot_scatter: 6 labels into 4 classes (one never used), one class, no labels", |ctx| {
            let d = ctx.device();
            one_hot_matches(&Tensor::from_slice(&[2i64, 0, 2, 3, 0, 0]).to_device(d), 4)?;
            one_hot_matches(&Tensor::zeros([3], (Kind::Int64, d)), 1)?;
            one_hot_matches(&Tensor::zeros([0], (Kind::Int64, d)), 3)
        })
        .check("one_hot_scatter is a scatter, not one_hot", |_ctx| {
            assert_does_not_call(
                EXERCISE_SOURCE,
                "one_hot",
                "one_hot is what the result is compared with: write it as a scatter of 1.0 into \
                 zeros, zeros.scatter_value(1, &labels.unsqueeze(1), 1.0)",
            )
        })
        .run()
}
