//! The harness a check binary runs: named checks, panics turned into readable failures, and the
//! JSON report the runner reads (`docs/check-protocol.md`).
//!
//! A check binary's `main` lists its checks and hands over to [`Checks::run`]:
//!
//! ```text
//! fn main() {
//!     Checks::new("softmax")
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

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use tch::{Cuda, Device, TchError};

use crate::device;

/// What a check returns: `Ok(())` when it passed, otherwise the [`Failure`] (or skip) to report.
pub type CheckResult = Result<(), Failure>;

/// Why a check did not pass: a message for the learner, and whether the check was skipped rather
/// than failed.
///
/// Build one with [`Failure::new`] or [`Failure::skip`], or let `?` convert a `tch::TchError`
/// from a fallible `f_*` tensor operation. [`Failure::context`] prefixes where it happened, which
/// is how a check that loops over several shapes says which one went wrong:
/// `assert_close(..).map_err(|f| f.context(format!("for input shape {shape:?}")))?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    message: String,
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

impl From<TchError> for Failure {
    /// A libtorch error from an `f_*` operation, with libtorch's C++ backtrace cut off.
    fn from(error: TchError) -> Self {
        let text = error.to_string();
        if is_torch_error(&text) {
            Failure::new(format!("libtorch error: {}", clean_torch_error(&text)))
        } else {
            Failure::new(text)
        }
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
                $crate::check::Failure::new(::core::concat!(
                    "check failed: ",
                    ::core::stringify!($cond)
                )),
            ));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return ::core::result::Result::Err(::core::convert::From::from(
                $crate::check::Failure::new(::std::format!($($arg)+)),
            ));
        }
    };
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
}

impl<'a> Checks<'a> {
    /// An empty list of checks for the exercise `exercise` (its name, used in the printed header).
    pub fn new(exercise: impl Into<String>) -> Self {
        Checks { exercise: exercise.into(), checks: Vec::new() }
    }

    /// Adds a check. `name` says what it verifies ("matches the reference on shape [2, 3]"); the
    /// runner shows it next to ✓ or ✗.
    pub fn check(mut self, name: impl Into<String>, check: impl FnOnce(&Ctx) -> CheckResult + 'a) -> Self {
        self.checks.push((name.into(), Box::new(check)));
        self
    }

    /// Runs every check, prints a line per check, writes the report to `$TENSORLINGS_REPORT`
    /// (when set) and exits: with status 0 when no check failed, 1 otherwise.
    ///
    /// This never returns. Use [`Checks::execute`] to get the [`Report`] instead.
    pub fn run(self) -> ! {
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
        install_panic_hook();
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
        let mut report = Report { device, checks: Vec::with_capacity(self.checks.len()) };
        for (index, (name, check)) in self.checks.into_iter().enumerate() {
            let (result, elapsed) = match &setup {
                Ok((device, threads)) => run_one(index, *device, *threads, check),
                Err(failure) => (Err(Failure::new(failure.message())), Duration::ZERO),
            };
            let entry = CheckReport::new(name, result, elapsed);
            say(format_args!("{}", entry.human_line()));
            report.checks.push(entry);
        }
        say(format_args!("{}", report.summary()));
        report
    }
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
    /// One entry per check, in the order they ran.
    pub checks: Vec<CheckReport>,
}

impl Report {
    /// The version of the report format this library writes.
    pub const FORMAT_VERSION: u32 = 1;

