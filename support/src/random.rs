//! Seeded random tensors, so that a check and the reference solution see the same inputs on every
//! run and on every device.
//!
//! Every function here draws from libtorch's global CPU generator, which the check harness
//! seeds before each check (see [`crate::check::SEED_BASE`]); [`seed`] reseeds it by hand, e.g. in
//! an exercise's `main`. The values are drawn on the CPU and then moved to the requested device,
//! so `randn(&[2, 3], Kind::Float, Device::Cuda(0))` holds the same numbers as on the CPU: a check
//! that passes with `--device cpu` sees the same inputs with `--device cuda`.
//!
//! A check that calls the learner's function and the reference on the same input builds the
//! input once: `let x = randn(&[4, 8], Kind::Float, ctx.device());` then compares
//! `exercise::f(&x)` with `solution::f(&x)`. Two draws in a row give different tensors; the same
//! sequence of draws after the same seed gives the same tensors.
//!
//! Every function takes its arguments in one order: the shape first, then the parameters of the
//! distribution (`low, high`, `high`, `magnitude`), then the kind (where there is a choice), then
//! the device: `uniform(&[4, 3], -1.0, 1.0, Kind::Float, dev)`, `randint(&[8], 10, dev)`.
//!
//! The returned tensors are leaves that do not require grad; call `.set_requires_grad(true)` on
//! them for a gradient check.

use tch::{Device, Kind, Tensor};

/// Seeds libtorch's global generators (CPU and, when present, CUDA) with `s`.
pub fn seed(s: i64) {
    tch::manual_seed(s);
}

/// The kind values are drawn in on the CPU: float64 keeps its precision, every other kind is
/// drawn in float32 and converted, so a float16 tensor holds the float32 draw rounded.
fn draw_kind(kind: Kind) -> Kind {
    if kind == Kind::Double { Kind::Double } else { Kind::Float }
}

/// Standard normal values (mean 0, standard deviation 1) of the given shape and kind, on `device`.
pub fn randn(shape: &[i64], kind: Kind, device: Device) -> Tensor {
    Tensor::randn(shape, (draw_kind(kind), Device::Cpu)).to_kind(kind).to_device(device)
}

/// Values drawn uniformly from `[low, high)` (libtorch's `uniform_`), of the given shape and kind,
/// on `device`.
#[track_caller]
pub fn uniform(shape: &[i64], low: f64, high: f64, kind: Kind, device: Device) -> Tensor {
    assert!(low < high, "uniform needs low < high, got low {low} and high {high}");
    let mut t = Tensor::empty(shape, (draw_kind(kind), Device::Cpu));
    let _ = t.uniform_(low, high);
    t.to_kind(kind).to_device(device)
}

/// Integers drawn uniformly from `0..high`, as an int64 tensor of the given shape on `device`:
/// indices for `gather`, class labels for a loss (`randint(&[8], 10, dev)`).
#[track_caller]
pub fn randint(shape: &[i64], high: i64, device: Device) -> Tensor {
    assert!(high > 0, "randint needs high > 0, got {high}");
    Tensor::randint(high, shape, (Kind::Int64, Device::Cpu)).to_device(device)
}

/// Values of the order of `magnitude`, with random signs: for the edge cases of numerically
/// stable code, e.g. `with_magnitude(&[8], 1e4, Kind::Float, dev)` for logits that overflow a
/// naive `exp`, or `1e-30` for values that underflow.
///
/// The absolute values are log-uniform within half a decade of `magnitude` (between
/// `magnitude / √10` and `magnitude * √10`), computed in float64 and then converted to `kind`,
/// where a magnitude beyond the kind's range becomes infinite or zero, as it would in real data.
/// Panics unless `magnitude` is positive and finite.
#[track_caller]
pub fn with_magnitude(shape: &[i64], magnitude: f64, kind: Kind, device: Device) -> Tensor {
    assert!(
        magnitude.is_finite() && magnitude > 0.0,
        "with_magnitude needs a positive, finite magnitude, got {magnitude}"
    );
    let options = (Kind::Double, Device::Cpu);
    // Exponent offsets in [-0.5, 0.5) decades around the magnitude.
    let decades = Tensor::rand(shape, options) - 0.5;
    let size = (decades * std::f64::consts::LN_10).exp() * magnitude;
    let signs = Tensor::randint(2, shape, options) * 2.0 - 1.0;
    (size * signs).to_kind(kind).to_device(device)
}

/// A random `[m, n]` matrix with exactly these singular values (the rest 0): random orthonormal
/// columns on both sides, built in float64 on the CPU, then converted. For checks of
/// decompositions, which need inputs of a known rank, condition number or repeated value.
pub fn with_singular_values(m: i64, n: i64, values: &[f64], kind: Kind, device: Device) -> Tensor {
    let k = values.len() as i64;
    let orthonormal =
        |rows: i64| Tensor::linalg_qr(&randn(&[rows, k], Kind::Double, Device::Cpu), "reduced").0;
    let (left, right) = (orthonormal(m), orthonormal(n));
    (left * Tensor::from_slice(values).unsqueeze(0)).matmul(&right.tr()).to_kind(kind).to_device(device)
}

