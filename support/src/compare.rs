//! Comparing a learner's tensor with the reference, with failure messages that say where and how
//! they differ.
//!
//! [`assert_close`] is `torch.testing.assert_close` for checks: it compares, in this order, the
//! device, the kind (dtype), the layout (sparse or dense), the shape and then the values, and
//! stops at the first difference, because a wrong shape makes a value comparison meaningless.
//! Values are compared in `f64` on the CPU: `|got - expected| <= atol + rtol * |expected|`, NaN
//! only where the reference has NaN, and infinities only where the reference has the same one.
//! A failure reads like a good test failure:
//!
//! ```text
//! `output` differs from the reference: 3 of 6 elements are out of tolerance (atol 1e-5, rtol 1.3e-6)
//!   first differing index [0, 1]: got 1.5, expected 2.0
//!   max abs error 0.5 at [1, 2] (got 0.25, expected 0.75); max rel error 0.67
//! ```
//!
//! A typical check: `assert_close("softmax(x)", &exercise::softmax(&x), &solution::softmax(&x),
//! Tolerance::default())?;`. Integer and boolean results (indices, masks) are compared exactly
//! with [`assert_equal`]; gradients with [`assert_grad_close`], which also explains a missing one;
//! an input that the exercise must leave as it was with [`assert_unchanged`].
//! Complex tensors are compared by their real and imaginary parts: an index in a message then has
//! one more dimension, 0 for the real part and 1 for the imaginary part.

use std::fmt;

use tch::{Device, Kind, Tensor};

use crate::failure::{CheckResult, Failure};

/// How far apart two values may be: `|got - expected| <= atol + rtol * |expected|`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute tolerance: what matters near zero.
    pub atol: f64,
    /// Relative tolerance: what matters for large values.
    pub rtol: f64,
}

impl Tolerance {
    /// A tolerance with these absolute and relative parts.
    pub const fn new(atol: f64, rtol: f64) -> Self {
        Tolerance { atol, rtol }
    }

    /// No difference at all.
    pub const EXACT: Tolerance = Tolerance::new(0.0, 0.0);

    /// The default tolerance for values of this kind, the same as `torch.testing.assert_close`'s:
    /// float32 (and complex64) atol 1e-5 rtol 1.3e-6, float64 (and complex128) atol 1e-7
    /// rtol 1e-7, float16 atol 1e-5 rtol 1e-3, bfloat16 atol 1e-5 rtol 1.6e-2. The 8-bit float
    /// formats, which PyTorch gives no default, get atol 1e-3 and an rtol of one step of their
    /// mantissa (0.125 for e4m3, 0.25 for e5m2). Integer, boolean and quantized kinds are exact.
    pub fn for_kind(kind: Kind) -> Self {
        match kind {
            Kind::Float | Kind::ComplexFloat => Tolerance::new(1e-5, 1.3e-6),
            Kind::Double | Kind::ComplexDouble => Tolerance::new(1e-7, 1e-7),
            Kind::Half | Kind::ComplexHalf => Tolerance::new(1e-5, 1e-3),
            Kind::BFloat16 => Tolerance::new(1e-5, 1.6e-2),
            Kind::Float8e4m3fn | Kind::Float8e4m3fnuz => Tolerance::new(1e-3, 0.125),
            Kind::Float8e5m2 | Kind::Float8e5m2fnuz => Tolerance::new(1e-3, 0.25),
            Kind::Uint8
            | Kind::Int8
            | Kind::Int16
            | Kind::Int
            | Kind::Int64
            | Kind::Bool
            | Kind::QInt8
            | Kind::QUInt8
            | Kind::QInt32 => Tolerance::EXACT,
        }
    }

    /// Whether `got` is close enough to `expected`. NaN matches only NaN, an infinity only the
    /// same infinity.
    pub fn allows(&self, got: f64, expected: f64) -> bool {
        if got.is_nan() || expected.is_nan() {
            return got.is_nan() && expected.is_nan();
        }
        if got.is_infinite() || expected.is_infinite() {
            return got == expected;
        }
        (got - expected).abs() <= self.atol + self.rtol * expected.abs()
    }
}

impl Default for Tolerance {
    /// The float32 tolerance: atol 1e-5, rtol 1.3e-6.
    fn default() -> Self {
        Tolerance::for_kind(Kind::Float)
    }
}

impl fmt::Display for Tolerance {
    /// `atol 1e-5, rtol 1.3e-6`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "atol {:?}, rtol {:?}", self.atol, self.rtol)
    }
}

/// Checks that `got` matches `expected` (the reference) within `tol`.
///
/// `what` names the result in the message, e.g. `"softmax(x)"` gives "`softmax(x)` has shape
/// [3, 2] but the reference has [2, 3]". Device, kind, layout and shape must be equal; then
/// every value must be within `tol` (see the module documentation). Passing both tensors on
/// the GPU is fine: they are copied to the CPU only for the value comparison.
pub fn assert_close(what: &str, got: &Tensor, expected: &Tensor, tol: Tolerance) -> CheckResult {
    compare(&format!("`{what}`"), got, expected, Some(tol))
}

/// Checks that `got` equals `expected` exactly: for integer and boolean results (indices, masks,
/// counts), where a tolerance makes no sense. Device, kind, layout and shape must be equal too.
///
/// Floating-point tensors are accepted and compared exactly as well (NaN matching NaN).
pub fn assert_equal(what: &str, got: &Tensor, expected: &Tensor) -> CheckResult {
    compare(&format!("`{what}`"), got, expected, None)
}

