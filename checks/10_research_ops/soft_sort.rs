//! Checks of 10_research_ops/soft_sort: soft_sort_matrix against the reference, its rows
//! summing to 1; at tau 1e-3 on distinct values the hard permutation matrix (columns then sum to
//! 1 too) and soft_sort the descending sort; one entry; a batch of 3 dimensions; a transposed
//! (non-contiguous) input; magnitudes of 1e4; float64; gradcheck of both functions (the gradient
//! through the sort included) and gradients against the reference.

use tch::{Device, Kind, Tensor};
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("10_research_ops/soft_sort.rs");

fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-10) } else { Tolerance::new(1e-6, 1e-5) }
}

fn matrix_matches(s: &Tensor, tau: f64) -> CheckResult {
    within(format!("for s of shape {:?} ({:?}), tau {tau}", s.size(), s.kind()), || {
        let before = s.copy();
        let expected = solution::soft_sort_matrix(&s.copy(), tau);
        let got = exercise::soft_sort_matrix(s, tau);
        assert_unchanged("s", s, &before)?;
        if got.size() == expected.size() {
            let rows = got.to_kind(Kind::Double).sum_dim_intlist(-1, false, None::<Kind>);
            let off = (rows - 1.0).abs().max().double_value(&[]);
            if off > 1e-5 {
                return Err(Failure::new(format!(
                    "a row of `soft_sort_matrix(s, tau)` sums to 1 {off:+e}: each row i must be a \
                     softmax over the entries j (the last dimension)"
                )));
            }
        }
        assert_close("soft_sort_matrix(s, tau)", &got, &expected, tolerance(s.kind()))?;
        let expected = solution::soft_sort(&s.copy(), tau);
        let got = exercise::soft_sort(s, tau);
        assert_unchanged("s", s, &before)?;
        assert_close("soft_sort(s, tau)", &got, &expected, tolerance(s.kind()))
    })
}

/// Rows of distinct values at least 0.1 apart, in random order: [rows, n].
fn spread(rows: i64, n: i64, device: Device) -> Tensor {
    let perms: Vec<Tensor> = (0..rows).map(|_| Tensor::randperm(n, (Kind::Float, Device::Cpu))).collect();
    (Tensor::stack(&perms, 0) * 0.1 + randn(&[rows, n], Kind::Float, Device::Cpu) * 0.01).to_device(device)
}

/// The permutation matrix that sorts each row of `s` descending: P[i, j] = 1 if entry j is the
/// i-th largest.
fn hard_permutation(s: &Tensor) -> Tensor {
    let n = s.size()[1];
    let (_, order) = s.sort(-1, true);
    order.one_hot(n).to_kind(s.kind())
}

fn main() {
    Checks::new()
        .check("random scores of shape [3, 5], tau 1 and 0.3: rows sum to 1", |ctx| {
            let s = randn(&[3, 5], Kind::Float, ctx.device());
            matrix_matches(&s, 1.0)?;
            matrix_matches(&s, 0.3)
        })
        .check("at tau 1e-3 the hard permutation matrix, the descending sort, columns summing to 1", |ctx| {
            let s = spread(3, 6, ctx.device());
            matrix_matches(&s, 1e-3)?;
            within("for s of shape [3, 6] with values 0.1 apart, tau 0.001", || {
                let p = exercise::soft_sort_matrix(&s, 1e-3);
                let what = "soft_sort_matrix(s, tau), compared with the permutation matrix that sorts s descending,";
                assert_close(what, &p, &hard_permutation(&s), Tolerance::new(1e-3, 0.0))?;
                let columns = p.sum_dim_intlist(-2, false, None::<Kind>);
                assert_close("the column sums of soft_sort_matrix(s, tau)", &columns, &columns.ones_like(), Tolerance::new(1e-3, 0.0))?;
                let (sorted, _) = s.sort(-1, true);
                assert_close("soft_sort(s, tau), compared with the descending sort,", &exercise::soft_sort(&s, 1e-3), &sorted, Tolerance::new(1e-3, 0.0))
            })
        })
        .check("one entry, a batch of 3 dimensions, a transposed input", |ctx| {
            matrix_matches(&randn(&[4, 1], Kind::Float, ctx.device()), 0.5)?;
            matrix_matches(&randn(&[2, 3, 4], Kind::Float, ctx.device()), 0.5)?;
            matrix_matches(&randn(&[5, 3], Kind::Float, ctx.device()).tr(), 0.5)
        })
        .check("magnitudes of 1e4, float64", |ctx| {
            matrix_matches(&(randn(&[2, 5], Kind::Float, ctx.device()) * 1e4), 1.0)?;
            matrix_matches(&randn(&[3, 4], Kind::Double, ctx.device()), 0.5)
        })
        .check("gradcheck of soft_sort_matrix and soft_sort in float64", |ctx| {
            let s = randn(&[2, 4], Kind::Double, ctx.device());
            within("for s of shape [2, 4], tau 0.5", || {
                let opts = GradcheckOptions::default();
                gradcheck(|t| exercise::soft_sort_matrix(&t[0], 0.5), std::slice::from_ref(&s), opts)?;
                gradcheck(|t| exercise::soft_sort(&t[0], 0.5), std::slice::from_ref(&s), opts)
            })
            .map_err(|f| {
                if !f.message().contains("gradcheck:") {
                    return f;
                }
                Failure::new(format!(
                    "{}\n  the gradient flows through the softmax and through sort(s): do not detach the sorted values",
                    f.message()
                ))
            })
        })
        .run()
}
