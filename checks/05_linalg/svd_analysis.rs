//! Checks of 05_linalg/svd_analysis. The SVD's u and v are not unique (signs, rotations inside
//! a repeated singular value), so nothing here compares them: each function is compared on what
//! is unique, against the reference and against libtorch's own function where there is one
//! (`linalg_matrix_rank`, `linalg_cond`), on matrices whose singular values the check chooses
//! (built as `q1 diag(s) q2^T` from random orthonormal `q1`, `q2` in float64).
//!
//! Regimes:
//! - reconstruct: tall, wide and batched factors, given with the signs of pairs of singular
//!   vectors flipped (still a valid SVD), rotated inside a repeated singular value (valid too),
//!   and as non-contiguous views; compared with the matrix itself too.
//! - numerical_rank: products of random factors of every rank from 1 to 5 in one batch; the same
//!   matrices scaled by 1e6 and 1e-6 (a fixed tolerance fails); a wide [2, 50] matrix with a
//!   singular value between the min(m, n) and the max(m, n) tolerances; float64 with singular
//!   values that float32's epsilon would drop; the zero matrix (a tolerance of 0, where `>=`
//!   counts zeros); a batch of a matrix 1e7 times larger than the other (the tolerance is per
//!   matrix). Ranks are chosen far from the tolerance, so any correct way to the singular
//!   values gives the same count.
//! - condition_number: square, tall and wide matrices, a batch with condition numbers 10, 1e2
//!   and 1e3, float64; tolerance relative, eps times the condition number (the smallest singular
//!   value is known to about eps * s.max()).
//! - numerical_rank and best_rank_k of an empty batch (no matrices: shape [0]).
//! - best_rank_k: k from 0 to min(m, n), batched, transposed input, float64, and repeated
//!   singular values inside the kept part (u and v are then any rotation, the approximation is
//!   still unique); the error is also checked against |a - approximation|_F (Eckart-Young).
//! - The last check reads the exercise's code: calling linalg_matrix_rank or linalg_cond is not
//!   the exercise.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::assert_equal;
use tensorlings_support::compare::{epsilon, two_digits_up};
use tensorlings_support::random::randn;
use tensorlings_support::random::{of_rank, with_singular_values};
use tensorlings_support::source::assert_no_method_calls;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("05_linalg/svd_analysis.rs");

/// The largest singular value of the whole batch, for tolerances.
fn largest_singular_value(a: &Tensor) -> f64 {
    if a.numel() == 0 {
        return 0.0;
    }
    a.to_kind(Kind::Double).svd(true, false).1.max().double_value(&[])
}

/// Rounding in a product of SVD factors: about eps * s.max() per entry, times a factor for the
/// sums over k and for the SVD's own backward error.
fn svd_tolerance(a: &Tensor) -> Tolerance {
    let (m, n) = (a.size()[a.dim() - 2], a.size()[a.dim() - 1]);
    let atol = 10.0 * (m.max(n) as f64) * epsilon(a.kind()) * largest_singular_value(a).max(1e-30);
    Tolerance::new(two_digits_up(atol), 0.0)
}