    /// Whether any check failed (skips do not count).
    pub fn any_failed(&self) -> bool {
        self.checks.iter().any(|c| c.outcome == Outcome::Fail)
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
        out.push_str("  \"device\": ");
        push_json_string(&mut out, &self.device);
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
        out.push_str(if self.checks.is_empty() { "]\n}\n" } else { "\n  ]\n}\n" });
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
            file.write_all(self.to_json().as_bytes())?;
            file.sync_all()?;
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
fn push_json_string(out: &mut String, s: &str) {
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

// ---------------------------------------------------------------------------------------------
// Panics

/// What the panic hook saw of a panic on a thread that is running a check.
struct PanicRecord {
    message: String,
    /// `file:line:col` where `panic!` (or the `#[track_caller]` function) was called.
    file: String,
    line: u32,
    column: u32,
    /// Captured only when the location is inside a library (tch's `unwrap`), where it says
    /// nothing to the learner; the backtrace then finds the caller in their code.
    backtrace: Option<Backtrace>,
}

thread_local! {
    /// Whether this thread is inside [`catch_panics`]; the hook stays silent only there.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<PanicRecord>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that records a panic on a thread running a check
/// instead of printing it, and leaves every other panic to the previous hook. Per thread, so
/// tests that run checks in parallel threads do not see each other's panics.
fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CAPTURING.get() {
                previous(info);
                return;
            }
            let message = info.payload_as_str().unwrap_or("(a panic without a message)");
            let (file, line, column) = match info.location() {
                Some(l) => (l.file().to_string(), l.line(), l.column()),
                None => (String::new(), 0, 0),
            };
            let backtrace = if is_library_path(&file) || is_support_path(&file) {
                Some(Backtrace::force_capture())
            } else {
                None
            };
            let record = PanicRecord { message: message.to_string(), file, line, column, backtrace };
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(record));
        }));
    });
}

/// Runs `f`, turning a panic into a description for the learner (see [`describe_panic`]).
fn catch_panics<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_panic_hook();
    let was_capturing = CAPTURING.replace(true);
    LAST_PANIC.with(|last| last.borrow_mut().take());
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CAPTURING.set(was_capturing);
    result.map_err(|payload| {
        let record = LAST_PANIC.with(|last| last.borrow_mut().take());
        let cwd = std::env::current_dir().ok();
        match record {
            Some(record) => {
                let mut place = if record.file.is_empty() {
                    None
                } else {
                    let file = relative_to(&record.file, cwd.as_deref());
                    Some(Place::Source(format!("{file}:{}:{}", record.line, record.column)))
                };
                if let Some(backtrace) = &record.backtrace
                    && let Some(frame) = pick_user_frame(&backtrace.to_string(), cwd.as_deref())
                {
                    place = Some(frame);
                }
                describe_panic(&record.message, place.as_ref())
            }
            // `resume_unwind` skips the hook: all there is, is the payload.
            None => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(a panic without a message)".to_string());
                describe_panic(&message, None)
            }
        }
    })
}

/// The longest panic description kept; a learner who panics with a printed tensor of a million
/// elements should not produce a megabyte report.
const MAX_DESCRIPTION: usize = 4000;

/// Where a panic happened, as precisely as the binary allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// `exercises/00_intro/tensors.rs:12:5`: from the panic itself, or from the backtrace when the
    /// binary has line tables.
    Source(String),
    /// `tensors_check::exercise::make_tensor`: from the backtrace of a binary without line tables
    /// (the course's dev profile has `debug = false`, for fast rebuilds).
    Function(String),
}

impl Place {
    /// " at FILE:LINE:COL" or " in `function`", to follow a verb.
    fn phrase(&self) -> String {
        match self {
            Place::Source(path) => format!(" at {path}"),
            Place::Function(name) => format!(" in `{name}`"),
        }
    }
}

/// Turns a panic message and where it happened into a failure message a learner can act on.
///
/// - `todo!()` / `unimplemented!()`: "not implemented yet: replace the `todo!()` at FILE:LINE:COL
///   with your code".
/// - a libtorch error from tch: "libtorch error: " and the first meaningful lines of libtorch's
///   message (the C++ backtrace after "Exception raised from" is dropped), then where it was
///   called from.
/// - any other panic: "panicked at FILE:LINE:COL: message".
fn describe_panic(message: &str, place: Option<&Place>) -> String {
    let at = |place: Option<&Place>| place.map(Place::phrase).unwrap_or_default();
    let unfinished = [("not yet implemented", "todo!()"), ("not implemented", "unimplemented!()")];
    for (text, mac) in unfinished {
        if let Some(rest) = message.strip_prefix(text)
            && (rest.is_empty() || rest.starts_with(": "))
        {
            let mut description =
                format!("not implemented yet: replace the `{mac}`{} with your code", at(place));
            if let Some(detail) = rest.strip_prefix(": ") {
                description.push_str(&format!("\n  ({mac} says: {detail})"));
            }
            return truncate(description);
        }
    }
    if is_torch_error(message) {
        let mut description = format!("libtorch error: {}", clean_torch_error(message));
        if let Some(place) = place {
            description.push_str(&format!("\n  (called{})", place.phrase()));
        }
        return truncate(description);
    }
    truncate(format!("panicked{}: {message}", at(place)))
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_DESCRIPTION {
        let mut end = MAX_DESCRIPTION;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" … (cut)");
    }
    text
}