/// Like [`assert_close`], with the absolute tolerance of each entry scaled by the entry of
/// `scale` at the same place (`scale` broadcasts to the shape of `expected`): an entry passes
/// when `|got - expected| <= tol.atol * scale + tol.rtol * |expected|`.
///
/// For results whose rounding error grows with the size of the inputs each entry was computed
/// from, not with the entry itself: the distance `|x_i - y_j|` computed as
/// `sqrt(|x_i|^2 + |y_j|^2 - 2 x_i . y_j)` is off by about `sqrt(d eps) (|x_i| + |y_j|)`. A
/// single atol taken from the largest inputs would let the entries of small inputs be badly
/// wrong next to the large ones; a scale per entry holds each to its own bound. Real tensors
/// only (a complex result has no scale per real and imaginary part).
pub fn assert_close_scaled(
    what: &str,
    got: &Tensor,
    expected: &Tensor,
    tol: Tolerance,
    scale: &Tensor,
) -> CheckResult {
    let scale = scale.f_detach()?.f_to_kind(Kind::Double)?.f_to_device(Device::Cpu)?;
    let scale = scale.f_expand(expected.size(), false)?.f_contiguous()?.f_reshape([-1])?;
    let scale = Vec::<f64>::try_from(&scale)?;
    compare_with(&format!("`{what}`"), got, expected, Some(tol), Some(&scale))
}

/// Checks that the exercise left one of its inputs as it was.
///
/// Make `copy_before` with `input.copy()` before calling anything, call the reference on a copy
/// of its own (`solution::f(&x.copy())`) and then the exercise on `input`, and check this before
/// comparing the results: an exercise that changes its input in place must not change what the
/// reference saw, and its learner should hear about the input, not about a result that differs.
///
/// ```text
/// let x_before = x.copy();
/// let expected = solution::center_columns(&x.copy());
/// let got = exercise::center_columns(&x);
/// assert_unchanged("x", &x, &x_before)?;
/// assert_close("center_columns(x)", &got, &expected, Tolerance::default())?;
/// ```
///
/// Device, kind, shape, whether it requires grad and every value (NaN matching NaN) must be as
/// they were. A failure reads (its first line wrapped here):
///
/// ```text
/// the exercise changed its input `x`: it must return a new tensor and leave `x` as it was
/// (an in-place operation such as `-=`, `g_mul_` or `fill_` on `x`, a shallow_clone or a
/// detach() of it changes the caller's tensor)
///   12 of 15 elements changed, the first at [0, 0] (now -0.25, before 1.5)
/// ```
pub fn assert_unchanged(name: &str, input: &Tensor, copy_before: &Tensor) -> CheckResult {
    match describe_change(input, copy_before)? {
        None => Ok(()),
        // Not an in-place operation: set_requires_grad on the caller's tensor (or a shallow
        // clone of it), which the message should name instead.
        Some(change) if change == REQUIRES_GRAD_NOW => Err(Failure::new(format!(
            "the exercise changed its input `{name}`: set_requires_grad on `{name}` (or on a \
             shallow_clone of it) changes the caller's tensor; make a leaf of your own with \
             `{name}.detach().set_requires_grad(true)`\n  {change}"
        ))),
        Some(change) => Err(Failure::new(format!(
            "the exercise changed its input `{name}`: it must return a new tensor and leave \
             `{name}` as it was (an in-place operation such as `-=`, `g_mul_` or `fill_` on \
             `{name}`, a shallow_clone or a detach() of it changes the caller's tensor)\n  {change}"
        ))),
    }
}

const REQUIRES_GRAD_NOW: &str = "it now requires grad";

/// What changed between `before` and `now` (the same tensor, before and after a call), or `None`.
fn describe_change(now: &Tensor, before: &Tensor) -> Result<Option<String>, Failure> {
    if !before.defined() {
        return Err(Failure::new(
            "the copy made before the call is an undefined tensor (a bug in the check)",
        ));
    }
    if !now.defined() {
        return Ok(Some("it is now an undefined tensor".to_string()));
    }
    if now.device() != before.device() {
        return Ok(Some(format!(
            "it was on {} and is now on {}",
            crate::device::name(before.device()),
            crate::device::name(now.device())
        )));
    }
    let (now_kind, before_kind) = (now.f_kind()?, before.f_kind()?);
    if now_kind != before_kind {
        return Ok(Some(format!("it was {} and is now {}", kind_name(before_kind), kind_name(now_kind))));
    }
    let (now_shape, before_shape) = (now.size(), before.size());
    if now_shape != before_shape {
        return Ok(Some(format!("it had shape {before_shape:?} and now has {now_shape:?}")));
    }
    if now.requires_grad() != before.requires_grad() {
        return Ok(Some(
            if now.requires_grad() { REQUIRES_GRAD_NOW } else { "it no longer requires grad" }.to_string(),
        ));
    }
    // Every value exactly, NaN matching NaN; integers without a detour through f64.
    let (changed, total, first, now_value, before_value) = if is_float_like(now_kind) {
        // Complex values are viewed as (real, imaginary) pairs: one more dimension in the index.
        let (now_values, shape) = float_values(now)?;
        let (before_values, _) = float_values(before)?;
        let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        let changed: Vec<usize> =
            (0..now_values.len()).filter(|&i| !same(now_values[i], before_values[i])).collect();
        let Some(&first) = changed.first() else { return Ok(None) };
        let fmt = |v: f64| format_value(v, now_kind);
        (
            changed.len(),
            now_values.len(),
            at(first, &shape),
            fmt(now_values[first]),
            fmt(before_values[first]),
        )
    } else {
        let (now_values, before_values) = (int_values(now)?, int_values(before)?);
        let changed: Vec<usize> =
            (0..now_values.len()).filter(|&i| now_values[i] != before_values[i]).collect();
        let Some(&first) = changed.first() else { return Ok(None) };
        let fmt = |v: i64| if now_kind == Kind::Bool { (v != 0).to_string() } else { v.to_string() };
        (
            changed.len(),
            now_values.len(),
            at(first, &now_shape),
            fmt(now_values[first]),
            fmt(before_values[first]),
        )
    };
    Ok(Some(format!(
        "{changed} of {} changed, the first at {first} (now {now_value}, before {before_value})",
        plural(total, "element", "elements")
    )))
}

