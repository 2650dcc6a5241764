//! Support library for the tensorlings course: what exercises, solutions and checks share.
//!
//! - [`device`]: the device the runner asked for (`--device cpu|cuda|auto`).
//! - [`random`]: seeded random tensors, so a check and the reference see the same inputs.
//! - [`compare`]: `assert_close` that explains where and how two tensors differ.
//! - [`gradcheck`]: gradients checked by finite differences in f64.
//! - [`timing`]: warm-up, repeats, median, device synchronize.
//! - [`memory`]: bytes held, peak and allocations of libtorch's allocators (CPU and CUDA).
//! - [`autograd`]: custom differentiable functions from a forward and a backward closure.
//! - [`source`]: what the exercise's code calls, for exercises about one API.
//! - [`ranks`]: simulated ranks (threads) that exchange tensors over counted channels.
//! - [`check`]: the harness a check binary runs, and the report it writes for the runner.
//!   (Its `panics` module turns panics in learner code into readable failures.)

pub mod autograd;
pub mod check;
pub mod compare;
pub mod device;
pub mod gradcheck;
pub mod memory;
mod panics;
pub mod random;
pub mod ranks;
pub mod source;
pub mod timing;

pub use check::{CheckResult, Checks, Failure, within};
pub use compare::{Tolerance, assert_close, assert_unchanged};

/// Includes the learner's exercise and the reference solution as modules `exercise` and
/// `solution` of a check binary, so the checks can call both.
///
/// `$file` is the path below `exercises/` (and `solutions/`), e.g. `"00_intro/tensors.rs"`.
/// The exercise comes from the directory in `TENSORLINGS_SUBJECT_DIR`, which the course's
/// build script sets (default: the course's `exercises/`): `tensorlings dev check` points it at
/// `solutions/`, and the wrong-solution tests at a folder of wrong answers. Because the files are
/// `include!`d, they must not start with inner attributes or `//!` comments.
///
/// It also defines `EXERCISE_SOURCE`, the exercise's text, for the [`source`] checks.
#[macro_export]
macro_rules! exercise_modules {
    ($file:literal) => {
        #[allow(dead_code)]
        const EXERCISE_SOURCE: &str = include_str!(concat!(env!("TENSORLINGS_SUBJECT_DIR"), "/", $file));
        #[allow(dead_code, unused_imports, unused_variables, unused_mut)]
        pub mod exercise {
            include!(concat!(env!("TENSORLINGS_SUBJECT_DIR"), "/", $file));
        }
        #[allow(dead_code, unused_imports, unused_variables, unused_mut)]
        pub mod solution {
            include!(concat!(env!("TENSORLINGS_SOLUTIONS_DIR"), "/", $file));
        }
    };
}