/// `reconstruct` on the SVD of `a`, given with the signs of some pairs of singular vectors
/// flipped (still a valid SVD), with its singular vectors 1 and 2 rotated when `rotate` (valid
/// when singular values 1 and 2 are equal), and as non-contiguous views when `non_contiguous`;
/// against the reference and against `a`.
fn reconstruct_matches(a: &Tensor, non_contiguous: bool, rotate: bool) -> CheckResult {
    let (u, s, v) = a.svd(true, true);
    // Inside a repeated singular value any rotation of the singular vectors works: u R and v R
    // with R a rotation of columns 1 and 2 give u R diag(s) R^T v^T = u diag(s) v^T.
    let (u, v) = if rotate {
        let k = s.size()[s.dim() - 1];
        let (c, sn) = (0.7f64.cos(), 0.7f64.sin());
        let mut r = vec![0.0; (k * k) as usize];
        for i in 0..k as usize {
            r[i * k as usize + i] = 1.0;
        }
        let at = |i: usize, j: usize| i * k as usize + j;
        (r[at(1, 1)], r[at(1, 2)], r[at(2, 1)], r[at(2, 2)]) = (c, -sn, sn, c);
        let r = Tensor::from_slice(&r).reshape([k, k]).to_kind(a.kind()).to_device(a.device());
        (u.matmul(&r), v.matmul(&r))
    } else {
        (u, v)
    };
    // Flipping column j of both u and v leaves u diag(s) v^T as it was: a valid SVD too.
    let k = s.size()[s.dim() - 1];
    let signs =
        Tensor::from_slice(&(0..k).map(|j| if j % 2 == 1 { -1.0 } else { 1.0 }).collect::<Vec<f64>>())
            .to_kind(a.kind())
            .to_device(a.device());
    let (mut u, mut v) = (u * &signs, v * &signs);
    if non_contiguous {
        u = u.transpose(-2, -1).contiguous().transpose(-2, -1);
        v = v.transpose(-2, -1).contiguous().transpose(-2, -1);
    }
    within(
        format!(
            "for u {:?}, s {:?} and v {:?} (the SVD of a matrix of shape {:?})",
            u.size(),
            s.size(),
            v.size(),
            a.size()
        ),
        || {
            let before = [u.copy(), s.copy(), v.copy()];
            let expected = solution::reconstruct(&u.copy(), &s.copy(), &v.copy());
            let got = exercise::reconstruct(&u, &s, &v);
            assert_unchanged("u", &u, &before[0])?;
            assert_unchanged("s", &s, &before[1])?;
            assert_unchanged("v", &v, &before[2])?;
            let tol = svd_tolerance(a);
            assert_close("reconstruct(u, s, v)", &got, &expected, tol).map_err(|failure| {
                // tch's svd returns v where torch.linalg.svd returns its transpose Vh.
                let untransposed = (&u * s.unsqueeze(-2)).f_matmul(&v).ok();
                if untransposed
                    .is_some_and(|w| w.size() == got.size() && assert_close("", &got, &w, tol).is_ok())
                {
                    Failure::new(format!(
                        "{}\n  this is u diag(s) v: tch's svd returns v itself (torch.linalg.svd returns \
                     its transpose Vh), so multiply by v transposed (`v.transpose(-2, -1)`)",
                        failure.message()
                    ))
                } else {
                    failure
                }
            })?;
            assert_close("reconstruct(u, s, v), compared with the matrix decomposed,", &got, a, tol)
        },
    )
}

/// `numerical_rank(a)` against the reference, `torch.linalg.matrix_rank(a)` and `expected`.
fn rank_matches(a: &Tensor, expected_ranks: &[i64], what: &str) -> CheckResult {
    within(format!("for {what} of shape {:?}", a.size()), || {
        let a_before = a.copy();
        let expected = solution::numerical_rank(&a.copy());
        let got = exercise::numerical_rank(a);
        assert_unchanged("a", a, &a_before)?;
        let builtin = a.linalg_matrix_rank_atol_rtol_float(None, None, false);
        let chosen = Tensor::from_slice(expected_ranks).reshape(expected.size()).to_device(a.device());
        // The check's own assumptions, before the learner is blamed for anything.
        assert_equal("the reference's rank (a bug in the check if this fails)", &expected, &builtin)?;
        // The ranks the matrices were built with, where the SVD is LAPACK's: a GPU's iterative
        // SVD may put rounding noise elsewhere, and then the reference and the built-in (which
        // the learner's result is compared with) still agree with each other.
        if a.device() == Device::Cpu {
            assert_equal("the reference's rank (a bug in the check if this fails)", &expected, &chosen)?;
        }
        assert_equal("numerical_rank(a)", &got, &expected)
    })
}

fn condition_matches(a: &Tensor) -> CheckResult {
    within(format!("for a of shape {:?}", a.size()), || {
        let a_before = a.copy();
        let expected = solution::condition_number(&a.copy());
        let got = exercise::condition_number(a);
        assert_unchanged("a", a, &a_before)?;
        let largest = expected.to_kind(Kind::Double).max().double_value(&[]);
        let tol = Tolerance::new(0.0, two_digits_up((50.0 * epsilon(a.kind()) * largest).max(1e-5)));
        assert_close("condition_number(a)", &got, &expected, tol)?;
        assert_close("condition_number(a), compared with torch.linalg.cond(a),", &got, &a.linalg_cond(2), tol)
    })
}

