//! Support library for the tensorlings course: what exercises, solutions and checks share.
//!
//! A check imports everything it needs from the [`prelude`]:
//!
//! ```text
//! use tensorlings_support::prelude::*;
//!
//! tensorlings_support::exercise_modules!("02_einsum/einsum_matmul.rs");
//!
//! fn matmul_matches(device: Device, [n, m, p]: [i64; 3]) -> CheckResult {
//!     let (a, b) = (randn(&[n, m], Kind::Float, device), randn(&[m, p], Kind::Float, device));
//!     call("matmul(a, b)", &[("a", &a), ("b", &b)],
//!          |x| solution::matmul(&x[0], &x[1]),
//!          |x| exercise::matmul(&x[0], &x[1]))
//!         .builtin("a.matmul(b)", |x| x[0].matmul(&x[1]))
//!         .check()
//! }
//!
//! fn main() {
//!     Checks::new()
//!         .check("matmul on [3, 4] and [4, 5]", |ctx| matmul_matches(ctx.device(), [3, 4, 5]))
//!         .run()
//! }
//! ```
//!
//! The modules, from the bottom up:
//!
//! - [`failure`]: [`Failure`], the error every helper returns, and [`check_that!`].
//! - [`device`]: the device the runner asked for (`--device cpu|cuda|auto`).
//! - [`random`]: seeded random tensors, so a check and the reference see the same inputs.
//! - [`compare`]: `assert_close` that explains where and how two tensors differ.
//! - [`reference`](mod@reference): [`reference::call`], one call of the exercise against the reference with the
//!   whole protocol (copies, input description, inputs unchanged, outputs compared).
//! - [`gradcheck`]: gradients checked by finite differences in f64.
//! - [`timing`]: warm-up, repeats, median, device synchronize.
//! - [`memory`]: bytes held, peak and allocations of libtorch's allocators (CPU and CUDA).
//! - [`profile`]: the learner's version against the reference and the built-in, timed and
//!   measured at a few sizes, and a Chrome trace (`tensorlings profile`).
//! - [`autograd`]: custom differentiable functions from a forward and a backward closure.
//! - [`lexer`]: Rust source as tokens (std only, shared with the runner's outside-reach guard).
//! - [`source`]: what the exercise's code calls, for exercises about one API.
//! - [`crash`]: an explanation on stderr when a check segfaults for a known reason.
//! - [`ranks`]: simulated ranks (threads) that exchange tensors over counted channels.
//! - [`host`]: the warm check host, which forks a child per check from a process that already
//!   holds libtorch (watch mode's fast path).
//! - [`check`]: the harness a check binary runs, and the report it writes for the runner.
//!   (Its `panics` module turns panics in learner code into readable failures.)

pub mod autograd;
pub mod check;
pub mod compare;
pub mod crash;
pub mod device;
pub mod failure;
pub mod gradcheck;
pub mod host;
pub mod lexer;
pub mod memory;
mod panics;
pub mod profile;
pub mod random;
pub mod ranks;
pub mod reference;
pub mod source;
pub mod timing;
pub mod trust;

pub use check::{Checks, within};
pub use compare::{Tolerance, assert_close, assert_unchanged};
pub use failure::{CheckResult, Failure};

/// Everything a check uses, in one import: `use tensorlings_support::prelude::*;`.
///
/// tch's `Device`, `Kind` and `Tensor`; the harness ([`Checks`], [`Ctx`](crate::check::Ctx),
/// [`within`], [`Failure`], [`check_that!`]); the comparisons ([`call`](crate::reference::call),
/// [`assert_close`], [`assert_equal`](crate::compare::assert_equal),
/// [`assert_grad_close`](crate::compare::assert_grad_close), [`assert_unchanged`],
/// [`Tolerance`]); the seeded inputs of [`random`]; [`gradcheck`](crate::gradcheck::gradcheck);
/// [`cuda_or_skip`](crate::device::cuda_or_skip); the [`source`] rules; and the custom-function
/// types of [`autograd`].
pub mod prelude {
    pub use tch::{Device, Kind, Tensor};

