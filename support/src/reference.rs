//! One call of the exercise against the reference, with the whole protocol of a comparison check
//! in one place: [`call`].
//!
//! ```text
//! let (a, b) = (randn(&[3, 4], Kind::Float, dev), randn(&[4, 5], Kind::Float, dev));
//! call("matmul(a, b)", &[("a", &a), ("b", &b)],
//!      |x| solution::matmul(&x[0], &x[1]),
//!      |x| exercise::matmul(&x[0], &x[1]))
//!     .builtin("a.matmul(b)", |x| x[0].matmul(&x[1]))
//!     .check()
//! ```
//!
//! does, in this order:
//!
//! 1. the reference, on copies of the inputs (an exercise that changes its inputs in place cannot
//!    change what it is compared with);
//! 2. the exercise, on the inputs themselves, inside [`within`] the inputs' description ("for a
//!    of shape [3, 4] and b of shape [4, 5]"), so that its failure or panic says for which input;
//! 3. the [`Call::diagnose`] hooks, a check's own explanations of typical mistakes;
//! 4. [`assert_unchanged`] on every input, by name; the number of outputs; with two or more
//!    outputs, whether two of them are swapped;
//! 5. every output against the reference's: [`assert_close`] with the tolerance of its kind
//!    ([`Tolerance::for_kind`]) unless [`Call::tolerance`] says otherwise, [`assert_equal`] for
//!    integer and boolean outputs;
//! 6. with [`Call::builtin`], every output against the built-in operation too, on the inputs as
//!    they are after the call.
//!
//! The closures get the inputs as a slice, in the order they were named: `x[0]` is `a`. Other
//! arguments (a learning rate, a device, an optional mask: `x.get(3)`) are captured.

use std::fmt::Display;

use tch::Tensor;

use crate::check::within;
use crate::compare::{
    Tolerance, assert_close, assert_close_scaled, assert_equal, assert_unchanged, is_float_like,
};
use crate::failure::{CheckResult, Failure};

/// What an exercise's function returns, as the tensors to compare: a `Tensor`, a pair or a triple
/// of them, or a `Vec<Tensor>`.
pub trait Outputs {
    /// The tensors, in order.
    fn tensors(&self) -> Vec<&Tensor>;
}

impl Outputs for Tensor {
    fn tensors(&self) -> Vec<&Tensor> {
        vec![self]
    }
}

impl Outputs for (Tensor, Tensor) {
    fn tensors(&self) -> Vec<&Tensor> {
        vec![&self.0, &self.1]
    }
}

impl Outputs for (Tensor, Tensor, Tensor) {
    fn tensors(&self) -> Vec<&Tensor> {
        vec![&self.0, &self.1, &self.2]
    }
}

impl Outputs for Vec<Tensor> {
    fn tensors(&self) -> Vec<&Tensor> {
        self.iter().collect()
    }
}

type Function<'a, O> = Box<dyn FnOnce(&[Tensor]) -> O + 'a>;
type Diagnosis<'a, O> = Box<dyn FnOnce(&O, &O) -> CheckResult + 'a>;

