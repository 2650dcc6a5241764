//! The harness a check binary runs: named checks, panics turned into readable failures, and the
//! JSON report the runner reads (`docs/check-protocol.md`).
//!
//! A check binary's `main` lists its checks and hands over to [`Checks::run`]:
//!
//! ```text
//! fn main() {
//!     Checks::new()
//!         .check("matches the reference on shape [2, 3]", |ctx| {
//!             let x = random::randn(&[2, 3], Kind::Float, ctx.device());
//!             assert_close("softmax(x)", &exercise::softmax(&x), &solution::softmax(&x), Tolerance::default())
//!         })
//!         .check("is stable for large inputs", |ctx| { ... })
//!         .run()
//! }
//! ```
//!
//! Each check is a closure from [`Ctx`] to [`CheckResult`]: `Ok(())` passes, `Err(Failure::new(..))`
//! fails with that message, `Err(Failure::skip(..))` skips. A panic inside a check (a `todo!()`
//! the learner has not replaced, a libtorch error surfacing through tch's `unwrap`) fails that
//! check only, with a message that says what happened and where, and the next check still runs.
//! Before each check the harness puts libtorch's global state back where a check expects it: the
//! random seed (fixed per check, so inputs are the same on every run), grad mode on, and the
//! number of threads (`TENSORLINGS_THREADS`, else the count libtorch started with).

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tch::{Cuda, Device};

use crate::device;
pub use crate::failure::{CheckResult, Failure};
use crate::panics::{catch_panics, install_panic_hook};

/// The name of a file without its folders and its `.rs`: `"00_intro/tensors.rs"` gives
/// `"tensors"`. A `const fn`, so that [`crate::exercise_modules!`] defines `EXERCISE_NAME` with it.
pub const fn file_stem(path: &str) -> &str {
    let bytes = path.as_bytes();
    let mut start = bytes.len();
    while start > 0 && bytes[start - 1] != b'/' && bytes[start - 1] != b'\\' {
        start -= 1;
    }
    let mut end = bytes.len();
    if end >= start + 3 && bytes[end - 3] == b'.' && bytes[end - 2] == b'r' && bytes[end - 1] == b's' {
        end -= 3;
    }
    let (_, tail) = bytes.split_at(start);
    let (stem, _) = tail.split_at(end - start);
    // Cut at ASCII bytes, so the stem is valid UTF-8 whenever `path` is.
    match std::str::from_utf8(stem) {
        Ok(stem) => stem,
        Err(_) => path,
    }
}

/// What a check gets from the harness.
#[derive(Debug, Clone)]
pub struct Ctx {
    device: Device,
    seed: i64,
}

impl Ctx {
    /// The device the runner asked for (`--device`), resolved once for the whole run. Create the
    /// check's tensors on it.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The seed libtorch's global generator was given just before this check started
    /// ([`SEED_BASE`] plus the check's position, counting from 0).
    pub fn seed(&self) -> i64 {
        self.seed
    }
}

/// The seed of the first check; check number `i` (from 0) starts with seed `SEED_BASE + i`.
/// Fixed, so a learner who reruns a failing check sees the same inputs, and different per check,
/// so two checks do not test the same random tensors.
pub const SEED_BASE: i64 = 20_240_513;

type CheckFn<'a> = Box<dyn FnOnce(&Ctx) -> CheckResult + 'a>;

/// The checks of one exercise, run in order by [`Checks::run`].
pub struct Checks<'a> {
    exercise: String,
    checks: Vec<(String, CheckFn<'a>)>,
    /// Run only in profile mode, after the checks (see [`crate::profile`]).
    profiles: Vec<crate::profile::Declared<'a>>,
}

impl<'a> Checks<'a> {
    /// An empty list of checks for the exercise of this check file: `checks/DIR/NAME.rs` checks
    /// the exercise `NAME` (the same name [`crate::exercise_modules!`] gives `EXERCISE_NAME`),
    /// read from where `new` is called. Used in the printed header.
    // No `Default`: the name comes from the caller's file, which `default()` would not see.
    #[allow(clippy::new_without_default)]
    #[track_caller]
    pub fn new() -> Self {
        Checks::named(file_stem(std::panic::Location::caller().file()))
    }