/// Whether a message carries a libtorch error: tch's `Torch` error variant, shown by `unwrap`
/// (`Torch("...")`) or by `Display` (`Internal torch error: ...`), or libtorch's own backtrace.
fn is_torch_error(message: &str) -> bool {
    message.contains("Torch(\"")
        || message.contains("Internal torch error")
        || message.contains("Exception raised from")
}

/// How many lines of a libtorch message are kept: its first lines say what went wrong; the rest
/// (the list of every backend an operator is registered for, say) rarely helps a learner.
const MAX_TORCH_LINES: usize = 6;

/// The first meaningful lines of a libtorch error as tch reports it.
///
/// Undoes the escaping of `unwrap`'s `Torch("...")`, drops tch's "Internal torch error: " prefix
/// and `unwrap`'s "called `Result::unwrap()` on an `Err` value: " (keeping an `expect` message),
/// and cuts libtorch's C++ backtrace, which starts at "Exception raised from" and continues with
/// "frame #N:" lines.
fn clean_torch_error(message: &str) -> String {
    const UNWRAP: &str = "called `Result::unwrap()` on an `Err` value: ";
    let (prefix, body) = match message.find("Torch(\"") {
        Some(start) => {
            let prefix = &message[..start];
            let prefix = prefix.strip_prefix(UNWRAP).unwrap_or(prefix);
            (prefix.to_string(), unescape_debug_str(&message[start + "Torch(\"".len()..]))
        }
        None => (String::new(), message.strip_prefix(UNWRAP).unwrap_or(message).to_string()),
    };
    let body = body.replacen("Internal torch error: ", "", 1);
    let body = match body.find("Exception raised from") {
        Some(cut) => &body[..cut],
        None => &body[..],
    };
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("frame #"))
        .collect();
    let mut cleaned = prefix;
    cleaned.push_str(&lines.iter().take(MAX_TORCH_LINES).copied().collect::<Vec<_>>().join("\n"));
    if lines.len() > MAX_TORCH_LINES {
        cleaned.push_str("\n…");
    }
    cleaned
}

/// Reads a string as Rust's `Debug` writes it (without the opening quote) up to its closing
/// quote, undoing the escapes.
fn unescape_debug_str(escaped: &str) -> String {
    let mut out = String::new();
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('u') => {
                    // `\u{1b}`
                    let rest = chars.as_str();
                    if let Some(close) = rest.find('}')
                        && let Some(hex) = rest[..close].strip_prefix('{')
                        && let Some(ch) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                    {
                        out.push(ch);
                        chars = rest[close + 1..].chars();
                    } else {
                        out.push_str("\\u");
                    }
                }
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// Whether a source path is in a library the learner did not write: the Rust standard library
/// (`/rustc/...`) or a crate from a registry or git checkout (tch, torch-sys).
fn is_library_path(path: &str) -> bool {
    path.starts_with("/rustc/")
        || path.contains("/registry/src/")
        || path.contains("/git/checkouts/")
        || path.contains("/library/std/src/")
        || path.contains("/library/core/src/")
        || path.contains("/library/alloc/src/")
}

/// Whether a source path is in this support crate, whose frames are never the learner's fault.
fn is_support_path(path: &str) -> bool {
    let own = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
    path.starts_with(own)
}

/// Symbol prefixes of frames that are not the learner's or the course author's code.
const LIBRARY_SYMBOLS: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "test::",
    "tch::",
    "torch_sys::",
    "tensorlings_support::",
    "backtrace::",
    "panic_unwind::",
    "rust_",
    "__rust",
    "_start",
    "__libc",
];

