//! Checks of 05_linalg/tensor_contractions: each function against plain loops over every index
//! (computed here in float64) and against the reference, on small tensors.
//!
//! Regimes: rectangular shapes (where a wrong pairing of dimensions fails to run) and square or
//! cubic ones (where it runs and gives wrong numbers, and where a mode product that leaves the
//! new dimension last keeps the right shape); every mode of a 3-way tensor and a mode of a 4-way
//! one; transposed (non-contiguous) inputs; a batch of one, an empty batch and a mode product to
//! zero rows; float64. When a mode product is wrong, the check tries the two classic mistakes
//! (the new dimension left last, m contracted along its rows) to say which one it is.
//!
//! Tolerances are derived from the sums: each output entry is a sum of `terms` products, whose
//! rounding error is at most about `terms * eps * sum |products|` (eps: the kind's machine
//! epsilon); the largest such bound over the output is the absolute tolerance.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::two_digits_up;
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("05_linalg/tensor_contractions.rs");

/// The values of `t` as float64 in row-major order.
fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&t.to_device(Device::Cpu).to_kind(Kind::Double).contiguous().reshape([-1])).unwrap()
}

/// The row-major offsets of a dimension of each size in `shape`.
fn strides(shape: &[i64]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1] as usize;
    }
    strides
}

/// Every multi-index of `shape`, in row-major order.
fn indices(shape: &[i64]) -> Vec<Vec<usize>> {
    let mut all = vec![vec![]];
    for &n in shape {
        all = all
            .into_iter()
            .flat_map(|prefix| (0..n as usize).map(move |i| [prefix.clone(), vec![i]].concat()))
            .collect();
    }
    all
}

/// What a loop computed: the values, the shape, and the rounding tolerance for `kind`.
struct Looped {
    values: Vec<f64>,
    abs_sums: Vec<f64>,
    terms: usize,
    shape: Vec<i64>,
}

impl Looped {
    /// The loop's result as a tensor of `like`'s kind and device.
    fn tensor(&self, like: &Tensor) -> Tensor {
        Tensor::from_slice(&self.values)
            .reshape(self.shape.as_slice())
            .to_kind(like.kind())
            .to_device(like.device())
    }

    /// `terms * eps * max sum |products|`, rounded up, plus a relative part for the conversion.
    fn tolerance(&self, kind: Kind) -> Tolerance {
        let eps = if kind == Kind::Double { f64::EPSILON } else { f32::EPSILON as f64 };
        let largest = self.abs_sums.iter().cloned().fold(0.0, f64::max);
        Tolerance::new(
            two_digits_up((self.terms as f64 + 2.0) * eps * largest.max(1.0)),
            two_digits_up(2.0 * eps),
        )
    }
}

/// `sum_ij x[s, i] a[i, j] y[s, j]` for every `s`, by loops.
fn bilinear_loops(x: &Tensor, a: &Tensor, y: &Tensor) -> Looped {
    let (b, n, m) = (x.size()[0] as usize, a.size()[0] as usize, a.size()[1] as usize);
    let (xv, av, yv) = (values(x), values(a), values(y));
    let (mut out, mut abs) = (vec![0.0; b], vec![0.0; b]);
    for s in 0..b {
        for i in 0..n {
            for j in 0..m {
                let p = xv[s * n + i] * av[i * m + j] * yv[s * m + j];
                out[s] += p;
                abs[s] += p.abs();
            }
        }
    }
    Looped { values: out, abs_sums: abs, terms: n * m, shape: vec![b as i64] }
}

/// The mode-`mode` product by loops: `out[.., r, ..] = sum_j t[.., j, ..] m[r, j]`.
fn mode_product_loops(t: &Tensor, m: &Tensor, mode: usize) -> Looped {
    let t_shape = t.size();
    let (r, n) = (m.size()[0], m.size()[1]);
    let mut shape = t_shape.clone();
    shape[mode] = r;
    let (tv, mv, t_strides) = (values(t), values(m), strides(&t_shape));
    let (mut out, mut abs) = (Vec::new(), Vec::new());
    for index in indices(&shape) {
        let (mut sum, mut abs_sum) = (0.0, 0.0);
        for j in 0..n as usize {
            let mut source = index.clone();
            source[mode] = j;
            let offset: usize = source.iter().zip(&t_strides).map(|(i, s)| i * s).sum();
            let p = tv[offset] * mv[index[mode] * n as usize + j];
            sum += p;
            abs_sum += p.abs();
        }
        out.push(sum);
        abs.push(abs_sum);
    }
    Looped { values: out, abs_sums: abs, terms: n as usize, shape }
}