/// Checks a gradient against the reference's, explaining a missing one.
///
/// Pass the `grad()` of the learner's tensor and of the reference's:
/// `assert_grad_close("x", &x.grad(), &x_ref.grad(), tol)`. tch's `grad()` of a tensor that has
/// no gradient is an undefined tensor, which is what "no gradient" means here (for an
/// `Option<Tensor>` from a backward, pass `&g.unwrap_or_else(Tensor::new)`). When the learner's
/// tensor has no gradient, the message asks "was it detached, or was requires_grad not set?";
/// when it has one that the reference lacks, it asks whether it should have been detached.
pub fn assert_grad_close(what: &str, got: &Tensor, expected: &Tensor, tol: Tolerance) -> CheckResult {
    match (got.defined(), expected.defined()) {
        (false, false) => Ok(()),
        (false, true) => Err(Failure::new(format!(
            "`{what}` has no gradient: was it detached, or was requires_grad not set?"
        ))),
        (true, false) => Err(Failure::new(format!(
            "`{what}` has a gradient but the reference has none: should it have been detached \
             from the graph?"
        ))),
        (true, true) => compare(&format!("the gradient of `{what}`"), got, expected, Some(tol)),
    }
}

/// The comparison behind the public functions. `subject` is how the message names `got`
/// ("`output`", "the gradient of `x`"); `tol` is `None` for an exact comparison.
fn compare(subject: &str, got: &Tensor, expected: &Tensor, tol: Option<Tolerance>) -> CheckResult {
    compare_with(subject, got, expected, tol, None)
}

/// [`compare`], with the absolute tolerance of each value scaled by `scale` (one per value).
fn compare_with(
    subject: &str,
    got: &Tensor,
    expected: &Tensor,
    tol: Option<Tolerance>,
    scale: Option<&[f64]>,
) -> CheckResult {
    if !expected.defined() {
        return Err(Failure::new(format!(
            "the reference for {subject} is an undefined tensor (a bug in the check)"
        )));
    }
    if !got.defined() {
        return Err(Failure::new(format!("{subject} is an undefined tensor")));
    }
    let (got_device, expected_device) = (got.device(), expected.device());
    if got_device != expected_device {
        return Err(Failure::new(format!(
            "{subject} is on {} but the reference is on {}: create it on the device you were \
             given, or move it with `.to_device(..)`",
            crate::device::name(got_device),
            crate::device::name(expected_device)
        )));
    }
    let (got_kind, expected_kind) = (got.f_kind()?, expected.f_kind()?);
    if got_kind != expected_kind {
        return Err(Failure::new(format!(
            "{subject} has kind {} but the reference has {}",
            kind_name(got_kind),
            kind_name(expected_kind)
        )));
    }
    let layout = |sparse: bool| if sparse { "sparse" } else { "dense" };
    if got.is_sparse() != expected.is_sparse() {
        return Err(Failure::new(format!(
            "{subject} is {} but the reference is {}",
            layout(got.is_sparse()),
            layout(expected.is_sparse())
        )));
    }
    let (got_shape, expected_shape) = (got.size(), expected.size());
    if got_shape != expected_shape {
        return Err(Failure::new(format!(
            "{subject} has shape {got_shape:?} but the reference has {expected_shape:?}"
        )));
    }
    let exact_integers = tol.is_none() && !is_float_like(got_kind);
    let differences = if exact_integers {
        let got_values = int_values(got)?;
        let expected_values = int_values(expected)?;
        describe_int_differences(&got_values, &expected_values, &got_shape, got_kind)
    } else {
        let (got_values, shape) = float_values(got)?;
        let (expected_values, _) = float_values(expected)?;
        let mode = match tol {
            Some(tol) => Mode::Within(tol),
            None => Mode::Exact,
        };
        let mode = match (mode, scale) {
            (Mode::Within(tol), Some(scale)) if scale.len() == got_values.len() => Mode::Scaled(tol, scale),
            (mode, _) => mode,
        };
        describe_float_differences(&got_values, &expected_values, &shape, got_kind, mode)
    };
    match differences {
        Some(details) => Err(Failure::new(format!("{subject} differs from the reference: {details}"))),
        None => Ok(()),
    }
}

/// Floating-point and complex kinds, whose values are compared in `f64`.
pub(crate) fn is_float_like(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Half
            | Kind::Float
            | Kind::Double
            | Kind::BFloat16
            | Kind::ComplexHalf
            | Kind::ComplexFloat
            | Kind::ComplexDouble
            | Kind::Float8e5m2
            | Kind::Float8e4m3fn
            | Kind::Float8e5m2fnuz
            | Kind::Float8e4m3fnuz
    )
}

/// A dense, real, CPU copy of `t`: sparse tensors are densified, complex ones viewed as pairs.
fn dense_real_cpu(t: &Tensor) -> Result<Tensor, Failure> {
    let mut t = t.f_detach()?;
    if t.is_sparse() {
        t = t.f_to_dense(None, false)?;
    }
    if t.is_complex() {
        t = t.f_resolve_conj()?.f_view_as_real()?;
    }
    Ok(t.f_to_device(Device::Cpu)?)
}