/// A call of the exercise against the reference, set up by [`call`] and run by [`Call::check`]
/// or [`Call::run`].
#[must_use = "a Call does nothing until .check() or .run()"]
pub struct Call<'a, O> {
    what: String,
    inputs: Vec<(String, &'a Tensor)>,
    reference: Function<'a, O>,
    exercise: Function<'a, O>,
    description: Option<String>,
    names: Vec<String>,
    tolerance: Option<Tolerance>,
    scale: Option<&'a Tensor>,
    builtin: Option<(String, Function<'a, O>)>,
    diagnoses: Vec<Diagnosis<'a, O>>,
}

/// Sets up a call of `exercise` against `reference` on `inputs`; see the [module](self)
/// documentation for what [`Call::check`] then does.
///
/// `what` names the result in messages (`"matmul(a, b)"`: "`matmul(a, b)` differs from the
/// reference"); each input has the name its messages use ("the exercise changed its input `a`").
pub fn call<'a, O: Outputs>(
    what: impl Into<String>,
    inputs: &[(&str, &'a Tensor)],
    reference: impl FnOnce(&[Tensor]) -> O + 'a,
    exercise: impl FnOnce(&[Tensor]) -> O + 'a,
) -> Call<'a, O> {
    Call {
        what: what.into(),
        inputs: inputs.iter().map(|&(name, t)| (name.to_string(), t)).collect(),
        reference: Box::new(reference),
        exercise: Box::new(exercise),
        description: None,
        names: Vec::new(),
        tolerance: None,
        scale: None,
        builtin: None,
        diagnoses: Vec::new(),
    }
}

impl<'a, O: Outputs> Call<'a, O> {
    /// Replaces the description that prefixes every failure, by default "for a of shape [3, 4]
    /// and b of shape [4, 5]" (nothing when there are no inputs).
    pub fn describe(mut self, description: impl Display) -> Self {
        self.description = Some(description.to_string());
        self
    }

    /// The names of the outputs when there are several (`&["x", "y"]`); by default `what.0`,
    /// `what.1` and so on. A single output is called `what`.
    pub fn outputs(mut self, names: &[&str]) -> Self {
        self.names = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// The tolerance of every comparison, instead of the one of each output's kind. Integer and
    /// boolean outputs are then compared with it too, in `f64`.
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    /// Scales the absolute part of the tolerance entry by entry: with `.scale(&s)`, an entry
    /// passes when `|got - expected| <= atol * s + rtol * |expected|`, `s` broadcast to the
    /// output's shape ([`assert_close_scaled`]). For results whose rounding error grows with the
    /// inputs an entry came from; set the tolerance with [`Call::tolerance`] too.
    pub fn scale(mut self, scale: &'a Tensor) -> Self {
        self.scale = Some(scale);
        self
    }

    /// Also compares every output with a built-in operation `f` (given the inputs as they are
    /// after the call), named `name` in the message: "`matmul(a, b), compared with a.matmul(b),`
    /// differs from the reference". A second reference that the course did not write.
    pub fn builtin(mut self, name: impl Into<String>, f: impl FnOnce(&[Tensor]) -> O + 'a) -> Self {
        self.builtin = Some((name.into(), Box::new(f)));
        self
    }

    /// A diagnosis, run right after the exercise returned and before anything else is checked,
    /// with the exercise's outputs and the reference's (and whatever it captures, the inputs
    /// included): it returns a failure that explains a typical mistake ("these are the squares
    /// of the distances", "the caller's x now requires grad"), and `Ok(())` when it sees none.
    /// Several run in the order given; the first failure wins. A diagnosis must not fail a
    /// right answer: compare shapes before values.
    pub fn diagnose(mut self, f: impl FnOnce(&O, &O) -> CheckResult + 'a) -> Self {
        self.diagnoses.push(Box::new(f));
        self
    }

    /// Runs the protocol and returns the exercise's outputs, for checks that go on with them.
    pub fn run(self) -> Result<O, Failure> {
        let Call {
            what,
            inputs,
            reference,
            exercise,
            description,
            names,
            tolerance,
            scale,
            builtin,
            diagnoses,
        } = self;
        let description = description.unwrap_or_else(|| describe_inputs(&inputs));
        let before: Vec<Tensor> = inputs.iter().map(|(_, t)| t.copy()).collect();
        let expected = reference(&inputs.iter().map(|(_, t)| t.copy()).collect::<Vec<_>>());
        let part = || {
            let got = exercise(&inputs.iter().map(|(_, t)| t.shallow_clone()).collect::<Vec<_>>());
            for diagnosis in diagnoses {
                diagnosis(&got, &expected)?;
            }
            for ((name, input), before) in inputs.iter().zip(&before) {
                assert_unchanged(name, input, before)?;
            }
            let (got_tensors, expected_tensors) = (got.tensors(), expected.tensors());
            if got_tensors.len() != expected_tensors.len() {
                return Err(Failure::new(format!(
                    "`{what}` returned {} tensors, but the reference returns {}",
                    got_tensors.len(),
                    expected_tensors.len()
                )));
            }
            let names: Vec<String> = (0..got_tensors.len())
                .map(|i| match (names.get(i), got_tensors.len()) {
                    (Some(name), _) => name.clone(),
                    (None, 1) => what.clone(),
                    (None, _) => format!("{what}.{i}"),
                })
                .collect();
            let compare = |name: &str, got: &Tensor, expected: &Tensor| match (tolerance, scale) {
                (Some(tol), Some(scale)) => assert_close_scaled(name, got, expected, tol, scale),
                (Some(tol), None) => assert_close(name, got, expected, tol),
                (None, _) => match expected.f_kind() {
                    Ok(kind) if is_float_like(kind) => {
                        assert_close(name, got, expected, Tolerance::for_kind(kind))
                    }
                    _ => assert_equal(name, got, expected),
                },
            };
            swapped_outputs(&what, &names, &got_tensors, &expected_tensors, &compare)?;
            for ((name, got), expected) in names.iter().zip(&got_tensors).zip(&expected_tensors) {
                compare(name, got, expected)?;
            }
            if let Some((builtin_name, builtin)) = builtin {
                let by_builtin = builtin(&inputs.iter().map(|(_, t)| t.shallow_clone()).collect::<Vec<_>>());
                for ((name, got), expected) in names.iter().zip(&got_tensors).zip(by_builtin.tensors()) {
                    compare(&format!("{name}, compared with {builtin_name},"), got, expected)?;
                }
            }
            Ok(got)
        };
        if description.is_empty() { within_nothing(part) } else { within(description, part) }
    }

    /// Runs the protocol; see the [module](self) documentation.
    pub fn check(self) -> CheckResult {
        self.run().map(drop)
    }
}

/// A `Tensor` or a `&Tensor` as the `&Tensor` an input is (for [`crate::call!`]).
#[doc(hidden)]
pub fn as_input<T: std::borrow::Borrow<Tensor>>(t: &T) -> &Tensor {
    t.borrow()
}

/// "for a of shape [3, 4] and b of shape [4, 5]"; empty without inputs.
fn describe_inputs(inputs: &[(String, &Tensor)]) -> String {
    let parts: Vec<String> =
        inputs.iter().map(|(name, t)| format!("{name} of shape {:?}", t.size())).collect();
    match parts.as_slice() {
        [] => String::new(),
        [one] => format!("for {one}"),
        [init @ .., last] => format!("for {} and {last}", init.join(", ")),
    }
}

/// [`within`] without a description: a panic still becomes a failure.
fn within_nothing<T>(part: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    crate::panics::catch_panics(part).unwrap_or_else(|panic| Err(Failure::new(panic)))
}

/// Fails when two outputs are each what the reference returns in the other's place.
fn swapped_outputs(
    what: &str,
    names: &[String],
    got: &[&Tensor],
    expected: &[&Tensor],
    compare: &impl Fn(&str, &Tensor, &Tensor) -> CheckResult,
) -> CheckResult {
    let close = |a: &Tensor, b: &Tensor| a.size() == b.size() && compare("", a, b).is_ok();
    for i in 0..got.len() {
        if close(got[i], expected[i]) {
            continue;
        }
        for j in (0..got.len()).filter(|&j| j != i) {
            if close(got[i], expected[j]) && close(got[j], expected[i]) {
                return Err(Failure::new(format!(
                    "`{what}` returns its results in the wrong order: what it returns as `{}` is \
                     the reference's `{}`, and the other way round",
                    names[i], names[j]
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;

    fn t(values: &[f32]) -> Tensor {
        Tensor::from_slice(values)
    }

    fn message<T>(result: Result<T, Failure>) -> String {
        match result {
            Ok(_) => panic!("the call should have failed"),
            Err(failure) => failure.to_string(),
        }
    }

    #[test]
    fn a_right_exercise_passes_and_its_outputs_are_returned() {
        let (a, b) = (t(&[1.0, 2.0]), t(&[3.0, 4.0]));
        let got = call("add(a, b)", &[("a", &a), ("b", &b)], |x| &x[0] + &x[1], |x| &x[1] + &x[0])
            .builtin("a + b", |x| &x[0] + &x[1])
            .run()
            .unwrap();
        assert!(got.equal(&t(&[4.0, 6.0])));
    }

    #[test]
    fn a_wrong_value_is_named_with_the_inputs() {
        let (a, b) = (t(&[1.0, 2.0]), t(&[3.0, 4.0, 5.0]));
        let result = call("f(a, b)", &[("a", &a), ("b", &b)], |x| x[0].copy(), |x| &x[0] * 2.0).check();
        assert!(message(result).starts_with(
            "for a of shape [2] and b of shape [3]: `f(a, b)` differs from the reference: 2 of 2"
        ),);
        let x = t(&[1.0]);
        let three = call("g(x)", &[("x", &x), ("y", &x), ("z", &x)], |x| x[0].copy(), |x| &x[0] + 1.0);
        assert!(message(three.check()).starts_with(
            "for x of shape [1], y of shape [1] and z of shape [1]: `g(x)` differs from the reference"
        ));
        let described = call("g(x)", &[("x", &x)], |x| x[0].copy(), |x| &x[0] + 1.0).describe("at x = 1");
        assert!(message(described.check()).starts_with("at x = 1: `g(x)` differs"));
    }

    #[test]
    fn the_reference_runs_first_on_copies_and_a_changed_input_is_named() {
        let x = t(&[1.0, 2.0]);
        let result = call(
            "f(x)",
            &[("x", &x)],
            |x| {
                // The reference sees the input before the exercise ran.
                assert!(x[0].equal(&t(&[1.0, 2.0])));
                &x[0] * 2.0
            },
            |x| {
                let mut y = x[0].shallow_clone();
                y *= 2.0;
                y
            },
        )
        .check();
        assert!(message(result).starts_with("for x of shape [2]: the exercise changed its input `x`"),);
    }

    #[test]
    fn a_panic_in_the_exercise_is_named_with_the_inputs() {
        let x = t(&[1.0]);
        let result = call("f(x)", &[("x", &x)], |x| x[0].copy(), |_| -> Tensor { todo!() }).check();
        assert!(message(result).starts_with("for x of shape [1]: not implemented yet"));
        let result = call("f()", &[], |_| Tensor::new(), |_| -> Tensor { todo!() }).check();
        assert!(message(result).starts_with("not implemented yet"));
    }

    #[test]
    fn the_builtin_is_compared_too() {
        let x = t(&[1.0, 2.0]);
        let result = call("f(x)", &[("x", &x)], |x| &x[0] * 2.0, |x| &x[0] * 2.0)
            .builtin("x * 3", |x| &x[0] * 3.0)
            .check();
        assert!(message(result).starts_with("for x of shape [2]: `f(x), compared with x * 3,` differs"));
    }

    #[test]
    fn outputs_are_counted_named_and_checked_for_order() {
        let x = t(&[1.0, 2.0]);
        let pair = |x: &[Tensor]| (&x[0] + 1.0, &x[0] * 3.0);
        let swapped = call("f(x)", &[("x", &x)], pair, |x| (&x[0] * 3.0, &x[0] + 1.0)).outputs(&["u", "v"]);
        assert_eq!(
            message(swapped.check()),
            "for x of shape [2]: `f(x)` returns its results in the wrong order: what it returns as \
             `u` is the reference's `v`, and the other way round"
        );
        let second_wrong = call("f(x)", &[("x", &x)], pair, |x| (&x[0] + 1.0, &x[0] * 4.0));
        assert!(message(second_wrong.check()).starts_with("for x of shape [2]: `f(x).1` differs"));
        let counted = call("f(x)", &[("x", &x)], |x| vec![x[0].copy()], |x| vec![x[0].copy(), x[0].copy()]);
        assert_eq!(
            message(counted.check()),
            "for x of shape [2]: `f(x)` returned 2 tensors, but the reference returns 1"
        );
    }

    #[test]
    fn diagnoses_run_first() {
        let x = t(&[1.0, 2.0]);
        let result = call("f(x)", &[("x", &x)], |x| x[0].copy(), |x| x[0].square())
            .diagnose(|got, expected| {
                if got.allclose(&expected.square(), 1e-5, 1e-8, false) {
                    return Err(Failure::new("these are squares"));
                }
                Ok(())
            })
            .check();
        assert_eq!(message(result), "for x of shape [2]: these are squares");
    }

    #[test]
    fn integers_are_compared_exactly_and_floats_with_their_kind() {
        let x = Tensor::from_slice(&[1i64 << 60]);
        let result = call("f(x)", &[("x", &x)], |x| x[0].copy(), |x| &x[0] + 1).check();
        assert!(message(result).contains("1 of 1 elements differs"));
        let y = Tensor::from_slice(&[1.0f64]);
        // 1e-8 is within float32's tolerance but not float64's.
        let result = call("f(y)", &[("y", &y)], |x| x[0].copy(), |x| &x[0] + 1e-6).check();
        assert!(message(result).contains("(atol 1e-7, rtol 1e-7)"));
        let loose = call("f(y)", &[("y", &y)], |x| x[0].copy(), |x| &x[0] + 1e-6)
            .tolerance(Tolerance::new(1e-5, 0.0))
            .check();
        assert_eq!(loose, Ok(()));
        let empty = Tensor::zeros([0, 3], (Kind::Float, Device::Cpu));
        assert_eq!(call("f(e)", &[("e", &empty)], |x| x[0].copy(), |x| x[0].copy()).check(), Ok(()));
    }
}
