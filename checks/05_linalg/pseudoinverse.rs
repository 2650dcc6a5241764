//! Checks of 05_linalg/pseudoinverse. The pseudoinverse is unique (no sign or rotation freedom),
//! so `pinv` is compared entry by entry with the reference and with `torch.linalg.pinv`, and the
//! four Penrose conditions are checked on the learner's result itself; `least_squares` is
//! compared with the reference and with `torch.linalg.lstsq` (driver "gelsd", the one that
//! handles rank-deficient matrices).
//!
//! Regimes: tall, wide and square matrices; a repeated singular value (the SVD's vectors are
//! then any rotation, the pseudoinverse is the same); a row and a column (size-1 dimensions);
//! rank-deficient tall and wide matrices (the normal equations are singular); an
//! ill-conditioned full-rank matrix (condition number 1e4 in float32, where (a^T a)^-1 a^T is
//! off by 100%); the zero matrix (every singular value 0 and a cutoff of 0: `>=` keeps them, a
//! 0/1 mask times 1/s gives NaN); a batch with a matrix 1e7 times larger than the other (the
//! cutoff is per matrix);
//! an explicit rtol on a matrix of norm 10 (a cutoff of rtol, not rtol * s.max(), keeps a
//! value it should drop); an empty batch; a transposed input; float64, with a singular value
//! of 1e-9 that float32's epsilon would drop. No singular value is near a cutoff, so every
//! correct way to the singular values keeps the same ones. The last check reads the exercise's
//! code: calling linalg_pinv or linalg_lstsq is not the exercise.
//!
//! Tolerances follow the perturbation theory of the pseudoinverse: with s_max the largest and
//! s_min the smallest kept singular value, kappa = s_max / s_min, and c = max(m, n) * eps, an
//! error of c * s_max in a moves a^+ by about c * kappa / s_min, a x a by c * s_max * kappa,
//! and the symmetric products by c * kappa (float32 with kappa = 1e4: the pseudoinverse through
//! the SVD is off by 0.4 on entries of 6000, within 72; the normal equations by 550).

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::{epsilon, two_digits_up};
use tensorlings_support::random::randn;
use tensorlings_support::random::{of_rank, with_singular_values};
use tensorlings_support::source::assert_no_method_calls;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("05_linalg/pseudoinverse.rs");

/// The scales the tolerances need, over the whole batch: `(c, s_max, kappa, 1 / s_min)` with
/// `c = max(m, n) * eps` and the kept singular values those above `rtol * s_max` of each matrix.
fn scales(a: &Tensor, rtol: Option<f64>) -> (f64, f64, f64, f64) {
    let (m, n) = (a.size()[a.dim() - 2], a.size()[a.dim() - 1]);
    let c = m.max(n) as f64 * epsilon(a.kind());
    let s = a.to_kind(Kind::Double).to_device(Device::Cpu).svd(true, false).1.reshape([-1, m.min(n)]);
    let (mut s_max, mut kappa, mut inv_min) = (0.0f64, 1.0f64, 0.0f64);
    for row in Vec::<Vec<f64>>::try_from(&s).unwrap() {
        let top = row[0];
        let cutoff = rtol.unwrap_or(c) * top;
        if let Some(&low) = row.iter().rfind(|&&v| v > cutoff) {
            s_max = s_max.max(top);
            kappa = kappa.max(top / low);
            inv_min = inv_min.max(1.0 / low);
        }
    }
    (c, s_max, kappa, inv_min)
}

/// The index of a matrix of a batch that is all zeros in `got` but not in `expected`.
fn zeroed_matrix(got: &Tensor, expected: &Tensor) -> Option<i64> {
    if got.dim() < 3 || got.size() != expected.size() || got.numel() == 0 {
        return None;
    }
    let largest = |t: &Tensor| t.abs().amax([-2, -1].as_slice(), false).reshape([-1]).to_device(Device::Cpu);
    let (got_max, expected_max) =
        (Vec::<f64>::try_from(&largest(got)).ok()?, Vec::<f64>::try_from(&largest(expected)).ok()?);
    (0..got_max.len()).find(|&i| got_max[i] == 0.0 && expected_max[i] > 0.0).map(|i| i as i64)
}

fn tolerance(atol: f64) -> Tolerance {
    Tolerance::new(two_digits_up(atol.max(1e-12)), 0.0)
}