    /// An empty list of checks for the exercise `exercise`, named explicitly (for tests and
    /// checks that do not live in `checks/`).
    pub fn named(exercise: impl Into<String>) -> Self {
        Checks { exercise: exercise.into(), checks: Vec::new(), profiles: Vec::new() }
    }

    /// Adds a check. `name` says what it verifies ("matches the reference on shape [2, 3]"); the
    /// runner shows it next to ✓ or ✗.
    pub fn check(mut self, name: impl Into<String>, check: impl FnOnce(&Ctx) -> CheckResult + 'a) -> Self {
        self.checks.push((name.into(), Box::new(check)));
        self
    }

    /// Declares a function to profile in profile mode (`tensorlings profile`), at each of
    /// `sizes`, on the inputs and versions that `case` makes for a size and the device; see
    /// [`crate::profile`]. Outside profile mode it is never called.
    pub fn profile(
        mut self,
        function: impl Into<String>,
        sizes: crate::profile::Sizes,
        case: impl Fn(i64, Device) -> crate::profile::ProfileCase<'a> + 'a,
    ) -> Self {
        self.profiles.push(crate::profile::Declared::new(function, sizes, case));
        self
    }

    /// Runs every check, prints a line per check, writes the report to `$TENSORLINGS_REPORT`
    /// (when set) and exits: with status 0 when no check failed, 1 otherwise.
    ///
    /// With `TENSORLINGS_LIST_CHECKS` set, it writes the checks' names instead and runs none.
    ///
    /// This never returns. Use [`Checks::execute`] to get the [`Report`] instead.
    pub fn run(self) -> ! {
        if std::env::var_os(LIST_VAR).is_some() {
            self.list_names()
        }
        let report = self.execute();
        let mut code = if report.any_failed() { 1 } else { 0 };
        if let Some(path) = std::env::var_os(REPORT_VAR) {
            let path = PathBuf::from(path);
            if let Err(error) = report.write_atomically(&path) {
                let _ = writeln!(
                    io::stderr(),
                    "tensorlings: could not write the report to {}: {error}",
                    path.display()
                );
                code = 1;
            }
        }
        let _ = io::stdout().flush();
        // SAFETY: fflush(NULL) flushes every C stdio stream (libtorch prints through them), and
        // _exit ends the process at once. Skipping `exit` skips libtorch's C++ static
        // destructors, which cost about 0.15 s at every check for nothing: the report is
        // written and all output flushed by now.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::_exit(code)
        }
    }

    /// Runs every check in order and prints a line per check to stdout, returning the report
    /// rather than writing it and exiting as [`Checks::run`] does.
    ///
    /// If `TENSORLINGS_THREADS` or `TENSORLINGS_DEVICE` is invalid, or CUDA was requested on a
    /// machine without it, no check runs and every check fails with that message.
    pub fn execute(self) -> Report {
        // Before anything else, and so before any learner code: the runner's secret, which
        // signs the report, and the rule that the checks run once per process.
        crate::trust::take_secret();
        let profile_request = crate::profile::Request::from_env();
        // Under the runner (which always sets the secret's variable); a test of this library
        // may run the harness many times.
        let under_runner = std::env::var_os(crate::trust::SECRET_VAR).is_some();
        if RUN_STARTED.swap(true, Ordering::SeqCst) && under_runner {
            panic!(
                "the checks of an exercise run once per process: exercise code may not run checks of its own \
                 (Checks::run or Checks::execute)"
            );
        }
        install_panic_hook();
        apply_memory_limit();
        // Without a limit, the count libtorch starts with is the one every check gets back.
        let setup = device::apply_thread_limit().and_then(|limit| {
            let threads = limit.unwrap_or_else(tch::get_num_threads);
            device::try_device().map(|device| (device, threads))
        });
        let device = match &setup {
            Ok((device, _)) => device::name(*device),
            Err(_) => "none".to_string(),
        };
        say(format_args!("tensorlings: checking `{}` on {device}", self.exercise));
        // A setup problem (no CUDA for --device cuda, a bad thread count) stops every check the
        // same way: it is reported once, as the report's error, not as N identical failures.
        let (device_to_use, threads) = match setup {
            Ok(setup) => setup,
            Err(failure) => {
                say(format_args!("cannot run the checks: {}", failure.message()));
                return Report {
                    device,
                    error: Some(failure.message().to_string()),
                    checks: Vec::new(),
                    profiles: None,
                };
            }
        };
        let mut report =
            Report { device, error: None, checks: Vec::with_capacity(self.checks.len()), profiles: None };
        for (index, (name, check)) in self.checks.into_iter().enumerate() {
            let (result, elapsed) = run_one(index, device_to_use, threads, check);
            let entry = CheckReport::new(name, result, elapsed);
            say(format_args!("{}", entry.human_line()));
            report.checks.push(entry);
        }
        say(format_args!("{}", report.summary()));
        // A wrong answer is not worth timing: profiles run after checks that all passed.
        if profile_request.enabled && !report.any_failed() {
            report.profiles =
                Some(crate::profile::run_all(&self.profiles, device_to_use, threads, &profile_request));
        }
        report
    }
}

