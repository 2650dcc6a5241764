//! Checks of 05_linalg/pca_svd: the fit against sklearn's numbers on a fixed data set (computed
//! once with scikit-learn 1.9.1, `PCA(n_components=4, svd_solver="full")`, and carried here as
//! literals) and against the reference on random data; transform and inverse_transform on a PCA
//! the check builds itself, so that each function is judged on its own.
//!
//! The sign convention (largest |loading| of each component positive) removes the only freedom
//! of a PCA with distinct variances, so components are compared entry by entry; every data set
//! here has distinct variances. The convention is also checked as a property: the components of
//! -x and of x with its rows shuffled are those of x.
//!
//! Regimes: k = 2 and k = d (the ratios of k < d components add up to less than 1); new data
//! with its own mean (transform uses the fitted mean); features of very different scales
//! around a mean far from 0 (float32); fewer samples than features; a transposed
//! (non-contiguous) x; k = 1; and ill-conditioned data, standard deviations 1000, 1 and 0.01 in
//! float32, where the covariance route (eigenvectors of x^T x) loses the smallest variance
//! entirely: its variance and axis are compared with the float64 computation on the same data
//! with tolerances derived from the SVD's rounding (see `FitTolerance`).

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::{epsilon, two_digits_up};
use tensorlings_support::random::randn;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("05_linalg/pca_svd.rs");

/// The data set sklearn was run on: 10 samples, 4 features.
const DATA: [f64; 40] = [
    2.5, 2.4, 0.5, 1.0, 0.5, 0.7, 1.2, 0.3, 2.2, 2.9, 0.8, 1.1, 1.9, 2.2, 1.5, 0.4, 3.1, 3.0, 0.2, 1.6, 2.3,
    2.7, 1.1, 0.9, 2.0, 1.6, 1.9, 0.2, 1.0, 1.1, 0.6, 0.8, 1.5, 1.6, 1.4, 0.5, 1.1, 0.9, 0.9, 1.2,
];
/// New points, transformed with the PCA fitted on DATA.
const NEW_POINTS: [f64; 12] = [1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0, 2.0, 1.0, 0.5, 1.5];
const SK_MEAN: [f64; 4] = [1.81, 1.9099999999999997, 1.0100000000000002, 0.8];
const SK_COMPONENTS: [f64; 16] = [
    0.6428117324546929,
    0.6960685301471425,
    -0.2070002838210534,
    0.24378794157093875,
    0.20696033269365938,
    0.23283272935481542,
    0.7702599564253286,
    -0.5564673758273408,
    0.7043718887539877,
    -0.670969214452363,
    0.1444129083323734,
    0.18112279673554083,
    -0.21867953640673707,
    0.10525129328023596,
    0.585658086201018,
    0.7733731516461722,
];
const SK_VARIANCE: [f64; 4] =
    [1.3947756436047871, 0.32761790490508963, 0.05053550496268847, 0.023404279860767277];
const SK_RATIO: [f64; 4] =
    [0.7764570292845357, 0.18238146496850424, 0.028132587657833642, 0.013028918089126344];
/// `PCA(n_components=2).fit(DATA).transform(DATA)`, `[10, 2]`.
const SK_TRANSFORM_2: [f64; 20] = [
    0.938941408228763,
    -0.24723538599990147,
    -1.8455503157051592,
    -0.12826255871353776,
    1.0564108625767048,
    -0.01747587178572685,
    0.060767613962902534,
    0.6861622504346729,
    1.950642415878744,
    -0.5483179611948197,
    0.8706206563322416,
    0.2990250777057426,
    -0.42415003272252294,
    0.9865561038267492,
    -0.9996228963408544,
    -0.6720389623936495,
    -0.5689193745680607,
    0.331005746519053,
    -1.0391403376427542,
    -0.6894184383985844,
];
/// `inverse_transform` of SK_TRANSFORM_2: the data projected on the first two components.
const SK_INVERSE_2: [f64; 40] = [
    2.3623946355567953,
    2.5060030762046344,
    0.6252033443582233,
    1.1664810196268336,
    0.5971133424057675,
    0.5955067828152094,
    1.2932339262713122,
    0.42145101693286574,
    2.4854564845180023,
    2.641265401419516,
    0.7778616873748099,
    1.0672649821536533,
    1.9910705028404214,
    2.1120594532806534,
    1.5259443917830677,
    0.43298750463102836,
    2.9504157630798344,
    3.1401144318041307,
    0.18386909738256807,
    1.5806641562931212,
    2.431531501973498,
    2.5856344655566876,
    1.0601083203624602,
    0.8458491173988957,
    1.7415293621138648,
    1.8444650604766053,
    1.8577038387010054,
    0.14761105040241318,
    1.0283452669616662,
    1.0577212939957001,
    0.699277521367125,
    0.9302717496108064,
    1.5127970106299609,
    1.5910620985663373,
    1.382726943897184,
    0.4771104176049992,
    0.9993461299201926,
    1.0261679358805251,
    0.6940709285022438,
    0.9303089853453863,
];
/// `PCA(n_components=2).fit(DATA).transform(NEW_POINTS)`, `[3, 2]`.
const SK_TRANSFORM_NEW_2: [f64; 6] = [
    -0.0898404873519505,
    -0.39456121320101767,
    -2.478940194921523,
    -1.1520973705709303,
    -0.23506642941911338,
    -0.9549150613571431,
];