/// Picks the first frame of a captured backtrace (printed with `Display`) that is in the
/// learner's or course author's Rust code: its source position when the binary has line tables
/// for it, else its function. The standard library prints paths below the working directory as
/// `./...`; `cwd` turns them back into absolute ones, and positions come back relative to `cwd`.
fn pick_user_frame(backtrace: &str, cwd: Option<&Path>) -> Option<Place> {
    let mut frames: Vec<(String, Option<String>)> = Vec::new();
    for line in backtrace.lines() {
        let trimmed = line.trim_start();
        if let Some(path) = trimmed.strip_prefix("at ") {
            if let Some(last) = frames.last_mut()
                && last.1.is_none()
            {
                let path = path.trim();
                let path = match (path.strip_prefix("./"), cwd) {
                    (Some(rest), Some(cwd)) => cwd.join(rest).to_string_lossy().into_owned(),
                    _ => path.to_string(),
                };
                last.1 = Some(path);
            }
        } else if let Some((number, symbol)) = trimmed.split_once(": ")
            && !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
        {
            frames.push((strip_symbol_hash(symbol.trim()).to_string(), None));
        }
    }
    let is_library_symbol = |symbol: &str| {
        let symbol = symbol.strip_prefix('<').unwrap_or(symbol);
        LIBRARY_SYMBOLS.iter().any(|prefix| symbol.starts_with(prefix))
    };
    // Frames of C code (libc's thread start, libtorch) are never the place to look.
    let is_rust_source = |path: &str| path.contains(".rs:") || path.ends_with(".rs");
    frames.iter().find_map(|(symbol, path)| match path {
        _ if is_library_symbol(symbol) => None,
        Some(path) if is_rust_source(path) && !is_library_path(path) && !is_support_path(path) => {
            Some(Place::Source(relative_to(path, cwd)))
        }
        // Without line tables (the standard library has its own, so other frames may have
        // them), a Rust function's path is the best there is.
        None if symbol.contains("::") => Some(Place::Function(symbol.clone())),
        _ => None,
    })
}

/// `foo::bar::h0123456789abcdef` → `foo::bar`.
fn strip_symbol_hash(symbol: &str) -> &str {
    match symbol.rsplit_once("::") {
        Some((head, hash))
            if hash.len() == 17
                && hash.starts_with('h')
                && hash[1..].chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            head
        }
        _ => symbol,
    }
}