fn best_rank_k_matches(a: &Tensor, k: i64) -> CheckResult {
    within(format!("for a of shape {:?} and k = {k}", a.size()), || {
        let a_before = a.copy();
        let (expected, expected_error) = solution::best_rank_k(&a.copy(), k);
        let (got, got_error) = exercise::best_rank_k(a, k);
        assert_unchanged("a", a, &a_before)?;
        let tol = svd_tolerance(a);
        let (m, n) = (a.size()[a.dim() - 2], a.size()[a.dim() - 1]);
        // Names the off-by-one: the approximation of rank k - 1 or k + 1.
        assert_close("the approximation", &got, &expected, tol).map_err(|failure| {
            let neighbour = [k - 1, k + 1].into_iter().filter(|&j| (0..=m.min(n)).contains(&j)).find(|&j| {
                let other = solution::best_rank_k(a, j).0;
                other.size() == got.size() && assert_close("", &got, &other, tol).is_ok()
            });
            match neighbour {
                Some(j) => Failure::new(format!(
                    "{}\n  this is the approximation of rank {j}: keep exactly the first k singular \
                     values and vectors (narrow(-1, 0, k))",
                    failure.message()
                )),
                None => failure,
            }
        })?;
        assert_close("the error", &got_error, &expected_error, tol).map_err(|failure| {
            // The spectral-norm error s[k], for the Frobenius error of every dropped value.
            let s = a.svd(true, false).1;
            if k < m.min(n) && assert_close("", &got_error, &s.select(-1, k), tol).is_ok() {
                Failure::new(format!(
                    "{}\n  this is s[k], the error in the spectral norm; the error asked for is \
                     |a - approximation|_F, the square root of the sum of the squares of ALL the \
                     dropped singular values",
                    failure.message()
                ))
            } else {
                failure
            }
        })?;
        // Eckart-Young: the error is the distance from a to the approximation.
        let distance = (a - &got).square().sum_dim_intlist([-2, -1].as_slice(), false, None::<Kind>).sqrt();
        assert_close("the error, compared with |a - approximation|_F,", &got_error, &distance, tol)
    })
}