/// sklearn's numbers are float64 results of the same arithmetic: they agree to about 1e-15.
const SKLEARN_TOLERANCE: Tolerance = Tolerance::new(1e-10, 1e-10);

fn tensor(values: &[f64], shape: &[i64], device: Device) -> Tensor {
    Tensor::from_slice(values).reshape(shape).to_device(device)
}

/// How far a correct fit of `x` may be from another: the SVD of the centred data is accurate to
/// about eps * s_max in each singular value, so an axis moves by about eps * s_max / gap (gap:
/// the distance to the nearest other singular value) and a variance s^2 / (n - 1) by a relative
/// 2 eps * s_max / s. A factor of 20 covers the sizes here (measured: the SVD's axis of the
/// smallest of 1000, 1, 0.01 in float32 is off by 3e-4, its variance by 2e-4 relative; the
/// covariance route's by 0.14, and 600 times).
struct FitTolerance {
    components: Tolerance,
    variance: Tolerance,
    mean: Tolerance,
}

impl FitTolerance {
    fn of(x: &Tensor, k: i64) -> FitTolerance {
        let eps = epsilon(x.kind());
        let x64 = x.to_kind(Kind::Double).to_device(Device::Cpu);
        let centred = &x64 - x64.mean_dim(0, true, Kind::Double);
        let s = Vec::<f64>::try_from(&centred.svd(true, false).1).unwrap();
        let s_max = s[0];
        let kept = &s[..k as usize];
        // The gap of each kept value to its neighbours (the next one may be dropped: it counts).
        let gap = (0..kept.len())
            .map(|j| {
                let below = s.get(j + 1).map_or(f64::INFINITY, |b| s[j] - b);
                let above = if j > 0 { s[j - 1] - s[j] } else { f64::INFINITY };
                below.min(above)
            })
            .fold(f64::INFINITY, f64::min);
        let s_min = kept.iter().cloned().fold(f64::INFINITY, f64::min);
        let max_abs = x64.abs().max().double_value(&[]);
        FitTolerance {
            components: Tolerance::new(two_digits_up((20.0 * eps * s_max / gap).max(100.0 * eps)), 0.0),
            variance: Tolerance::new(1e-12, two_digits_up((40.0 * eps * s_max / s_min).max(100.0 * eps))),
            mean: Tolerance::new(two_digits_up(10.0 * eps * max_abs.max(1.0)), 0.0),
        }
    }
}

/// Adds the likely mistake to a failed comparison of the variances, the ratios or the axes.
fn explain(failure: Failure, field: &str, got: &Tensor, expected: &Tensor, x: &Tensor, k: i64) -> Failure {
    let (n, d) = (x.size()[0], x.size()[1]);
    let same = |candidate: &Tensor| {
        candidate.size() == got.size() && assert_close("", got, candidate, Tolerance::new(1e-4, 1e-4)).is_ok()
    };
    let uncentred = || {
        let s = x.svd(true, false).1.narrow(0, 0, k);
        s.square() / (n - 1) as f64
    };
    let hint = match field {
        "explained_variance" if same(&uncentred()) => {
            "these are the variances of x without its mean subtracted: centre x first"
        }
        "explained_variance" if same(&(expected * ((n - 1) as f64 / n as f64))) => {
            "these variances are divided by n: the sample variance divides by n - 1, as sklearn does"
        }
        "explained_variance" if same(&(expected * (n - 1) as f64)) => {
            "these are the squared singular values: the variance along an axis is s^2 / (n - 1)"
        }
        "explained_variance_ratio"
            if k < d.min(n) && (got.sum(Kind::Double).double_value(&[]) - 1.0).abs() < 1e-4 =>
        {
            "these ratios add up to 1 over the k components kept: divide by the total variance of \
             all components (the sum of every s^2), so that they add up to less than 1"
        }
        "components" if same(&(-expected)) => {
            "these are the reference's axes with the opposite sign: make the entry of largest \
             absolute value of each component positive"
        }
        "components" if same(&(expected.abs() * got.sign())) => {
            "some of these axes have the opposite sign: make the entry of largest absolute value \
             of each component positive"
        }
        _ => return failure,
    };
    Failure::new(format!("{}\n  {hint}", failure.message()))
}