/// A random `[m, n]` matrix of rank `r` (almost surely): the product of random `[m, r]` and
/// `[r, n]` factors, built in float64 on the CPU, then converted.
pub fn of_rank(m: i64, n: i64, r: i64, kind: Kind, device: Device) -> Tensor {
    randn(&[m, r], Kind::Double, Device::Cpu)
        .matmul(&randn(&[r, n], Kind::Double, Device::Cpu))
        .to_kind(kind)
        .to_device(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(Kind::Double).reshape([-1])).unwrap()
    }

    // The global generator is shared by every test thread, so a test that seeds it and then draws
    // twice could be interleaved with another test's draws. Reproducibility is therefore checked
    // with a private lock around the seeding and the draws.
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn the_same_seed_gives_the_same_tensors() {
        let _guard = GENERATOR.lock().unwrap();
        seed(7);
        let a = randn(&[3, 4], Kind::Float, Device::Cpu);
        let b = uniform(&[5], -2.0, 3.0, Kind::Double, Device::Cpu);
        let c = randint(&[6], 10, Device::Cpu);
        let d = with_magnitude(&[4], 1e4, Kind::Float, Device::Cpu);
        seed(7);
        assert!(randn(&[3, 4], Kind::Float, Device::Cpu).equal(&a));
        assert!(uniform(&[5], -2.0, 3.0, Kind::Double, Device::Cpu).equal(&b));
        assert!(randint(&[6], 10, Device::Cpu).equal(&c));
        assert!(with_magnitude(&[4], 1e4, Kind::Float, Device::Cpu).equal(&d));
        // And consecutive draws differ.
        assert!(!randn(&[3, 4], Kind::Float, Device::Cpu).equal(&a));
    }

    #[test]
    fn kinds_shapes_and_ranges_are_as_asked() {
        let _guard = GENERATOR.lock().unwrap();
        let x = randn(&[2, 3], Kind::Half, Device::Cpu);
        assert_eq!((x.size(), x.kind(), x.requires_grad()), (vec![2, 3], Kind::Half, false));
        let u = uniform(&[1000], -2.0, 3.0, Kind::Float, Device::Cpu);
        assert_eq!(u.kind(), Kind::Float);
        assert!(values(&u).iter().all(|&v| (-2.0..3.0).contains(&v)));
        let i = randint(&[1000], 5, Device::Cpu);
        assert_eq!(i.kind(), Kind::Int64);
        let ints = Vec::<i64>::try_from(&i).unwrap();
        assert!(ints.iter().all(|v| (0..5).contains(v)));
        // All five values turn up in a thousand draws.
        assert!((0..5).all(|v| ints.contains(&v)));
    }

    #[test]
    fn magnitudes_are_of_the_requested_order_with_both_signs() {
        let _guard = GENERATOR.lock().unwrap();
        for magnitude in [1e-30, 1.0, 1e4, 1e30] {
            let t = with_magnitude(&[1000], magnitude, Kind::Double, Device::Cpu);
            let v = values(&t);
            let bound = 10f64.sqrt();
            assert!(
                v.iter().all(|x| x.abs() >= magnitude / bound && x.abs() <= magnitude * bound),
                "{magnitude}"
            );
            assert!(v.iter().any(|&x| x > 0.0) && v.iter().any(|&x| x < 0.0));
        }
        // Beyond float32's range the values overflow, as the docs say.
        let huge = with_magnitude(&[10], 1e50, Kind::Float, Device::Cpu);
        assert!(values(&huge).iter().all(|x| x.is_infinite()));
    }

    #[test]
    #[should_panic(expected = "with_magnitude needs a positive, finite magnitude, got -1")]
    fn a_negative_magnitude_is_refused() {
        let _ = with_magnitude(&[2], -1.0, Kind::Float, Device::Cpu);
    }

    #[test]
    fn matrices_of_known_singular_values_and_rank() {
        let _guard = GENERATOR.lock().unwrap();
        let a = with_singular_values(5, 3, &[4.0, 2.0, 1e-3], Kind::Double, Device::Cpu);
        let (_, s, _) = a.svd(true, true);
        let got: Vec<f64> = Vec::try_from(&s).unwrap();
        for (g, e) in got.iter().zip([4.0, 2.0, 1e-3]) {
            assert!((g - e).abs() < 1e-12, "{got:?}");
        }
        let r = of_rank(6, 4, 2, Kind::Double, Device::Cpu);
        let (_, s, _) = r.svd(true, true);
        let s: Vec<f64> = Vec::try_from(&s).unwrap();
        assert!(s[1] > 1e-6 && s[2] < 1e-10, "{s:?}");
    }

    #[test]
    #[cfg_attr(
        not(tensorlings_gpu_tests),
        ignore = "needs a GPU: no NVIDIA driver here (TENSORLINGS_REQUIRE_GPU=1 runs it)"
    )]
    fn cuda_tensors_hold_the_cpu_values() {
        assert!(tch::Cuda::is_available(), "no CUDA device, on a machine that should have one");
        let _guard = GENERATOR.lock().unwrap();
        seed(3);
        let on_cpu = randn(&[64], Kind::Float, Device::Cpu);
        seed(3);
        let on_gpu = randn(&[64], Kind::Float, Device::Cuda(0));
        assert_eq!(on_gpu.device(), Device::Cuda(0));
        assert!(on_gpu.to_device(Device::Cpu).equal(&on_cpu));
    }
}