    pub use crate::autograd::{CustomFunction, Function};
    pub use crate::check::{Checks, Ctx, within};
    pub use crate::compare::{
        Tolerance, assert_close, assert_close_scaled, assert_equal, assert_grad_close, assert_unchanged,
    };
    pub use crate::device::cuda_or_skip;
    pub use crate::failure::{CheckResult, Failure, OrFail};
    pub use crate::gradcheck::{GradcheckOptions, gradcheck};
    pub use crate::profile::ProfileCase;
    pub use crate::random::{randint, randn, uniform, with_magnitude};
    pub use crate::reference::{Call, call};
    pub use crate::source::{
        assert_calls, assert_does_not_call, assert_no_method_calls, assert_written_with,
    };
    pub use crate::{call, check_that, profile_case};
    pub use crate::{profile, random, source};
}

/// [`reference::call`] of a function of the exercise and of the reference with the same name,
/// on tensors named by variables: `call!(matmul(a, b))` is
///
/// ```text
/// call("matmul(a, b)", &[("a", &a), ("b", &b)],
///      |x| solution::matmul(&x[0], &x[1]),
///      |x| exercise::matmul(&x[0], &x[1]))
/// ```
///
/// Arguments that are not input tensors (a learning rate, a flag, a device) follow a `;`, and
/// are passed after the tensors: `call!(gumbel_softmax(logits; tau, false))` calls
/// `gumbel_softmax(&logits, tau, false)`. Every tensor argument is a `Tensor` variable passed
/// as `&Tensor`; for anything else (an `Option<&Tensor>`, arguments in another order) use
/// [`reference::call`] itself. The result is a [`reference::Call`] to configure and `.check()`.
#[macro_export]
macro_rules! call {
    ($f:ident ( $($arg:ident),* $(; $($extra:expr),* $(,)?)? )) => {
        $crate::reference::call(
            ::core::concat!(::core::stringify!($f), "(", ::core::stringify!($($arg),*), ")"),
            &[$((::core::stringify!($arg), $crate::reference::as_input(&$arg))),*],
            |inputs: &[$crate::prelude::Tensor]| {
                let [$($arg),*] = inputs else { ::core::unreachable!("one input per argument") };
                solution::$f($($arg),* $(, $($extra),*)?)
            },
            |inputs: &[$crate::prelude::Tensor]| {
                let [$($arg),*] = inputs else { ::core::unreachable!("one input per argument") };
                exercise::$f($($arg),* $(, $($extra),*)?)
            },
        )
    };
}

/// Includes the learner's exercise and the reference solution as modules `exercise` and
/// `solution` of a check binary, so the checks can call both.
///
/// `$file` is the path below `exercises/` (and `solutions/`), e.g. `"00_intro/tensors.rs"`.
/// The exercise comes from the directory in `TENSORLINGS_SUBJECT_DIR`, which the course's
/// build script sets (default: the course's `exercises/`): `tensorlings dev check` points it at
/// `solutions/`, and the wrong-solution tests at a folder of wrong answers. Because the files are
/// `include!`d, they must not start with inner attributes or `//!` comments.
///
/// It also defines `EXERCISE_SOURCE`, the exercise's text, for the [`source`] checks, and
/// `EXERCISE_NAME`, the exercise's name (the file's name without `.rs`, `"tensors"`), which
/// [`Checks::new`] reads from the check file's name the same way.
#[macro_export]
macro_rules! exercise_modules {
    ($file:literal) => {
        #[allow(dead_code)]
        const EXERCISE_NAME: &str = $crate::check::file_stem($file);
        #[allow(dead_code)]
        const EXERCISE_SOURCE: &str = include_str!(concat!(env!("TENSORLINGS_SUBJECT_DIR"), "/", $file));
        // Learner code may not use `unsafe`: with it, it could read the harness's memory or run
        // before `main` (a constructor), and so forge a report.
        #[forbid(unsafe_code)]
        #[allow(dead_code, unused_imports, unused_variables, unused_mut)]
        pub mod exercise {
            include!(concat!(env!("TENSORLINGS_SUBJECT_DIR"), "/", $file));
        }
        #[allow(dead_code, unused_imports, unused_variables, unused_mut)]
        pub mod solution {
            include!(concat!(env!("TENSORLINGS_SOLUTIONS_DIR"), "/", $file));
        }
        /// The entry point of this check when it is built as a library for the warm check host
        /// (`tensorlings_support::host`): runs `main` in the host's forked child.
        #[unsafe(no_mangle)]
        pub extern "C" fn tensorlings_hosted_check() -> i32 {
            $crate::host::hosted_main(main)
        }
    };
}