impl Checks<'_> {
    /// Writes the checks' names, as a JSON array, to `$TENSORLINGS_REPORT` (stdout without it)
    /// and exits, running no check: `tensorlings dev update` records them, and the runner then
    /// refuses a report that lists other checks.
    fn list_names(self) -> ! {
        let mut json = String::from("[");
        for (i, (name, _)) in self.checks.iter().enumerate() {
            if i > 0 {
                json.push_str(", ");
            }
            push_json_string(&mut json, name);
        }
        json.push_str("]\n");
        let written = match std::env::var_os(REPORT_VAR) {
            Some(path) => std::fs::write(path, json),
            None => io::stdout().write_all(json.as_bytes()),
        };
        if let Err(error) = &written {
            let _ = writeln!(io::stderr(), "tensorlings: could not write the names of the checks: {error}");
        }
        std::process::exit(i32::from(written.is_err()))
    }
}

/// The environment variable that asks a check binary for the names of its checks instead of
/// running them (see [`Checks::run`]).
pub const LIST_VAR: &str = "TENSORLINGS_LIST_CHECKS";

/// Set by the first [`Checks::execute`] of the process; a second one panics.
static RUN_STARTED: AtomicBool = AtomicBool::new(false);

/// The environment variable with the memory limit of the check process, in bytes.
pub const MEMORY_LIMIT_VAR: &str = "TENSORLINGS_MEMORY_LIMIT";

/// Counts libtorch's CPU allocations from before any learner code runs, and refuses one that
/// would take them past the runner's limit: "tried to allocate 38.1 GiB; the limit is 8 GiB"
/// fails the check that asked, where the runner's own watch of the process's memory would
/// stop the whole process (and it still does, for memory libtorch does not allocate).
fn apply_memory_limit() {
    let limit = std::env::var(MEMORY_LIMIT_VAR).ok().and_then(|text| text.parse::<u64>().ok());
    // Without the counting allocator the checks still run; memory checks then fail on their own.
    let _ = crate::memory::set_cpu_limit(limit);
}

/// Prints a line for a person running the check binary by hand. Under the runner (which sets
/// [`REPORT_VAR`]) it prints nothing: the runner renders the report itself, and the captured
/// output should hold only what the learner's code printed. Errors are ignored: `println!`
/// panics when stdout is closed (`| head`), and the report must still be written.
fn say(line: fmt::Arguments<'_>) {
    if std::env::var_os(REPORT_VAR).is_none() {
        let _ = writeln!(io::stdout(), "{line}");
    }
}

/// The environment variable naming the report file.
pub const REPORT_VAR: &str = "TENSORLINGS_REPORT";