/// Fits both PCAs of `x` with `k` components; checks that `x` is left alone and that the fields
/// have the reference's shapes, then compares them with `tol`.
fn fit_matches(x: &Tensor, k: i64, what: &str) -> Result<(exercise::Pca, solution::Pca), Failure> {
    within(format!("for {what} of shape {:?} and k = {k}", x.size()), || {
        let x_before = x.copy();
        let expected = solution::pca_fit(&x.copy(), k);
        let got = exercise::pca_fit(x, k);
        assert_unchanged("x", x, &x_before)?;
        let tol = FitTolerance::of(x, k);
        assert_close("mean", &got.mean, &expected.mean, tol.mean)?;
        assert_close(
            "explained_variance",
            &got.explained_variance,
            &expected.explained_variance,
            tol.variance,
        )
        .map_err(|f| {
            explain(f, "explained_variance", &got.explained_variance, &expected.explained_variance, x, k)
        })?;
        assert_close(
            "explained_variance_ratio",
            &got.explained_variance_ratio,
            &expected.explained_variance_ratio,
            tol.variance,
        )
        .map_err(|f| {
            explain(
                f,
                "explained_variance_ratio",
                &got.explained_variance_ratio,
                &expected.explained_variance_ratio,
                x,
                k,
            )
        })?;
        assert_close("components", &got.components, &expected.components, tol.components)
            .map_err(|f| explain(f, "components", &got.components, &expected.components, x, k))?;
        Ok((got, expected))
    })
}

/// The fit of DATA against sklearn's numbers, for `k` components.
fn sklearn_fit_matches(device: Device, k: i64) -> CheckResult {
    let x = tensor(&DATA, &[10, 4], device);
    let (got, _) = fit_matches(&x, k, "the data set sklearn was run on")?;
    within(format!("for the data set sklearn was run on, with k = {k}"), || {
        assert_close(
            "mean, compared with sklearn's mean_,",
            &got.mean,
            &tensor(&SK_MEAN, &[4], device),
            SKLEARN_TOLERANCE,
        )?;
        let components = tensor(&SK_COMPONENTS, &[4, 4], device).narrow(0, 0, k);
        assert_close(
            "components, compared with sklearn's components_,",
            &got.components,
            &components,
            SKLEARN_TOLERANCE,
        )?;
        let variance = tensor(&SK_VARIANCE, &[4], device).narrow(0, 0, k);
        assert_close(
            "explained_variance, compared with sklearn's explained_variance_,",
            &got.explained_variance,
            &variance,
            SKLEARN_TOLERANCE,
        )?;
        let ratio = tensor(&SK_RATIO, &[4], device).narrow(0, 0, k);
        assert_close(
            "explained_variance_ratio, compared with sklearn's explained_variance_ratio_,",
            &got.explained_variance_ratio,
            &ratio,
            SKLEARN_TOLERANCE,
        )
    })
}

/// sklearn's fitted PCA with 2 components, as the exercise's struct.
fn sklearn_pca(device: Device) -> exercise::Pca {
    exercise::Pca {
        mean: tensor(&SK_MEAN, &[4], device),
        components: tensor(&SK_COMPONENTS, &[4, 4], device).narrow(0, 0, 2),
        explained_variance: tensor(&SK_VARIANCE, &[4], device).narrow(0, 0, 2),
        explained_variance_ratio: tensor(&SK_RATIO, &[4], device).narrow(0, 0, 2),
    }
}

/// The same PCA as the reference's struct.
fn as_solution(pca: &exercise::Pca) -> solution::Pca {
    solution::Pca {
        mean: pca.mean.copy(),
        components: pca.components.copy(),
        explained_variance: pca.explained_variance.copy(),
        explained_variance_ratio: pca.explained_variance_ratio.copy(),
    }
}