/// The Tucker reconstruction by loops.
fn tucker_loops(core: &Tensor, a: &Tensor, b: &Tensor, c: &Tensor) -> Looped {
    let (p, q, r) = (core.size()[0] as usize, core.size()[1] as usize, core.size()[2] as usize);
    let (i_n, j_n, k_n) = (a.size()[0] as usize, b.size()[0] as usize, c.size()[0] as usize);
    let (gv, av, bv, cv) = (values(core), values(a), values(b), values(c));
    let (mut out, mut abs) = (Vec::new(), Vec::new());
    for i in 0..i_n {
        for j in 0..j_n {
            for k in 0..k_n {
                let (mut sum, mut abs_sum) = (0.0, 0.0);
                for pp in 0..p {
                    for qq in 0..q {
                        for rr in 0..r {
                            let term =
                                gv[(pp * q + qq) * r + rr] * av[i * p + pp] * bv[j * q + qq] * cv[k * r + rr];
                            sum += term;
                            abs_sum += term.abs();
                        }
                    }
                }
                out.push(sum);
                abs.push(abs_sum);
            }
        }
    }
    Looped { values: out, abs_sums: abs, terms: p * q * r, shape: vec![i_n as i64, j_n as i64, k_n as i64] }
}

/// The learner's result against the reference's (with room for both to round) and the loops'.
fn compare(what: &str, got: &Tensor, expected: &Tensor, looped: &Looped) -> CheckResult {
    let tol = looped.tolerance(expected.kind());
    assert_close(what, got, expected, Tolerance::new(2.0 * tol.atol, 2.0 * tol.rtol))?;
    assert_close(
        &format!("{what}, compared with a loop over every index,"),
        got,
        &looped.tensor(expected),
        tol,
    )
}

fn bilinear_matches(x: &Tensor, a: &Tensor, y: &Tensor) -> CheckResult {
    within(
        format!("for x of shape {:?}, a of shape {:?} and y of shape {:?}", x.size(), a.size(), y.size()),
        || {
            let (x_before, a_before, y_before) = (x.copy(), a.copy(), y.copy());
            let expected = solution::bilinear_forms(&x.copy(), &a.copy(), &y.copy());
            let got = exercise::bilinear_forms(x, a, y);
            assert_unchanged("x", x, &x_before)?;
            assert_unchanged("a", a, &a_before)?;
            assert_unchanged("y", y, &y_before)?;
            compare("bilinear_forms(x, a, y)", &got, &expected, &bilinear_loops(x, a, y))
        },
    )
}

fn random_bilinear(device: Device, batch: i64, n: i64, m: i64, kind: Kind) -> CheckResult {
    bilinear_matches(
        &randn(&[batch, n], kind, device),
        &randn(&[n, m], kind, device),
        &randn(&[batch, m], kind, device),
    )
}

/// Names the classic mistake when a mode product differs: the new dimension left last by
/// tensordot, or `m` contracted along its rows instead of its columns.
fn explain_mode_product(failure: Failure, got: &Tensor, t: &Tensor, m: &Tensor, mode: i64) -> Failure {
    let tol = Tolerance::new(1e-3, 1e-3);
    let matches = |candidate: Option<Tensor>| {
        candidate.is_some_and(|c| c.size() == got.size() && assert_close("", got, &c, tol).is_ok())
    };
    let left_last = t.f_tensordot(m, [mode], [1]).ok();
    let rows = t.f_tensordot(m, [mode], [0]).ok().and_then(|p| p.f_movedim([-1], [mode]).ok());
    let hint = if matches(left_last) {
        "tensordot puts the dimensions of m that are left (its r rows) after those of t: move the \
         new last dimension back to position `mode` (movedim)"
    } else if matches(rows) {
        "you summed t's dimension `mode` against m's dimension 0 (its rows); m is [r, n]: sum \
         against its dimension 1, result[.., r, ..] = sum_j t[.., j, ..] m[r, j]"
    } else {
        return failure;
    };
    Failure::new(format!("{}\n  {hint}", failure.message()))
}

fn mode_product_matches(t: &Tensor, m: &Tensor, mode: i64) -> CheckResult {
    within(format!("for t of shape {:?}, m of shape {:?} and mode {mode}", t.size(), m.size()), || {
        let (t_before, m_before) = (t.copy(), m.copy());
        let expected = solution::mode_product(&t.copy(), &m.copy(), mode);
        let got = exercise::mode_product(t, m, mode);
        assert_unchanged("t", t, &t_before)?;
        assert_unchanged("m", m, &m_before)?;
        compare("mode_product(t, m, mode)", &got, &expected, &mode_product_loops(t, m, mode as usize))
            .map_err(|f| explain_mode_product(f, &got, t, m, mode))
    })
}