/// Resets libtorch's global state, then runs one check with panics caught, timing it.
fn run_one(index: usize, device: Device, threads: i32, check: CheckFn<'_>) -> (CheckResult, Duration) {
    let seed = SEED_BASE + index as i64;
    // `manual_seed` seeds the CPU generator and, when CUDA is present, every CUDA generator.
    tch::manual_seed(seed);
    tch::set_num_threads(threads);
    let ctx = Ctx { device, seed };
    let start = Instant::now();
    // `with_grad` turns grad mode on for this check whatever an earlier check left behind (a
    // leaked `no_grad_guard`, a panic inside `no_grad`).
    let outcome = tch::with_grad(|| {
        catch_panics(|| {
            let result = check(&ctx);
            // Kernels run asynchronously on a GPU: wait for them so the duration is real and an
            // asynchronous CUDA error is blamed on this check, not the next one.
            if let Device::Cuda(i) = device {
                Cuda::synchronize(i as i64);
            }
            result
        })
    });
    let elapsed = start.elapsed();
    (outcome.unwrap_or_else(|description| Err(Failure::new(description))), elapsed)
}

// ---------------------------------------------------------------------------------------------
// The report

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It returned `Ok(())`.
    Pass,
    /// It returned a failure or panicked.
    Fail,
    /// It returned [`Failure::skip`].
    Skip,
}

impl Outcome {
    /// The word the report uses: `pass`, `fail` or `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        }
    }
}

/// One check's entry in the [`Report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The name given to [`Checks::check`].
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed or was skipped; empty for a pass.
    pub message: String,
    /// How long it ran, in whole milliseconds.
    pub duration_ms: u64,
}

impl CheckReport {
    fn new(name: String, result: CheckResult, elapsed: Duration) -> Self {
        let (outcome, message) = match result {
            Ok(()) => (Outcome::Pass, String::new()),
            Err(failure) if failure.is_skip() => (Outcome::Skip, failure.message),
            Err(failure) => (Outcome::Fail, failure.message),
        };
        let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        CheckReport { name, outcome, message, duration_ms }
    }

    /// The line printed for a human: `✓ name`, `✗ name` with the message indented below, or
    /// `- name (skipped: reason)`.
    fn human_line(&self) -> String {
        match self.outcome {
            Outcome::Pass => format!("  ✓ {}", self.name),
            Outcome::Skip => format!("  - {} (skipped: {})", self.name, self.message),
            Outcome::Fail => {
                let mut line = format!("  ✗ {}", self.name);
                for message_line in self.message.lines() {
                    line.push_str("\n      ");
                    line.push_str(message_line);
                }
                line
            }
        }
    }
}

/// What a run of [`Checks`] found: the JSON document of `docs/check-protocol.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The device the checks ran on (`cpu`, `cuda:0`), or `none` when it could not be had.
    pub device: String,
    /// Why no check could run (set up failed), in which case `checks` is empty.
    pub error: Option<String>,
    /// One entry per check, in the order they ran.
    pub checks: Vec<CheckReport>,
    /// What profile mode measured, when it ran (see [`crate::profile`]).
    pub profiles: Option<crate::profile::Profiles>,
}

impl Report {
    /// The version of the report format this library writes.
    pub const FORMAT_VERSION: u32 = 1;

    /// Whether any check failed (skips do not count).
    pub fn any_failed(&self) -> bool {
        self.error.is_some() || self.checks.iter().any(|c| c.outcome == Outcome::Fail)
    }

    /// "3 checks: 1 passed, 1 failed, 1 skipped".
    fn summary(&self) -> String {
        let count = |o: Outcome| self.checks.iter().filter(|c| c.outcome == o).count();
        let total = self.checks.len();
        format!(
            "{total} check{}: {} passed, {} failed, {} skipped",
            if total == 1 { "" } else { "s" },
            count(Outcome::Pass),
            count(Outcome::Fail),
            count(Outcome::Skip)
        )
    }