/// The values of `t` as `f64`, in row-major order, with the shape they are indexed by.
fn float_values(t: &Tensor) -> Result<(Vec<f64>, Vec<i64>), Failure> {
    let t = dense_real_cpu(t)?;
    let shape = t.size();
    let flat = t.f_to_kind(Kind::Double)?.f_reshape([-1])?.f_contiguous()?;
    Ok((Vec::<f64>::try_from(&flat)?, shape))
}

/// The values of an integer or boolean tensor as `i64`, exactly (no detour through `f64`).
fn int_values(t: &Tensor) -> Result<Vec<i64>, Failure> {
    let t = dense_real_cpu(t)?;
    let flat = t.f_to_kind(Kind::Int64)?.f_reshape([-1])?.f_contiguous()?;
    Ok(Vec::<i64>::try_from(&flat)?)
}

#[derive(Debug, Clone, Copy)]
enum Mode<'a> {
    Within(Tolerance),
    /// Within the tolerance with its atol multiplied by each value's scale.
    Scaled(Tolerance, &'a [f64]),
    Exact,
}

/// The multi-index of the `flat`-th element (row-major) of a tensor of shape `shape`.
pub(crate) fn unravel(mut flat: usize, shape: &[i64]) -> Vec<i64> {
    let mut index = vec![0; shape.len()];
    for (slot, &dim) in index.iter_mut().zip(shape).rev() {
        let dim = dim.max(1) as usize;
        *slot = (flat % dim) as i64;
        flat /= dim;
    }
    index
}

/// `[0, 1]`, or nothing for a scalar (the element needs no index).
fn at(flat: usize, shape: &[i64]) -> String {
    format!("{:?}", unravel(flat, shape))
}

/// A value as its kind would print it: float32 values with float32's shortest digits (`0.1`, not
/// `0.10000000149011612`), integers without a fraction, booleans as `true`/`false`.
fn format_value(value: f64, kind: Kind) -> String {
    match kind {
        Kind::Double | Kind::ComplexDouble => format!("{value:?}"),
        Kind::Bool => (value != 0.0).to_string(),
        kind if is_float_like(kind) => format!("{:?}", value as f32),
        _ => format!("{value:.0}"),
    }
}