/// `pinv(a, rtol)` against the reference and libtorch, then the four Penrose conditions.
fn pinv_matches(a: &Tensor, rtol: Option<f64>, what: &str) -> CheckResult {
    within(format!("for {what} of shape {:?} (rtol {rtol:?})", a.size()), || {
        let a_before = a.copy();
        let expected = solution::pinv(&a.copy(), rtol);
        let x = exercise::pinv(a, rtol);
        assert_unchanged("a", a, &a_before)?;
        let (c, s_max, kappa, inv_min) = scales(a, rtol);
        // Room for the rounding of the last products too (`+ c`), relative to the entries' scale.
        let x_tol = tolerance(2.0 * c * kappa * inv_min + c * inv_min);
        assert_close("pinv(a, rtol)", &x, &expected, x_tol).map_err(|failure| {
            if let Some(i) = zeroed_matrix(&x, &expected) {
                Failure::new(format!(
                    "{}\n  matrix {i} of the batch has an all-zero pseudoinverse: every one of its \
                     singular values was dropped. The cutoff is rtol times each matrix's own \
                     largest singular value (s.narrow(-1, 0, 1)), not the largest of the batch",
                    failure.message()
                ))
            } else if x.isnan().any().int64_value(&[]) == 1 && expected.isnan().any().int64_value(&[]) == 0 {
                Failure::new(format!(
                    "{}\n  NaN comes from a singular value of 0: 1/0 is inf, and inf times a 0 of a mask \
                     is NaN; choose 0 where a value is dropped with where_self instead of multiplying",
                    failure.message()
                ))
            } else {
                failure
            }
        })?;
        let builtin = a.linalg_pinv_atol_rtol_float(None, rtol, false);
        assert_close("pinv(a, rtol), compared with torch.linalg.pinv,", &x, &builtin, x_tol)?;
        let t = |m: &Tensor| m.transpose(-2, -1);
        let (ax, xa) = (a.matmul(&x), x.matmul(a));
        // With an rtol that drops real singular values, a x a is a without them: the matrix
        // whose pseudoinverse x exactly is, which is the pseudoinverse of the reference's x.
        let axa_tol = tolerance(4.0 * c * s_max * kappa);
        if rtol.is_some() {
            let truncated = solution::pinv(&expected, None);
            assert_close(
                "a @ pinv(a) @ a, which must be a without its dropped singular values,",
                &ax.matmul(a),
                &truncated,
                axa_tol,
            )?;
        } else {
            assert_close("a @ pinv(a) @ a, which must be a,", &ax.matmul(a), a, axa_tol)?;
        }
        assert_close("pinv(a) @ a @ pinv(a), which must be pinv(a),", &xa.matmul(&x), &x, x_tol)?;
        assert_close(
            "(a @ pinv(a)).T, which must be a @ pinv(a),",
            &t(&ax),
            &ax,
            tolerance(4.0 * c * kappa),
        )?;
        assert_close("(pinv(a) @ a).T, which must be pinv(a) @ a,", &t(&xa), &xa, tolerance(4.0 * c * kappa))
    })
}

fn least_squares_matches(a: &Tensor, b: &Tensor, what: &str) -> CheckResult {
    within(format!("for a ({what}) of shape {:?} and b of shape {:?}", a.size(), b.size()), || {
        let (a_before, b_before) = (a.copy(), b.copy());
        let expected = solution::least_squares(&a.copy(), &b.copy());
        let got = exercise::least_squares(a, b);
        assert_unchanged("a", a, &a_before)?;
        assert_unchanged("b", b, &b_before)?;
        let (c, _, kappa, inv_min) = scales(a, None);
        let b_max = b.abs().max().double_value(&[]).max(1.0);
        let tol = tolerance((2.0 * c * kappa * inv_min + c * inv_min) * b_max * b.size()[b.dim() - 2] as f64);
        assert_close("least_squares(a, b)", &got, &expected, tol)?;
        // lstsq runs on the CPU only with gelsd's driver string; CUDA has only "gels" (full rank).
        let (a_cpu, b_cpu) = (a.to_device(Device::Cpu), b.to_device(Device::Cpu));
        let lstsq = a_cpu.linalg_lstsq(&b_cpu, None, "gelsd").0.to_device(a.device());
        assert_close("least_squares(a, b), compared with torch.linalg.lstsq,", &got, &lstsq, tol)
    })
}