fn tucker_matches(core: &Tensor, a: &Tensor, b: &Tensor, c: &Tensor) -> CheckResult {
    let shapes = [core.size(), a.size(), b.size(), c.size()];
    within(
        format!(
            "for a core of shape {:?} and factors of shapes {:?}, {:?}, {:?}",
            shapes[0], shapes[1], shapes[2], shapes[3]
        ),
        || {
            let before = [core.copy(), a.copy(), b.copy(), c.copy()];
            let expected = solution::tucker_reconstruct(&core.copy(), &a.copy(), &b.copy(), &c.copy());
            let got = exercise::tucker_reconstruct(core, a, b, c);
            for (name, input, copy) in
                [("core", core, &before[0]), ("a", a, &before[1]), ("b", b, &before[2]), ("c", c, &before[3])]
            {
                assert_unchanged(name, input, copy)?;
            }
            compare("tucker_reconstruct(core, a, b, c)", &got, &expected, &tucker_loops(core, a, b, c))
        },
    )
}

fn random_tucker(device: Device, ranks: [i64; 3], sizes: [i64; 3], kind: Kind) -> CheckResult {
    let core = randn(&ranks, kind, device);
    let factors: Vec<Tensor> = (0..3).map(|d| randn(&[sizes[d], ranks[d]], kind, device)).collect();
    tucker_matches(&core, &factors[0], &factors[1], &factors[2])
}

fn main() {
    Checks::new()
        .check("bilinear_forms on x [5, 3], a [3, 4], y [5, 4]", |ctx| {
            random_bilinear(ctx.device(), 5, 3, 4, Kind::Float)
        })
        .check("bilinear_forms with a square a, where a transposed a still runs", |ctx| {
            random_bilinear(ctx.device(), 4, 3, 3, Kind::Float)
        })
        .check("bilinear_forms on transposed (non-contiguous) x, a and y", |ctx| {
            let x = randn(&[3, 6], Kind::Float, ctx.device()).tr();
            let a = randn(&[4, 3], Kind::Float, ctx.device()).tr();
            let y = randn(&[4, 6], Kind::Float, ctx.device()).tr();
            bilinear_matches(&x, &a, &y)
        })
        .check("bilinear_forms with a batch of one, an empty batch, and in float64", |ctx| {
            random_bilinear(ctx.device(), 1, 3, 2, Kind::Float)?;
            random_bilinear(ctx.device(), 0, 3, 2, Kind::Float)?;
            random_bilinear(ctx.device(), 4, 2, 5, Kind::Double)
        })
        .check("mode_product of t [2, 3, 4] along each mode, to 5 rows", |ctx| {
            let t = randn(&[2, 3, 4], Kind::Float, ctx.device());
            for mode in 0..3 {
                mode_product_matches(
                    &t,
                    &randn(&[5, t.size()[mode as usize]], Kind::Float, ctx.device()),
                    mode,
                )?;
            }
            Ok(())
        })
        .check("mode_product of a cube [3, 3, 3] with a square m, where mistakes keep the shape", |ctx| {
            let t = randn(&[3, 3, 3], Kind::Float, ctx.device());
            for mode in 0..3 {
                mode_product_matches(&t, &randn(&[3, 3], Kind::Float, ctx.device()), mode)?;
            }
            Ok(())
        })
        .check("mode_product of a 4-way tensor, a transposed t and m, one row, zero rows, float64", |ctx| {
            let dev = ctx.device();
            mode_product_matches(
                &randn(&[2, 3, 2, 4], Kind::Float, dev),
                &randn(&[3, 2], Kind::Float, dev),
                2,
            )?;
            let t = randn(&[4, 3, 2], Kind::Float, dev).permute([2, 1, 0]);
            mode_product_matches(&t, &randn(&[3, 5], Kind::Float, dev).tr(), 1)?;
            mode_product_matches(&t, &randn(&[1, 2], Kind::Float, dev), 0)?;
            mode_product_matches(&t, &randn(&[0, 4], Kind::Float, dev), 2)?;
            mode_product_matches(&randn(&[2, 3, 4], Kind::Double, dev), &randn(&[5, 3], Kind::Double, dev), 1)
        })
        .check("tucker_reconstruct of a core [2, 3, 4] to [5, 4, 3]", |ctx| {
            random_tucker(ctx.device(), [2, 3, 4], [5, 4, 3], Kind::Float)
        })
        .check(
            "tucker_reconstruct of a cubic core to a cube, where a wrong letter order keeps the shape",
            |ctx| random_tucker(ctx.device(), [2, 2, 2], [3, 3, 3], Kind::Float),
        )
        .check("tucker_reconstruct with transposed factors, a rank-1 core and float64", |ctx| {
            let dev = ctx.device();
            let core = randn(&[2, 3, 2], Kind::Float, dev);
            let (a, b, c) = (
                randn(&[2, 4], Kind::Float, dev).tr(),
                randn(&[3, 2], Kind::Float, dev).tr(),
                randn(&[2, 3], Kind::Float, dev).tr(),
            );
            tucker_matches(&core, &a, &b, &c)?;
            random_tucker(dev, [1, 1, 1], [2, 3, 4], Kind::Float)?;
            random_tucker(dev, [2, 3, 2], [3, 2, 4], Kind::Double)
        })
        .run()
}
