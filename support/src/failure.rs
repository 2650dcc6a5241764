//! The error type every helper of the support library returns: [`Failure`], a message for the
//! learner (or a skip), and [`check_that!`](crate::check_that), which fails the enclosing check when a condition is
//! false. This is the bottom of the library: every other module builds on it.

use std::fmt;

use tch::TchError;

use crate::panics::{describe_torch_error, is_torch_error};

/// What a check returns: `Ok(())` when it passed, otherwise the [`Failure`] (or skip) to report.
pub type CheckResult = Result<(), Failure>;

/// Why a check did not pass: a message for the learner, and whether the check was skipped rather
/// than failed.
///
/// Build one with [`Failure::new`] or [`Failure::skip`], or let `?` convert a `tch::TchError`
/// from a fallible `f_*` tensor operation. [`Failure::context`] prefixes where it happened; a
/// check says for which input something went wrong with [`crate::within`] (or
/// [`crate::reference::call`], which does it), which also names the input of a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub(crate) message: String,
    skip: bool,
}

impl Failure {
    /// A failed check with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Failure { message: message.into(), skip: false }
    }

    /// A skipped check: the check does not apply here (e.g. it needs a GPU), which is neither a
    /// pass nor a failure. `reason` is shown to the learner.
    pub fn skip(reason: impl Into<String>) -> Self {
        Failure { message: reason.into(), skip: true }
    }

    /// Prepends where the failure happened: `"{prefix}: {message}"`.
    ///
    /// For example, `failure.context("for input shape [2, 3]")` turns "`y` has shape \[3\] but
    /// the reference has \[2\]" into "for input shape \[2, 3\]: `y` has shape \[3\] but the
    /// reference has \[2\]". Whether it is a skip is kept.
    pub fn context(self, prefix: impl fmt::Display) -> Self {
        Failure { message: format!("{prefix}: {}", self.message), skip: self.skip }
    }

    /// Fails the check from inside a closure that cannot return a `Result` (an exercise call
    /// given to [`crate::reference::call`], a custom function's forward): unwinds to the
    /// enclosing [`crate::within`] or check, which fails with exactly this message (not as a
    /// panic, and without a place). See also [`OrFail::or_fail`].
    pub fn raise(self) -> ! {
        std::panic::resume_unwind(Box::new(self))
    }

    /// The message shown to the learner.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether this is a skip ([`Failure::skip`]) rather than a failure.
    pub fn is_skip(&self) -> bool {
        self.skip
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// `result.or_fail()`: the value, or [`Failure::raise`] with the error turned into a
/// [`Failure`]. For a fallible step inside a closure that must return a plain value:
/// `|x| exercise::Relu::apply(&[&x[0]]).or_fail().remove(0)`.
pub trait OrFail<T> {
    /// The value, or the error raised as a failure of the check.
    fn or_fail(self) -> T;
}

impl<T, E: Into<Failure>> OrFail<T> for Result<T, E> {
    fn or_fail(self) -> T {
        self.unwrap_or_else(|error| error.into().raise())
    }
}

impl From<TchError> for Failure {
    /// A libtorch error from an `f_*` operation, with libtorch's C++ backtrace cut off.
    fn from(error: TchError) -> Self {
        let text = error.to_string();
        if is_torch_error(&text) { Failure::new(describe_torch_error(&text)) } else { Failure::new(text) }
    }
}

/// Fails the enclosing check (returns `Err(Failure)`) when a condition is false.
///
/// `check_that!(y.size() == [2, 3], "`y` has shape {:?}, expected [2, 3]", y.size())` returns
/// `Err(Failure::new("`y` has shape [3, 2], expected [2, 3]"))` from the enclosing function when
/// the condition is false; without a message, the condition's source text is the message. The
/// enclosing function returns `Result<_, E>` for any `E: From<Failure>`, usually [`CheckResult`].
#[macro_export]
macro_rules! check_that {
    ($cond:expr $(,)?) => {
        if !$cond {
            return ::core::result::Result::Err(::core::convert::From::from(
                $crate::failure::Failure::new(::core::concat!(
                    "check failed: ",
                    ::core::stringify!($cond)
                )),
            ));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return ::core::result::Result::Err(::core::convert::From::from(
                $crate::failure::Failure::new(::std::format!($($arg)+)),
            ));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_failure_is_the_failure_of_the_enclosing_part() {
        let raised: CheckResult =
            crate::within("for x", || Failure::new("forward returned 2 outputs").raise());
        assert_eq!(raised, Err(Failure::new("for x: forward returned 2 outputs")));
        let ok: Result<i32, Failure> = Ok(3);
        assert_eq!(ok.or_fail(), 3);
        let failed = crate::within("for y", || {
            let _: i32 = Err::<i32, Failure>(Failure::new("no")).or_fail();
            Ok(())
        });
        assert_eq!(failed, Err(Failure::new("for y: no")));
    }

    #[test]
    fn context_prefixes_and_keeps_skip() {
        let failure =
            Failure::new("`y` has shape [3] but the reference has [2]").context("for input shape [2, 3]");
        assert_eq!(
            failure.to_string(),
            "for input shape [2, 3]: `y` has shape [3] but the reference has [2]"
        );
        assert!(!failure.is_skip());
        assert!(Failure::skip("no GPU").context("on CUDA").is_skip());
    }

    fn positive(x: i64) -> CheckResult {
        check_that!(x > 0, "expected a positive number, got {}", x);
        Ok(())
    }

    fn no_message(x: i64) -> CheckResult {
        check_that!(x > 0);
        Ok(())
    }

    #[test]
    fn check_that_returns_a_failure_when_false() {
        assert_eq!(positive(3), Ok(()));
        assert_eq!(positive(-1), Err(Failure::new("expected a positive number, got -1")));
        assert_eq!(no_message(-1), Err(Failure::new("check failed: x > 0")));
    }
}