/// Shows `path` (possibly followed by `:line:col`) relative to the working directory when it is
/// below it, so messages say `exercises/01_einsum/attention.rs:12:5`.
fn relative_to(path: &str, cwd: Option<&Path>) -> String {
    if let Some(cwd) = cwd.and_then(Path::to_str)
        && let Some(rest) = path.strip_prefix(cwd)
        && let Some(rest) = rest.strip_prefix('/')
    {
        return rest.to_string();
    }
    path.strip_prefix("./").unwrap_or(path).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn json_escapes_what_json_requires() {
        let mut out = String::new();
        push_json_string(&mut out, "a \"b\" \\ c\nd\te\u{1}é✓");
        assert_eq!(out, r#""a \"b\" \\ c\nd\te\u0001é✓""#);
    }

    #[test]
    fn report_serializes_like_the_protocol() {
        let report = Report {
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
        };
        assert_eq!(
            report.to_json(),
            r#"{
  "format_version": 1,
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
        let empty = Report { device: "cuda:0".to_string(), checks: vec![] };
        assert_eq!(
            empty.to_json(),
            "{\n  \"format_version\": 1,\n  \"device\": \"cuda:0\",\n  \"checks\": []\n}\n"
        );
        assert!(!empty.any_failed());
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
        let report = Report { device: "cpu".to_string(), checks: vec![] };
        report.write_atomically(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), report.to_json());
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "the temporary file was left behind");
        let missing = dir.join("no-such-dir").join("report.json");
        assert!(report.write_atomically(&missing).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn src(position: &str) -> Place {
        Place::Source(position.to_string())
    }

    #[test]
    fn todo_says_not_implemented_and_where() {
        assert_eq!(
            describe_panic("not yet implemented", Some(&src("exercises/00_intro/tensors.rs:12:5"))),
            "not implemented yet: replace the `todo!()` at exercises/00_intro/tensors.rs:12:5 \
             with your code"
        );
        assert_eq!(
            describe_panic("not yet implemented: the softmax", Some(&src("x.rs:1:1"))),
            "not implemented yet: replace the `todo!()` at x.rs:1:1 with your code\n  \
             (todo!() says: the softmax)"
        );
        assert_eq!(
            describe_panic("not implemented", None),
            "not implemented yet: replace the `unimplemented!()` with your code"
        );
        // Only the exact messages of the macros count.
        assert_eq!(
            describe_panic("not yet implementedness", Some(&src("x.rs:1:1"))),
            "panicked at x.rs:1:1: not yet implementedness"
        );
    }

    /// What tch 0.26 panics with when `Tensor::reshape` fails: `unwrap` on `TchError::Torch`.
    const RESHAPE_PANIC: &str = "called `Result::unwrap()` on an `Err` value: Torch(\"shape '[4, 4]' is invalid for input of size 6\\nException raised from infer_size_impl at /pytorch/aten/src/ATen/InferSize.h:108 (most recent call first):\\nframe #0: c10::Error::Error(c10::SourceLocation, std::string) + 0x9d (0x7f in libc10.so)\\nframe #1: at::infer_size(c10::ArrayRef<long>, long) + 0x1d (0x7f in libtorch_cpu.so)\\n\")";

    #[test]
    fn libtorch_errors_lose_their_cpp_backtrace() {
        assert_eq!(clean_torch_error(RESHAPE_PANIC), "shape '[4, 4]' is invalid for input of size 6");
        assert_eq!(
            describe_panic(RESHAPE_PANIC, Some(&src("exercises/a.rs:3:7"))),
            "libtorch error: shape '[4, 4]' is invalid for input of size 6\n  \
             (called at exercises/a.rs:3:7)"
        );
        assert_eq!(
            describe_panic(RESHAPE_PANIC, Some(&Place::Function("a_check::exercise::f".into()))),
            "libtorch error: shape '[4, 4]' is invalid for input of size 6\n  \
             (called in `a_check::exercise::f`)"
        );
        // `Display` of a `TchError`, e.g. through `?` into a Failure.
        let display = "Internal torch error: mat1 and mat2 shapes cannot be multiplied (2x3 and \
                       2x3)\nException raised from meta at /pytorch/x.cpp:1 (most recent call \
                       first):\nframe #0: c10::Error::Error() + 0x1 (0x1 in libc10.so)\n";
        assert_eq!(clean_torch_error(display), "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)");
        let converted: Failure = TchError::Torch(display.replacen("Internal torch error: ", "", 1)).into();
        assert_eq!(
            converted.message(),
            "libtorch error: mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"
        );
        // An `expect` message is kept.
        let expected = "reshape the logits: Torch(\"bad \\\"shape\\\"\\nException raised from x\")";
        assert_eq!(clean_torch_error(expected), "reshape the logits: bad \"shape\"");
    }

    #[test]
    fn long_libtorch_messages_keep_their_first_lines() {
        let lines: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
        let message = format!("Torch(\"{}\")", lines.join("\\n"));
        assert_eq!(clean_torch_error(&message), format!("{}\n…", lines[..6].join("\n")));
    }

    #[test]
    fn debug_strings_unescape() {
        assert_eq!(unescape_debug_str(r#"a\"b\\c\n\t\u{1b}d" rest"#), "a\"b\\c\n\t\u{1b}d");
        assert_eq!(unescape_debug_str(r"broken \u{zz}"), r"broken \u{zz}");
    }

    #[test]
    fn descriptions_are_capped() {
        let long = "x".repeat(10 * MAX_DESCRIPTION);
        let description = describe_panic(&long, None);
        assert!(description.len() < MAX_DESCRIPTION + 20, "{}", description.len());
        assert!(description.ends_with("… (cut)"));
    }

    #[test]
    fn the_first_frame_in_user_code_is_picked() {
        let backtrace = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:310:9
   1: tensorlings_support::check::install_panic_hook::{{closure}}
             at /work/main/support/src/check.rs:400:30
   2: core::result::unwrap_failed
             at /rustc/abc/library/core/src/result.rs:1700:5
   3: tch::wrappers::tensor_generated::<impl tch::wrappers::tensor::Tensor>::reshape
             at /home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tch-0.26.0/src/wrappers/tensor_generated.rs:16000:9
   4: <tch::wrappers::tensor::Tensor as core::ops::arith::Mul>::mul
             at /home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tch-0.26.0/src/tensor/ops.rs:10:1
   5: softmax_check::exercise::softmax
             at /work/main/course/exercises/03_losses/softmax.rs:7:13
   6: softmax_check::main::{{closure}}
             at ./checks/03_losses/softmax.rs:20:5
";
        assert_eq!(
            pick_user_frame(backtrace, None),
            Some(src("/work/main/course/exercises/03_losses/softmax.rs:7:13"))
        );
        assert_eq!(
            pick_user_frame(backtrace, Some(Path::new("/work/main/course"))),
            Some(src("exercises/03_losses/softmax.rs:7:13"))
        );
        // Paths below the working directory come as `./...`; C frames are passed over.
        let relative = "   0: tch::f
             at /home/u/.cargo/registry/src/index.crates.io-1/tch-0.26.0/src/lib.rs:1:1
   1: start_thread
             at ./nptl/pthread_create.c:442:8
   2: softmax_check::exercise::softmax
             at ./exercises/03_losses/softmax.rs:7:13
";
        assert_eq!(
            pick_user_frame(relative, Some(Path::new("/course"))),
            Some(src("exercises/03_losses/softmax.rs:7:13"))
        );
        // Without line tables for the user's code, the symbol is the best there is, even when
        // the standard library's frames have lines.
        let bare = "   0: std::backtrace::Backtrace::force_capture::h0123456789abcdef
             at /rustc/abc/library/std/src/backtrace.rs:310:9
   1: tch::wrappers::tensor_generated::<impl tch::wrappers::tensor::Tensor>::reshape::h0123456789abcdef
   2: softmax_check::exercise::softmax::h0123456789abcdef
   3: main
";
        assert_eq!(
            pick_user_frame(bare, None),
            Some(Place::Function("softmax_check::exercise::softmax".into()))
        );
        assert_eq!(pick_user_frame("   0: std::rt::lang_start\n   1: start_thread\n", None), None);
    }

    #[test]
    fn paths_are_shown_relative_to_the_working_directory() {
        let cwd = Path::new("/work/main/course");
        assert_eq!(relative_to("/work/main/course/exercises/a.rs:1:2", Some(cwd)), "exercises/a.rs:1:2");
        assert_eq!(relative_to("/elsewhere/a.rs:1:2", Some(cwd)), "/elsewhere/a.rs:1:2");
        assert_eq!(relative_to("/work/main/course2/a.rs", Some(cwd)), "/work/main/course2/a.rs");
        assert_eq!(relative_to("a.rs", None), "a.rs");
        assert_eq!(relative_to("./a.rs:1:1", None), "a.rs:1:1");
    }

    #[test]
    fn panics_in_a_check_become_descriptions() {
        let location = line!() + 1;
        let caught = catch_panics(|| -> i32 { todo!() });
        let description = caught.unwrap_err();
        assert!(description.starts_with("not implemented yet: replace the `todo!()` at "), "{description}");
        assert!(description.contains(&format!("src/check.rs:{location}:")), "{description}");
        assert_eq!(catch_panics(|| 7), Ok(7));
        let caught = catch_panics(|| panic::resume_unwind(Box::new("silent")));
        assert_eq!(caught, Err::<(), _>("panicked: silent".to_string()));
    }

    #[test]
    fn a_tch_panic_names_the_libtorch_error() {
        let caught = catch_panics(|| {
            let t = tch::Tensor::zeros([6], (tch::Kind::Float, Device::Cpu));
            t.reshape([4, 4])
        });
        let description = caught.unwrap_err();
        assert!(
            description.starts_with("libtorch error: shape '[4, 4]' is invalid for input of size 6"),
            "{description}"
        );
        assert!(!description.contains("frame #"), "{description}");
        // Which caller is named is tested in tests/harness.rs: here every frame is this crate's.
    }
}