/// transform and inverse_transform with `pca` on `x`, against the reference and, when given,
/// against sklearn's numbers.
fn transforms_match(
    pca: &exercise::Pca,
    x: &Tensor,
    what: &str,
    sklearn: Option<(&Tensor, Option<&Tensor>)>,
    tol: Tolerance,
) -> CheckResult {
    within(
        format!("for {what} of shape {:?} and components of shape {:?}", x.size(), pca.components.size()),
        || {
            let reference = as_solution(pca);
            let x_before = x.copy();
            let mean_before = pca.mean.copy();
            let components_before = pca.components.copy();
            let expected = solution::pca_transform(&reference, &x.copy());
            let got = exercise::pca_transform(pca, x);
            assert_unchanged("x", x, &x_before)?;
            assert_unchanged("pca.mean", &pca.mean, &mean_before)?;
            assert_unchanged("pca.components", &pca.components, &components_before)?;
            assert_close("pca_transform(pca, x)", &got, &expected, tol).map_err(|failure| {
                let own_mean = (x - x.mean_dim(0, true, x.kind())).matmul(&pca.components.tr());
                if x.size()[0] > 1 && assert_close("", &got, &own_mean, tol).is_ok() {
                    Failure::new(format!(
                        "{}\n  this centres x with its own mean: new data is centred with the mean the \
                     PCA was fitted with (pca.mean)",
                        failure.message()
                    ))
                } else {
                    failure
                }
            })?;
            let z = expected;
            let z_before = z.copy();
            let expected_back = solution::pca_inverse_transform(&reference, &z.copy());
            let back = exercise::pca_inverse_transform(pca, &z);
            assert_unchanged("z", &z, &z_before)?;
            assert_close("pca_inverse_transform(pca, z)", &back, &expected_back, tol)?;
            if let Some((sk_transform, sk_inverse)) = sklearn {
                assert_close(
                    "pca_transform(pca, x), compared with sklearn's transform,",
                    &got,
                    sk_transform,
                    SKLEARN_TOLERANCE,
                )?;
                if let Some(sk_inverse) = sk_inverse {
                    assert_close(
                        "pca_inverse_transform(pca, z), compared with sklearn's inverse_transform,",
                        &back,
                        sk_inverse,
                        SKLEARN_TOLERANCE,
                    )?;
                }
            }
            Ok(())
        },
    )
}

/// Data with features of standard deviations `scales` around a mean of `offset`.
fn scaled_data(n: i64, scales: &[f64], offset: f64, kind: Kind, device: Device) -> Tensor {
    let scales = Tensor::from_slice(scales).to_kind(kind).to_device(device);
    randn(&[n, scales.size()[0]], kind, device) * scales + offset
}

/// Centred data `[n, d]` with exactly these singular values along random axes, then `offset`
/// added, built in float64 and converted to `kind`.
fn with_singular_values(n: i64, d: i64, values: &[f64], offset: f64, kind: Kind, device: Device) -> Tensor {
    let k = values.len() as i64;
    let raw = randn(&[n, k], Kind::Double, Device::Cpu);
    let left = Tensor::linalg_qr(&(&raw - raw.mean_dim(0, true, Kind::Double)), "reduced").0;
    let right = Tensor::linalg_qr(&randn(&[d, k], Kind::Double, Device::Cpu), "reduced").0;
    ((left * Tensor::from_slice(values).unsqueeze(0)).matmul(&right.tr()) + offset)
        .to_kind(kind)
        .to_device(device)
}