fn main() {
    Checks::new()
        .check("pinv of tall [5, 3], wide [3, 5] and square [4, 4] matrices", |ctx| {
            for shape in [[5, 3], [3, 5], [4, 4]] {
                pinv_matches(&randn(&shape, Kind::Float, ctx.device()), None, "a random matrix")?;
            }
            Ok(())
        })
        .check("pinv of a row [1, 4] and a column [4, 1]", |ctx| {
            pinv_matches(&randn(&[1, 4], Kind::Float, ctx.device()), None, "a row")?;
            pinv_matches(&randn(&[4, 1], Kind::Float, ctx.device()), None, "a column")
        })
        .check("pinv of rank-deficient matrices: [6, 5] of rank 3 and [4, 7] of rank 2", |ctx| {
            pinv_matches(&of_rank(6, 5, 3, Kind::Float, ctx.device()), None, "a rank-3 matrix")?;
            pinv_matches(&of_rank(4, 7, 2, Kind::Float, ctx.device()), None, "a rank-2 matrix")
        })
        .check("pinv of a matrix with a repeated singular value (its SVD is not unique, pinv is)", |ctx| {
            let a = with_singular_values(5, 4, &[2.0, 2.0, 2.0, 0.5], Kind::Float, ctx.device());
            pinv_matches(&a, None, "a matrix with singular values 2, 2, 2, 0.5")
        })
        .check("pinv of an ill-conditioned matrix (condition number 1e4, float32)", |ctx| {
            let a = with_singular_values(6, 4, &[1.0, 0.5, 1e-2, 1e-4], Kind::Float, ctx.device());
            pinv_matches(&a, None, "a matrix with singular values 1, 0.5, 1e-2, 1e-4")
        })
        .check("pinv of the zero matrix is the zero matrix", |ctx| {
            let zero = Tensor::zeros([3, 2], (Kind::Float, ctx.device()));
            pinv_matches(&zero, None, "the zero matrix")?;
            let x = exercise::pinv(&zero, None);
            check_that!(
                x.isfinite().all().int64_value(&[]) == 1,
                "pinv of the zero matrix has values that are not finite: drop every zero singular value"
            );
            Ok(())
        })
        .check("pinv of a batch with matrices 1e7 apart in scale: the cutoff is per matrix", |ctx| {
            let large = with_singular_values(4, 3, &[1e7, 5e6, 2e6], Kind::Float, ctx.device());
            let small = with_singular_values(4, 3, &[1.0, 0.5, 0.2], Kind::Float, ctx.device());
            pinv_matches(&Tensor::stack(&[large, small], 0), None, "a batch of a large and a small matrix")
        })
        .check("pinv with rtol 0.05 on a matrix with singular values 10, 5, 1, 0.1", |ctx| {
            let a = with_singular_values(5, 4, &[10.0, 5.0, 1.0, 0.1], Kind::Float, ctx.device());
            pinv_matches(&a, Some(0.05), "a matrix with singular values 10, 5, 1, 0.1")
        })
        .check("pinv of a batch [3, 4, 2], an empty batch, a transposed input, and float64", |ctx| {
            let dev = ctx.device();
            pinv_matches(&randn(&[3, 4, 2], Kind::Float, dev), None, "a batch")?;
            pinv_matches(&randn(&[0, 4, 2], Kind::Float, dev), None, "an empty batch")?;
            pinv_matches(&randn(&[5, 3], Kind::Float, dev).tr(), None, "a transposed matrix")?;
            pinv_matches(&of_rank(5, 4, 2, Kind::Double, dev), None, "a float64 rank-2 matrix")?;
            // 1e-9 is above float64's cutoff (5 * 2.2e-16) and below float32's (5 * 1.2e-7).
            let a = with_singular_values(5, 4, &[1.0, 0.5, 1e-3, 1e-9], Kind::Double, dev);
            pinv_matches(&a, None, "a float64 matrix with singular values 1, 0.5, 1e-3, 1e-9")
        })
        .check("least_squares of a tall, a wide and a rank-deficient system, and a batch", |ctx| {
            let dev = ctx.device();
            least_squares_matches(
                &randn(&[6, 3], Kind::Float, dev),
                &randn(&[6, 2], Kind::Float, dev),
                "tall",
            )?;
            least_squares_matches(
                &randn(&[3, 5], Kind::Float, dev),
                &randn(&[3, 1], Kind::Float, dev),
                "wide",
            )?;
            least_squares_matches(
                &of_rank(6, 4, 2, Kind::Float, dev),
                &randn(&[6, 2], Kind::Float, dev),
                "rank 2",
            )?;
            least_squares_matches(
                &randn(&[2, 5, 3], Kind::Double, dev),
                &randn(&[2, 5, 2], Kind::Double, dev),
                "a batch",
            )
        })
        .check("neither calls the built-ins it is compared with", |_ctx| {
            let builtins = [
                "linalg_pinv",
                "linalg_pinv_atol_rtol_float",
                "linalg_pinv_rcond_tensor",
                "pinverse",
                "linalg_lstsq",
            ];
            let all: Vec<String> = builtins.iter().flat_map(|b| [b.to_string(), format!("f_{b}")]).collect();
            assert_no_method_calls(
                EXERCISE_SOURCE,
                &all.iter().map(String::as_str).collect::<Vec<_>>(),
                "the exercise is to build the pseudoinverse from the SVD (the built-in is what your \
                 result is compared with)",
            )
        })
        .run()
}