    /// The report as JSON, one check per line.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        out.push_str("{\n");
        out.push_str(&format!("  \"format_version\": {},\n", Self::FORMAT_VERSION));
        // Signed by `trust::sign` once the text is complete; zeros when there is no secret.
        out.push_str(&format!("  {}{}\",\n", crate::trust::MAC_FIELD, "0".repeat(crate::trust::MAC_HEX_LEN)));
        out.push_str("  \"device\": ");
        push_json_string(&mut out, &self.device);
        if let Some(error) = &self.error {
            out.push_str(",\n  \"error\": ");
            push_json_string(&mut out, error);
        }
        out.push_str(",\n  \"checks\": [");
        for (i, check) in self.checks.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str("{\"name\": ");
            push_json_string(&mut out, &check.name);
            out.push_str(", \"outcome\": ");
            push_json_string(&mut out, check.outcome.as_str());
            out.push_str(", \"message\": ");
            push_json_string(&mut out, &check.message);
            out.push_str(&format!(", \"duration_ms\": {}}}", check.duration_ms));
        }
        out.push_str(if self.checks.is_empty() { "]" } else { "\n  ]" });
        if let Some(profiles) = &self.profiles {
            crate::profile::push_json(&mut out, profiles);
        }
        out.push_str("\n}\n");
        out
    }

    /// Writes [`Report::to_json`] to `path` atomically: into a temporary file beside it, then
    /// renamed over it, so the runner never reads a half-written report.
    pub fn write_atomically(&self, path: &Path) -> io::Result<()> {
        let file_name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the report path has no file name"))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let written = (|| {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(crate::trust::sign(self.to_json()).as_bytes())?;
            // No fsync: the rename alone keeps readers from a half-written report, and the
            // report is read at once and thrown away, so surviving a power cut is worth nothing
            // (an fsync costs milliseconds at every check).
            std::fs::rename(&temp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }
}