fn main() {
    Checks::new()
        .check("pca_fit with k = 2 equals sklearn's PCA on a fixed data set", |ctx| {
            sklearn_fit_matches(ctx.device(), 2)
        })
        .check("pca_fit with k = 4 (every component) equals sklearn's PCA", |ctx| {
            sklearn_fit_matches(ctx.device(), 4)
        })
        .check(
            "pca_transform and pca_inverse_transform equal sklearn's on the data and on new points",
            |ctx| {
                let dev = ctx.device();
                let pca = sklearn_pca(dev);
                let tol = SKLEARN_TOLERANCE;
                let (sk_z, sk_back) =
                    (tensor(&SK_TRANSFORM_2, &[10, 2], dev), tensor(&SK_INVERSE_2, &[10, 4], dev));
                transforms_match(
                    &pca,
                    &tensor(&DATA, &[10, 4], dev),
                    "the data",
                    Some((&sk_z, Some(&sk_back))),
                    tol,
                )?;
                let sk_new = tensor(&SK_TRANSFORM_NEW_2, &[3, 2], dev);
                transforms_match(
                    &pca,
                    &tensor(&NEW_POINTS, &[3, 4], dev),
                    "new points",
                    Some((&sk_new, None)),
                    tol,
                )
            },
        )
        .check("pca_fit of 60 samples of 6 features of scales 5 to 0.2 around 10 (float32), k = 3", |ctx| {
            let x = scaled_data(60, &[5.0, 3.0, 2.0, 1.0, 0.5, 0.2], 10.0, Kind::Float, ctx.device());
            let (got, _) = fit_matches(&x, 3, "scaled data")?;
            let tol = FitTolerance::of(&x, 3).components;
            let scale =
                (&x - &got.mean).abs().sum_dim_intlist(1, false, Kind::Double).max().double_value(&[]);
            let tol = Tolerance::new(two_digits_up(tol.atol * scale + 1e-5 * scale), 0.0);
            transforms_match(&got, &x, "the same data", None, tol)
        })
        .check("the sign convention: the largest |loading| of each component is positive", |ctx| {
            let x = scaled_data(40, &[3.0, 2.0, 1.0, 0.5], 1.0, Kind::Double, ctx.device());
            let (got, _) = fit_matches(&x, 4, "scaled data")?;
            let largest = got.components.abs().argmax(1, true);
            let signs = got.components.gather(1, &largest, false);
            check_that!(
                signs.gt(0.0).all().int64_value(&[]) == 1,
                "a component's entry of largest absolute value is negative: {:?}; flip that component",
                Vec::<f64>::try_from(&signs.reshape([-1]).to_device(Device::Cpu)).unwrap()
            );
            // The axes of -x are those of x up to sign, and the same rows in another order give
            // the same PCA: with the convention, the numbers are the same.
            let negated = exercise::pca_fit(&(-&x), 4);
            assert_close(
                "the components of -x, compared with those of x,",
                &negated.components,
                &got.components,
                Tolerance::new(1e-10, 0.0),
            )?;
            let shuffled = exercise::pca_fit(&x.flip([0]), 4);
            assert_close(
                "the components of x's rows reversed, compared with those of x,",
                &shuffled.components,
                &got.components,
                Tolerance::new(1e-10, 0.0),
            )
        })
        .check("pca_fit of ill-conditioned float32 data (standard deviations 1000, 1, 0.01)", |ctx| {
            // 50 samples with singular values 1000 * 7, 7, 0.07 (sqrt(49) = 7: standard deviations
            // 1000, 1 and 0.01), compared with the float64 computation on the same float32 data.
            let x = with_singular_values(50, 4, &[7000.0, 7.0, 0.07], 1.0, Kind::Float, ctx.device());
            let (got, _) =
                fit_matches(&x, 3, "data with standard deviations 1000, 1, 0.01").map_err(|failure| {
                    Failure::new(format!(
                        "{}\n  the smallest variance (1e-4) is lost below the rounding of the largest \
                     (1e6): that happens when the axes come from x^T x, which squares the condition \
                     number; take the SVD of the centred data itself",
                        failure.message()
                    ))
                })?;
            let exact = solution::pca_fit(&x.to_kind(Kind::Double), 3);
            let tol = FitTolerance::of(&x, 3);
            within("for data with standard deviations 1000, 1, 0.01 of shape [50, 4] and k = 3", || {
                assert_close(
                    "explained_variance, compared with float64 on the same data,",
                    &got.explained_variance.to_kind(Kind::Double),
                    &exact.explained_variance,
                    tol.variance,
                )?;
                assert_close(
                    "components, compared with float64 on the same data,",
                    &got.components.to_kind(Kind::Double),
                    &exact.components,
                    tol.components,
                )
            })
        })
        .check("pca_fit with fewer samples than features [5, 8], a transposed x, k = 1", |ctx| {
            let dev = ctx.device();
            fit_matches(
                &scaled_data(5, &[4.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.3], 0.0, Kind::Double, dev),
                3,
                "wide data",
            )?;
            // [6, 7] data stored transposed: a non-contiguous view.
            let x = scaled_data(6, &[3.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05], 2.0, Kind::Double, dev)
                .tr()
                .contiguous()
                .tr();
            fit_matches(&x, 2, "a transposed view")?;
            fit_matches(&scaled_data(20, &[2.0, 1.0, 0.5], 0.5, Kind::Double, dev), 1, "scaled data")?;
            Ok(())
        })
        .run()
}