/// A relative error to two decimals (`0.67`), or in scientific notation when tiny or huge.
fn format_ratio(ratio: f64) -> String {
    if (0.01..1000.0).contains(&ratio) {
        let text = format!("{ratio:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        // `1.0e-3` reads better as `1e-3`.
        format!("{ratio:.1e}").replace(".0e", "e")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Describes how two equally long value lists differ, or `None` when they match. Pure: this is
/// where the wording of a failed comparison is decided.
fn describe_float_differences(
    got: &[f64],
    expected: &[f64],
    shape: &[i64],
    kind: Kind,
    mode: Mode<'_>,
) -> Option<String> {
    let tol_at = |i: usize| match mode {
        Mode::Within(tol) => tol,
        Mode::Scaled(tol, scale) => Tolerance::new(tol.atol * scale[i], tol.rtol),
        Mode::Exact => Tolerance::EXACT,
    };
    let mut bad = 0usize;
    let mut first_bad = None;
    // Largest errors among pairs of finite values: where the result is merely inaccurate.
    let mut max_abs: Option<(f64, usize)> = None;
    let mut max_rel: Option<f64> = None;
    // Non-finite values where the other side disagrees: where the result overflowed or became NaN.
    let mut got_nonfinite = (0usize, None::<usize>);
    let mut expected_nonfinite = (0usize, None::<usize>);
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        if g.is_finite() && e.is_finite() {
            let err = (g - e).abs();
            if max_abs.is_none_or(|(m, _)| err > m) {
                max_abs = Some((err, i));
            }
            if e != 0.0 {
                let rel = err / e.abs();
                max_rel = Some(max_rel.map_or(rel, |m: f64| m.max(rel)));
            }
        }
        if tol_at(i).allows(g, e) {
            continue;
        }
        bad += 1;
        first_bad.get_or_insert(i);
        if !g.is_finite() && e.is_finite() {
            got_nonfinite.0 += 1;
            got_nonfinite.1.get_or_insert(i);
        } else if !e.is_finite() {
            expected_nonfinite.0 += 1;
            expected_nonfinite.1.get_or_insert(i);
        }
    }
    let first = first_bad?;
    let fmt = |v: f64| format_value(v, kind);
    let total = got.len();
    let mut text = match mode {
        Mode::Within(tol) => format!(
            "{} of {total} {} out of tolerance ({tol})",
            bad,
            if bad == 1 { "elements is" } else { "elements are" }
        ),
        Mode::Scaled(tol, _) => format!(
            "{} of {total} {} out of tolerance (atol {:?} times each entry's scale, rtol {:?})",
            bad,
            if bad == 1 { "elements is" } else { "elements are" },
            tol.atol,
            tol.rtol
        ),
        Mode::Exact => {
            format!("{} of {total} {}", bad, if bad == 1 { "elements differs" } else { "elements differ" })
        }
    };
    text.push_str(&format!(
        "\n  first differing index {}: got {}, expected {}",
        at(first, shape),
        fmt(got[first]),
        fmt(expected[first])
    ));
    if let Mode::Scaled(..) = mode {
        let allowed = tol_at(first);
        text.push_str(&format!(
            " (allowed error {:.2e})",
            allowed.atol + allowed.rtol * expected[first].abs()
        ));
    }
    if let Some((err, i)) = max_abs
        && err > 0.0
        && kind != Kind::Bool
    {
        text.push_str(&format!(
            "\n  max abs error {} at {} (got {}, expected {})",
            fmt(err),
            at(i, shape),
            fmt(got[i]),
            fmt(expected[i])
        ));
        // Relative errors are taken where the reference is not 0. When every error is where the
        // reference is 0, the largest relative error is 0, which says nothing: it is left out.
        if let Some(rel) = max_rel
            && rel > 0.0
        {
            text.push_str(&format!("; max rel error {}", format_ratio(rel)));
        }
    }
    if let (n, Some(i)) = got_nonfinite {
        text.push_str(&format!(
            "\n  {} where the reference is finite, the first at {} (got {}, expected {})",
            plural(n, "value is NaN or infinite", "values are NaN or infinite"),
            at(i, shape),
            fmt(got[i]),
            fmt(expected[i])
        ));
    }
    if let (n, Some(i)) = expected_nonfinite {
        text.push_str(&format!(
            "\n  the reference has {} not matched, the first at {} (got {}, expected {})",
            plural(n, "NaN or infinite value", "NaN or infinite values"),
            at(i, shape),
            fmt(got[i]),
            fmt(expected[i])
        ));
    }
    Some(text)
}

/// Like [`describe_float_differences`], for an exact comparison of integers or booleans.
fn describe_int_differences(got: &[i64], expected: &[i64], shape: &[i64], kind: Kind) -> Option<String> {
    let mut differing = got.iter().zip(expected).enumerate().filter(|(_, (g, e))| g != e);
    let (first, _) = differing.next()?;
    let bad = 1 + differing.count();
    let fmt = |v: i64| if kind == Kind::Bool { (v != 0).to_string() } else { v.to_string() };
    Some(format!(
        "{} of {} {}\n  first differing index {}: got {}, expected {}",
        bad,
        got.len(),
        if bad == 1 { "elements differs" } else { "elements differ" },
        at(first, shape),
        fmt(got[first]),
        fmt(expected[first])
    ))
}

/// `Float (float32)`: the name in tch and the name a PyTorch user knows.
pub fn kind_name(kind: Kind) -> String {
    let torch = match kind {
        Kind::Uint8 => "uint8",
        Kind::Int8 => "int8",
        Kind::Int16 => "int16",
        Kind::Int => "int32",
        Kind::Int64 => "int64",
        Kind::Half => "float16",
        Kind::Float => "float32",
        Kind::Double => "float64",
        Kind::ComplexHalf => "complex32",
        Kind::ComplexFloat => "complex64",
        Kind::ComplexDouble => "complex128",
        Kind::Bool => "bool",
        Kind::QInt8 => "qint8",
        Kind::QUInt8 => "quint8",
        Kind::QInt32 => "qint32",
        Kind::BFloat16 => "bfloat16",
        Kind::Float8e5m2 => "float8_e5m2",
        Kind::Float8e4m3fn => "float8_e4m3fn",
        Kind::Float8e5m2fnuz => "float8_e5m2fnuz",
        Kind::Float8e4m3fnuz => "float8_e4m3fnuz",
    };
    format!("{kind:?} ({torch})")
}

/// A result the caller can keep: a defined tensor that does not require grad (a graph held by
/// a returned value keeps every intermediate alive, and the next backward through it fails).
pub fn assert_plain(what: &str, got: &Tensor) -> CheckResult {
    if !got.defined() {
        return Err(Failure::new(format!("`{what}` is an undefined tensor")));
    }
    if got.requires_grad() {
        return Err(Failure::new(format!("`{what}` requires grad: return it detached (`.detach()`)")));
    }
    Ok(())
}

/// The machine epsilon of a floating-point kind (the gap between 1 and the next number), for
/// tolerances derived from rounding: float64 2.2e-16, float32 1.2e-7, float16 9.8e-4, bfloat16
/// 7.8e-3; other kinds are exact (0).
pub fn epsilon(kind: Kind) -> f64 {
    match kind {
        Kind::Double | Kind::ComplexDouble => f64::EPSILON,
        Kind::Float | Kind::ComplexFloat => f64::from(f32::EPSILON),
        Kind::Half | Kind::ComplexHalf => 2f64.powi(-10),
        Kind::BFloat16 => 2f64.powi(-7),
        _ => 0.0,
    }
}

/// `x` (> 0) rounded up to two significant digits, so that a message shows `atol 0.0088`, not
/// `atol 0.008759844568178726`: the tolerance shown is the one used, and never tighter than the
/// one derived. Divides by an exact power of ten, so the result prints short.
pub fn two_digits_up(x: f64) -> f64 {
    let digits = 1 - x.log10().floor() as i32;
    if digits > 0 {
        let scale = 10f64.powi(digits);
        (x * scale).ceil() / scale
    } else {
        let scale = 10f64.powi(-digits);
        (x / scale).ceil() * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilons_and_rounding_up_for_messages() {
        assert_eq!(epsilon(Kind::Double), f64::EPSILON);
        assert_eq!(epsilon(Kind::Float), f64::from(f32::EPSILON));
        assert_eq!(epsilon(Kind::Int64), 0.0);
        assert_eq!(two_digits_up(0.008759844568178726), 0.0088);
        assert_eq!(two_digits_up(6.12e-6), 6.2e-6);
        assert_eq!(two_digits_up(1234.0), 1300.0);
        assert_eq!(two_digits_up(0.5), 0.5);
    }

    fn cpu(values: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(values).reshape(shape)
    }

    fn message(result: CheckResult) -> String {
        result.expect_err("the comparison should have failed").to_string()
    }

    #[test]
    fn tolerances_follow_torch_testing() {
        assert_eq!(Tolerance::default(), Tolerance::new(1e-5, 1.3e-6));
        assert_eq!(Tolerance::for_kind(Kind::Double), Tolerance::new(1e-7, 1e-7));
        assert_eq!(Tolerance::for_kind(Kind::Half), Tolerance::new(1e-5, 1e-3));
        assert_eq!(Tolerance::for_kind(Kind::BFloat16), Tolerance::new(1e-5, 1.6e-2));
        assert_eq!(Tolerance::for_kind(Kind::Int64), Tolerance::EXACT);
        assert_eq!(Tolerance::default().to_string(), "atol 1e-5, rtol 1.3e-6");
    }

    #[test]
    fn allows_nan_only_against_nan_and_infinity_only_against_itself() {
        let tol = Tolerance::new(1.0, 1.0);
        assert!(tol.allows(f64::NAN, f64::NAN));
        assert!(!tol.allows(f64::NAN, 0.0));
        assert!(!tol.allows(0.0, f64::NAN));
        assert!(tol.allows(f64::INFINITY, f64::INFINITY));
        assert!(!tol.allows(f64::INFINITY, f64::NEG_INFINITY));
        assert!(!tol.allows(1e300, f64::INFINITY));
        assert!(tol.allows(2.9, 1.0));
        assert!(!tol.allows(3.1, 1.0));
    }

    #[test]
    fn equal_tensors_pass() {
        let x = cpu(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        assert_eq!(assert_close("output", &x, &x.copy(), Tolerance::default()), Ok(()));
        let nudged = &x + 1e-6;
        assert_eq!(assert_close("output", &nudged, &x, Tolerance::default()), Ok(()));
        let empty = Tensor::zeros([0, 3], (Kind::Float, Device::Cpu));
        assert_eq!(assert_close("output", &empty, &empty.copy(), Tolerance::default()), Ok(()));
    }

    #[test]
    fn value_differences_are_described() {
        let expected = cpu(&[1.0, 2.0, 3.0, 4.0, 5.0, 0.75], &[2, 3]);
        let got = cpu(&[1.0, 1.5, 3.0, 4.0, 5.5, 0.25], &[2, 3]);
        assert_eq!(
            message(assert_close("output", &got, &expected, Tolerance::default())),
            "`output` differs from the reference: 3 of 6 elements are out of tolerance \
             (atol 1e-5, rtol 1.3e-6)\n  \
             first differing index [0, 1]: got 1.5, expected 2.0\n  \
             max abs error 0.5 at [0, 1] (got 1.5, expected 2.0); max rel error 0.67"
        );
    }

    #[test]
    fn float32_values_print_with_float32_digits() {
        let expected = cpu(&[0.1], &[1]);
        let got = cpu(&[0.2], &[1]);
        assert_eq!(
            message(assert_close("y", &got, &expected, Tolerance::default())),
            "`y` differs from the reference: 1 of 1 elements is out of tolerance \
             (atol 1e-5, rtol 1.3e-6)\n  \
             first differing index [0]: got 0.2, expected 0.1\n  \
             max abs error 0.1 at [0] (got 0.2, expected 0.1); max rel error 1"
        );
    }

    #[test]
    fn nan_and_infinity_must_match() {
        let expected = cpu(&[1.0, f32::NAN, f32::INFINITY, 2.0], &[4]);
        assert_eq!(assert_close("y", &expected.copy(), &expected, Tolerance::default()), Ok(()));
        let got = cpu(&[f32::NAN, f32::NAN, f32::INFINITY, f32::INFINITY], &[4]);
        assert_eq!(
            message(assert_close("y", &got, &expected, Tolerance::default())),
            "`y` differs from the reference: 2 of 4 elements are out of tolerance \
             (atol 1e-5, rtol 1.3e-6)\n  \
             first differing index [0]: got NaN, expected 1.0\n  \
             2 values are NaN or infinite where the reference is finite, the first at [0] \
             (got NaN, expected 1.0)"
        );
        let got = cpu(&[1.0, 0.0, f32::NEG_INFINITY, 2.0], &[4]);
        assert_eq!(
            message(assert_close("y", &got, &expected, Tolerance::default())),
            "`y` differs from the reference: 2 of 4 elements are out of tolerance \
             (atol 1e-5, rtol 1.3e-6)\n  \
             first differing index [1]: got 0.0, expected NaN\n  \
             the reference has 2 NaN or infinite values not matched, the first at [1] \
             (got 0.0, expected NaN)"
        );
    }

    #[test]
    fn shape_kind_and_device_come_before_values() {
        let expected = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        let transposed = Tensor::ones([3, 2], (Kind::Double, Device::Cpu));
        // The kind is checked before the shape.
        assert_eq!(
            message(assert_close("output", &transposed, &expected, Tolerance::default())),
            "`output` has kind Double (float64) but the reference has Float (float32)"
        );
        let transposed = transposed.to_kind(Kind::Float);
        assert_eq!(
            message(assert_close("output", &transposed, &expected, Tolerance::default())),
            "`output` has shape [3, 2] but the reference has [2, 3]"
        );
        let sparse = expected.to_sparse_sparse_dim(2);
        assert_eq!(
            message(assert_close("output", &sparse, &expected, Tolerance::default())),
            "`output` is sparse but the reference is dense"
        );
        let undefined = Tensor::new();
        assert_eq!(
            message(assert_close("output", &undefined, &expected, Tolerance::default())),
            "`output` is an undefined tensor"
        );
    }

    #[test]
    fn sparse_tensors_compare_by_value() {
        let dense = cpu(&[0.0, 1.0, 0.0, 2.0], &[2, 2]);
        let wrong = cpu(&[0.0, 1.0, 3.0, 2.0], &[2, 2]);
        assert_eq!(
            assert_close(
                "s",
                &dense.to_sparse_sparse_dim(2),
                &dense.to_sparse_sparse_dim(2),
                Tolerance::default()
            ),
            Ok(())
        );
        assert!(
            message(assert_close(
                "s",
                &wrong.to_sparse_sparse_dim(2),
                &dense.to_sparse_sparse_dim(2),
                Tolerance::default()
            ))
            .contains("first differing index [1, 0]: got 3.0, expected 0.0")
        );
    }

    #[test]
    fn complex_tensors_compare_real_and_imaginary_parts() {
        let expected = cpu(&[1.0, 2.0, 3.0, 4.0], &[2, 2]).view_as_complex();
        let got = cpu(&[1.0, 2.0, 3.0, 5.0], &[2, 2]).view_as_complex();
        assert_eq!(assert_close("z", &expected.copy(), &expected, Tolerance::default()), Ok(()));
        assert!(
            message(assert_close("z", &got, &expected, Tolerance::default()))
                .contains("first differing index [1, 1]: got 5.0, expected 4.0")
        );
    }

    #[test]
    fn integer_tensors_compare_exactly() {
        let expected = Tensor::from_slice(&[1i64, 2, 3, 4, 5, 6]).reshape([2, 3]);
        assert_eq!(assert_equal("indices", &expected.copy(), &expected), Ok(()));
        let got = Tensor::from_slice(&[1i64, 3, 3, 4, 5, 7]).reshape([2, 3]);
        assert_eq!(
            message(assert_equal("indices", &got, &expected)),
            "`indices` differs from the reference: 2 of 6 elements differ\n  \
             first differing index [0, 1]: got 3, expected 2"
        );
        // Beyond 2^53, where a detour through f64 would lose the difference.
        let big = Tensor::from_slice(&[(1i64 << 60) + 1]);
        let other = Tensor::from_slice(&[1i64 << 60]);
        assert!(assert_equal("n", &big, &other).is_err());
        let mask = Tensor::from_slice(&[true, false]);
        let flipped = Tensor::from_slice(&[true, true]);
        assert_eq!(
            message(assert_equal("mask", &flipped, &mask)),
            "`mask` differs from the reference: 1 of 2 elements differs\n  \
             first differing index [1]: got true, expected false"
        );
        let as_int = mask.to_kind(Kind::Int64);
        assert_eq!(
            message(assert_equal("mask", &as_int, &mask)),
            "`mask` has kind Int64 (int64) but the reference has Bool (bool)"
        );
    }

    #[test]
    fn assert_equal_on_floats_is_exact() {
        let expected = cpu(&[1.0, f32::NAN], &[2]);
        assert_eq!(assert_equal("y", &expected.copy(), &expected), Ok(()));
        let got = cpu(&[1.0 + 1e-7, f32::NAN], &[2]);
        assert_eq!(
            message(assert_equal("y", &got, &expected)),
            "`y` differs from the reference: 1 of 2 elements differs\n  \
             first differing index [0]: got 1.0000001, expected 1.0\n  \
             max abs error 1.1920929e-7 at [0] (got 1.0000001, expected 1.0); max rel error 1.2e-7"
        );
    }

    #[test]
    fn no_relative_error_when_every_difference_expects_zero() {
        // The relative error of an element that should be 0 is undefined: not "max rel error 0e0".
        let expected = cpu(&[0.0, 1.0, 2.0], &[3]);
        let got = cpu(&[0.5, 1.0, 2.0], &[3]);
        assert_eq!(
            message(assert_close("y", &got, &expected, Tolerance::default())),
            "`y` differs from the reference: 1 of 3 elements is out of tolerance \
             (atol 1e-5, rtol 1.3e-6)\n  \
             first differing index [0]: got 0.5, expected 0.0\n  \
             max abs error 0.5 at [0] (got 0.5, expected 0.0)"
        );
        // Where some element that is off expects a value other than 0, its relative error counts.
        let got = cpu(&[0.5, 1.5, 2.0], &[3]);
        assert!(
            message(assert_close("y", &got, &expected, Tolerance::default()))
                .ends_with("max abs error 0.5 at [0] (got 0.5, expected 0.0); max rel error 0.5"),
        );
    }

    const CHANGED_X: &str = "the exercise changed its input `x`: it must return a new tensor and \
                             leave `x` as it was (an in-place operation such as `-=`, `g_mul_` or \
                             `fill_` on `x`, a shallow_clone or a detach() of it changes the \
                             caller's tensor)";

    #[test]
    fn a_scaled_tolerance_holds_each_entry_to_its_own_bound() {
        let expected = cpu(&[0.0, 100.0], &[2]);
        let scale = cpu(&[0.01, 100.0], &[2]);
        let tol = Tolerance::new(1e-3, 0.0);
        // 0.05 off next to a large entry: within a single atol of 0.1, not within 1e-5.
        let got = cpu(&[0.05, 100.0], &[2]);
        assert_eq!(assert_close("d", &got, &expected, Tolerance::new(0.1, 0.0)), Ok(()));
        assert_eq!(
            message(assert_close_scaled("d", &got, &expected, tol, &scale)),
            "`d` differs from the reference: 1 of 2 elements is out of tolerance (atol 0.001 \
             times each entry's scale, rtol 0.0)\n  \
             first differing index [0]: got 0.05, expected 0.0 (allowed error 1.00e-5)\n  \
             max abs error 0.05 at [0] (got 0.05, expected 0.0)"
        );
        // A scale that broadcasts: one per row.
        let matrix = cpu(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let rows = cpu(&[1.0, 1000.0], &[2, 1]);
        let nudged = &matrix + cpu(&[0.0, 0.0, 0.5, 0.5], &[2, 2]);
        assert_eq!(assert_close_scaled("m", &nudged, &matrix, tol, &rows), Ok(()));
        assert!(assert_close_scaled("m", &nudged, &matrix, tol, &rows.flip([0])).is_err());
    }

    #[test]
    fn unchanged_inputs_pass() {
        let x = cpu(&[1.0, f32::NAN, -0.0, f32::INFINITY], &[2, 2]);
        assert_eq!(assert_unchanged("x", &x, &x.copy()), Ok(()));
        let empty = Tensor::zeros([0, 3], (Kind::Int64, Device::Cpu));
        assert_eq!(assert_unchanged("x", &empty, &empty.copy()), Ok(()));
        // Returning a new tensor leaves the input alone, even when the result is an alias of it.
        let before = x.copy();
        let _alias = x.shallow_clone();
        assert_eq!(assert_unchanged("x", &x, &before), Ok(()));
    }

    #[test]
    fn an_input_changed_in_place_is_named() {
        let x = cpu(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let before = x.copy();
        // What `let mut y = x.shallow_clone(); y -= ...` does to the caller's x.
        let mut y = x.shallow_clone();
        y -= cpu(&[0.0, 0.5, 0.0, 0.0, 0.0, 1.0], &[2, 3]);
        assert_eq!(
            message(assert_unchanged("x", &x, &before)),
            format!("{CHANGED_X}\n  2 of 6 elements changed, the first at [0, 1] (now 1.5, before 2.0)")
        );
        // Integers exactly, beyond what f64 holds exactly; booleans as booleans.
        let n = Tensor::from_slice(&[(1i64 << 60) + 1]);
        let n_before = n.copy();
        let _ = n.shallow_clone().g_add_scalar_(1);
        assert_eq!(
            message(assert_unchanged("n", &n, &n_before)),
            format!(
                "{}\n  1 of 1 element changed, the first at [0] (now {}, before {})",
                CHANGED_X.replace("`x`", "`n`"),
                (1i64 << 60) + 2,
                (1i64 << 60) + 1
            )
        );
        let mask = Tensor::from_slice(&[true, false]);
        let mask_before = mask.copy();
        let _ = mask.shallow_clone().fill_(1);
        assert!(
            message(assert_unchanged("mask", &mask, &mask_before))
                .ends_with("1 of 2 elements changed, the first at [1] (now true, before false)")
        );
    }

    #[test]
    fn a_changed_kind_shape_or_requires_grad_is_named() {
        let before = cpu(&[1.0, 2.0, 3.0], &[3]);
        // `set_data` replaces a tensor's data, kind and shape included, in place.
        let mut x = before.copy();
        x.set_data(&before.to_kind(Kind::Double));
        assert_eq!(
            message(assert_unchanged("x", &x, &before)),
            format!("{CHANGED_X}\n  it was Float (float32) and is now Double (float64)")
        );
        let x = before.copy();
        let _ = x.shallow_clone().unsqueeze_(0);
        assert_eq!(
            message(assert_unchanged("x", &x, &before)),
            format!("{CHANGED_X}\n  it had shape [3] and now has [1, 3]")
        );
        let x = before.copy();
        let _ = x.set_requires_grad(true);
        assert_eq!(
            message(assert_unchanged("x", &x, &before)),
            "the exercise changed its input `x`: set_requires_grad on `x` (or on a shallow_clone \
             of it) changes the caller's tensor; make a leaf of your own with \
             `x.detach().set_requires_grad(true)`\n  it now requires grad"
        );
        assert!(message(assert_unchanged("x", &before, &Tensor::new())).contains("(a bug in the check)"));
    }

    #[test]
    fn missing_gradients_are_explained() {
        let g = cpu(&[1.0, 2.0], &[2]);
        let none = Tensor::new();
        assert_eq!(
            message(assert_grad_close("x", &none, &g, Tolerance::default())),
            "`x` has no gradient: was it detached, or was requires_grad not set?"
        );
        // tch's `grad()` of a tensor without a gradient is an undefined tensor: the same thing.
        let leaf = Tensor::zeros([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        assert_eq!(
            message(assert_grad_close("x", &leaf.grad(), &g, Tolerance::default())),
            "`x` has no gradient: was it detached, or was requires_grad not set?"
        );
        assert_eq!(
            message(assert_grad_close("x", &g, &none, Tolerance::default())),
            "`x` has a gradient but the reference has none: should it have been detached from \
             the graph?"
        );
        assert_eq!(assert_grad_close("x", &none, &Tensor::new(), Tolerance::default()), Ok(()));
        let wrong = cpu(&[1.0, 3.0], &[2]);
        assert!(
            message(assert_grad_close("x", &wrong, &g, Tolerance::default()))
                .starts_with("the gradient of `x` differs from the reference: 1 of 2 elements is")
        );
    }

    #[test]
    fn computed_gradients_are_compared() {
        let x = cpu(&[1.0, 2.0], &[2]).set_requires_grad(true);
        (&x * &x).sum(Kind::Float).backward();
        let expected = cpu(&[2.0, 4.0], &[2]);
        assert_eq!(assert_grad_close("x", &x.grad(), &expected, Tolerance::default()), Ok(()));
    }

    #[test]
    fn indices_unravel_row_major() {
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(0, &[2, 3]), vec![0, 0]);
        assert_eq!(unravel(7, &[2, 2, 2]), vec![1, 1, 1]);
        assert_eq!(unravel(0, &[]), Vec::<i64>::new());
    }

    #[test]
    fn ratios_read_well() {
        assert_eq!(format_ratio(0.6666), "0.67");
        assert_eq!(format_ratio(1.0), "1");
        assert_eq!(format_ratio(0.5), "0.5");
        assert_eq!(format_ratio(1.5e-7), "1.5e-7");
        assert_eq!(format_ratio(0.001), "1e-3");
        assert_eq!(format_ratio(f64::INFINITY), "inf");
    }
}