/// Appends `s` as a JSON string literal. The report is small and flat, so a few lines here save
/// every check binary a serde dependency.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Runs `part`, the part of a check about one input, and prefixes `description` to its
/// failure, whether `part` returned one or panicked: a libtorch error or a `todo!()` in the
/// learner's code then says for which input it happened, like a failed comparison does.
///
/// ```text
/// within(format!("for a of shape {shape:?}"), || {
///     let got = exercise::matmul(&a, &b);   // a panic here is "for a of shape [3, 4]: libtorch error: ..."
///     assert_close("matmul(a, b)", &got, &expected, tol)
/// })
/// ```
pub fn within<T>(
    description: impl fmt::Display,
    part: impl FnOnce() -> Result<T, Failure>,
) -> Result<T, Failure> {
    match crate::panics::catch_panics(part) {
        Ok(result) => result.map_err(|failure| failure.context(description)),
        Err(panic) => Err(Failure::new(panic).context(description)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_names_the_input_of_a_failure_and_of_a_panic() {
        let failed: CheckResult = within("for x of shape [2]", || Err(Failure::new("it differs")));
        assert_eq!(failed.unwrap_err().message(), "for x of shape [2]: it differs");
        let panicked: CheckResult = within("for x of shape [3]", || todo!("the softmax"));
        let message = panicked.unwrap_err().message().to_string();
        assert!(
            message.starts_with("for x of shape [3]: not implemented yet: replace the `todo!()` at "),
            "{message}"
        );
        assert_eq!(within("unused", || Ok::<_, Failure>(7)), Ok(7));
    }

    #[test]
    fn the_exercise_name_is_the_file_stem() {
        assert_eq!(file_stem("00_intro/tensors.rs"), "tensors");
        assert_eq!(file_stem("../checks/02_einsum/einsum_bmm.rs"), "einsum_bmm");
        assert_eq!(file_stem("C:\\course\\checks\\x.rs"), "x");
        assert_eq!(file_stem("plain"), "plain");
        const NAME: &str = file_stem("01_custom_autograd/polar.rs");
        assert_eq!(NAME, "polar");
        assert_eq!(Checks::new().exercise, "check", "this file is support/src/check.rs");
    }

    #[test]
    fn json_escapes_what_json_requires() {
        let mut out = String::new();
        push_json_string(&mut out, "a \"b\" \\ c\nd\te\u{1}é✓");
        assert_eq!(out, r#""a \"b\" \\ c\nd\te\u0001é✓""#);
    }

    #[test]
    fn report_serializes_like_the_protocol() {
        let report = Report {
            error: None,
            device: "cpu".to_string(),
            checks: vec![
                CheckReport {
                    name: "shape [2, 3]".to_string(),
                    outcome: Outcome::Pass,
                    message: String::new(),
                    duration_ms: 3,
                },
                CheckReport {
                    name: "gradient".to_string(),
                    outcome: Outcome::Fail,
                    message: "grad of `x` differs\n  at [0]".to_string(),
                    duration_ms: 5,
                },
                CheckReport {
                    name: "on CUDA".to_string(),
                    outcome: Outcome::Skip,
                    message: "no CUDA device".to_string(),
                    duration_ms: 0,
                },
            ],
            profiles: None,
        };
        assert_eq!(
            report.to_json(),
            r#"{
  "format_version": 1,
  "mac": "0000000000000000000000000000000000000000000000000000000000000000",
  "device": "cpu",
  "checks": [
    {"name": "shape [2, 3]", "outcome": "pass", "message": "", "duration_ms": 3},
    {"name": "gradient", "outcome": "fail", "message": "grad of `x` differs\n  at [0]", "duration_ms": 5},
    {"name": "on CUDA", "outcome": "skip", "message": "no CUDA device", "duration_ms": 0}
  ]
}
"#
        );
        assert!(report.any_failed());
        assert_eq!(report.summary(), "3 checks: 1 passed, 1 failed, 1 skipped");
        let empty = Report { device: "cuda:0".to_string(), error: None, checks: vec![], profiles: None };
        assert_eq!(
            empty.to_json(),
            "{\n  \"format_version\": 1,\n  \"mac\": \"0000000000000000000000000000000000000000000000000000000000000000\",\n  \"device\": \"cuda:0\",\n  \"checks\": []\n}\n"
        );
        assert!(!empty.any_failed());
        let broken = Report {
            device: "none".to_string(),
            error: Some("no \"CUDA\"".to_string()),
            checks: vec![],
            profiles: None,
        };
        assert_eq!(
            broken.to_json(),
            "{\n  \"format_version\": 1,\n  \"mac\": \"0000000000000000000000000000000000000000000000000000000000000000\",\n  \"device\": \"none\",\n  \"error\": \"no \\\"CUDA\\\"\",\n  \"checks\": []\n}\n"
        );
        assert!(broken.any_failed());
    }

    #[test]
    fn human_lines_mark_the_outcome_and_indent_messages() {
        let fail = CheckReport::new(
            "gradient".to_string(),
            Err(Failure::new("line one\nline two")),
            Duration::from_millis(7),
        );
        assert_eq!(fail.outcome, Outcome::Fail);
        assert_eq!(fail.duration_ms, 7);
        assert_eq!(fail.human_line(), "  ✗ gradient\n      line one\n      line two");
        let skip = CheckReport::new("on CUDA".to_string(), Err(Failure::skip("no GPU")), Duration::ZERO);
        assert_eq!(skip.human_line(), "  - on CUDA (skipped: no GPU)");
        let pass = CheckReport::new("shape".to_string(), Ok(()), Duration::ZERO);
        assert_eq!(pass.human_line(), "  ✓ shape");
    }

    #[test]
    fn report_is_written_atomically_and_replaces_an_old_one() {
        let dir = std::env::temp_dir().join(format!("tensorlings-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        std::fs::write(&path, "old").unwrap();
        let report = Report { device: "cpu".to_string(), error: None, checks: vec![], profiles: None };
        report.write_atomically(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), report.to_json());
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "the temporary file was left behind");
        let missing = dir.join("no-such-dir").join("report.json");
        assert!(report.write_atomically(&missing).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