fn main() {
    Checks::new()
        .check("reconstruct from the SVD of a tall [4, 3] and a wide [3, 5] matrix, signs flipped", |ctx| {
            reconstruct_matches(&randn(&[4, 3], Kind::Float, ctx.device()), false, false)?;
            reconstruct_matches(&randn(&[3, 5], Kind::Float, ctx.device()), false, false)
        })
        .check("reconstruct a batch [2, 4, 4], non-contiguous u and v, float64", |ctx| {
            reconstruct_matches(&randn(&[2, 4, 4], Kind::Float, ctx.device()), true, false)?;
            reconstruct_matches(&randn(&[3, 3, 2], Kind::Double, ctx.device()), false, false)
        })
        .check("reconstruct from singular vectors rotated inside a repeated singular value", |ctx| {
            let a = with_singular_values(5, 4, &[3.0, 2.0, 2.0, 1.0], Kind::Float, ctx.device());
            reconstruct_matches(&a, false, true)
        })
        .check("numerical_rank of a batch of [6, 5] matrices of ranks 1 to 5, and transposed", |ctx| {
            let a = Tensor::stack(
                &(1..=5).map(|r| of_rank(6, 5, r, Kind::Float, ctx.device())).collect::<Vec<_>>(),
                0,
            );
            rank_matches(&a, &[1, 2, 3, 4, 5], "products of random factors")?;
            rank_matches(&a.transpose(-2, -1), &[1, 2, 3, 4, 5], "the same matrices transposed")
        })
        .check("numerical_rank does not change when the matrix is scaled by 1e6 or 1e-6", |ctx| {
            let a = of_rank(6, 5, 3, Kind::Double, ctx.device());
            rank_matches(&(&a * 1e6).to_kind(Kind::Float), &[3], "a rank-3 matrix times 1e6")?;
            rank_matches(&(&a * 1e-6).to_kind(Kind::Float), &[3], "a rank-3 matrix times 1e-6")
        })
        .check("numerical_rank's tolerance uses max(m, n), not min(m, n)", |ctx| {
            // Tolerances 2 * eps = 2.4e-7 and 50 * eps = 6e-6 around a singular value of 1e-6.
            let a = with_singular_values(2, 50, &[1.0, 1e-6], Kind::Float, ctx.device());
            rank_matches(&a, &[1], "a [2, 50] matrix with singular values 1 and 1e-6")?;
            rank_matches(&a.tr(), &[1], "a [50, 2] matrix with singular values 1 and 1e-6")
        })
        .check("numerical_rank uses the epsilon of the matrix's kind (float64 here)", |ctx| {
            let a = with_singular_values(3, 3, &[1.0, 1e-5, 1e-10], Kind::Double, ctx.device());
            rank_matches(&a, &[3], "a float64 matrix with singular values 1, 1e-5 and 1e-10")
        })
        .check("numerical_rank of the zero matrix, and of a batch with matrices 1e7 apart in scale", |ctx| {
            rank_matches(&Tensor::zeros([3, 3], (Kind::Float, ctx.device())), &[0], "the zero matrix")?;
            let large = with_singular_values(4, 4, &[1e7, 8e6, 5e6, 3e6], Kind::Float, ctx.device());
            let small = with_singular_values(4, 4, &[1.0, 0.5, 0.2, 0.1], Kind::Float, ctx.device());
            rank_matches(&Tensor::stack(&[large, small], 0), &[4, 4], "a batch of a large and a small matrix")
        })
        .check("condition_number of square [4, 4], tall [5, 3] and wide [3, 5] matrices", |ctx| {
            for shape in [[4, 4], [5, 3], [3, 5]] {
                condition_matches(&randn(&shape, Kind::Float, ctx.device()))?;
            }
            Ok(())
        })
        .check("condition_number of a batch with condition numbers 10, 1e2, 1e3, and float64", |ctx| {
            let dev = ctx.device();
            let batch: Vec<Tensor> = [10.0, 100.0, 1000.0]
                .iter()
                .map(|c| with_singular_values(4, 4, &[1.0, 0.7, 0.3, 1.0 / c], Kind::Float, dev))
                .collect();
            condition_matches(&Tensor::stack(&batch, 0))?;
            condition_matches(&randn(&[2, 3, 3], Kind::Double, dev))
        })
        .check("best_rank_k of [6, 5] with k = 2 and of [4, 7] with k = 3", |ctx| {
            best_rank_k_matches(&randn(&[6, 5], Kind::Float, ctx.device()), 2)?;
            best_rank_k_matches(&randn(&[4, 7], Kind::Float, ctx.device()), 3)
        })
        .check("best_rank_k of a batch [3, 5, 4] with k = 0, 1 and 4, and of a transposed input", |ctx| {
            let a = randn(&[3, 5, 4], Kind::Float, ctx.device());
            for k in [1, 0, 4] {
                best_rank_k_matches(&a, k)?;
            }
            best_rank_k_matches(&a.transpose(-2, -1), 2)
        })
        .check("best_rank_k in float64, and rank and best_rank_k of an empty batch [0, 4, 3]", |ctx| {
            best_rank_k_matches(&randn(&[2, 6, 4], Kind::Double, ctx.device()), 2)?;
            let empty = randn(&[0, 4, 3], Kind::Float, ctx.device());
            rank_matches(&empty, &[], "an empty batch")?;
            best_rank_k_matches(&empty, 2)
        })
        .check("best_rank_k with a repeated singular value inside the kept part (u, v not unique)", |ctx| {
            // Singular values 3, 2, 2, 1 and k = 3: any rotation of the two singular vectors of 2
            // is a valid SVD, and the approximation is the same for all of them.
            let a = with_singular_values(5, 4, &[3.0, 2.0, 2.0, 1.0], Kind::Float, ctx.device());
            best_rank_k_matches(&a, 3)?;
            let (got, _) = exercise::best_rank_k(&a, 3);
            let rank = got.linalg_matrix_rank_atol_rtol_float(None, 1e-4, false).int64_value(&[]);
            check_that!(rank <= 3, "the approximation of rank 3 has rank {rank}");
            Ok(())
        })
        .check(
            "numerical_rank and condition_number do not call the built-ins they are compared with",
            |_ctx| {
                let builtins = [
                    "linalg_matrix_rank",
                    "linalg_matrix_rank_atol_rtol_float",
                    "linalg_matrix_rank_tol_tensor",
                    "linalg_cond",
                    "linalg_cond_p_str",
                ];
                let all: Vec<String> =
                    builtins.iter().flat_map(|b| [b.to_string(), format!("f_{b}")]).collect();
                assert_no_method_calls(
                    EXERCISE_SOURCE,
                    &all.iter().map(String::as_str).collect::<Vec<_>>(),
                    "the exercise is to compute them from the singular values (the built-in is what your \
                 result is compared with)",
                )
            },
        )
        .run()
}
