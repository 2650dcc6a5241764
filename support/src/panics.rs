//! Panics in learner code turned into messages a learner can act on: a `todo!()` says which
//! function is not written yet and where, a libtorch error loses its C++ backtrace and names
//! the learner's function that called it, and other panics keep their message and place.
//!
//! The hook is silent only on a thread inside [`catch_panics`]; any other panic is left to the
//! previous hook. A panic that cannot unwind (inside an `extern "C"` function, or an unsafe
//! precondition checked in a debug build) cannot be caught and aborts the process, so the hook
//! prints its description to stderr first ([`abort_notice`]), where the runner shows it.

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use crate::autograd::CUSTOM_FUNCTION_ERROR;

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
pub(crate) fn install_panic_hook() {
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
            if cannot_unwind(&format!("{info:?}"), message) {
                // `catch_panics` cannot catch this one (a panic inside an `extern "C"` function, an
                // unsafe precondition checked in a debug build): the process aborts when the hook
                // returns, without a report. Say what happened on stderr, which the runner shows
                // for a crashed check; an unwinding panic recorded just before is often the cause.
                let cwd = std::env::current_dir().ok();
                let earlier = LAST_PANIC.with(|last| {
                    last.try_borrow()
                        .ok()
                        .and_then(|r| r.as_ref().map(|r| describe_record(r, cwd.as_deref())))
                });
                let notice = abort_notice(&describe_record(&record, cwd.as_deref()), earlier.as_deref());
                let _ = writeln!(io::stderr(), "{notice}");
            }
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(record));
        }));
    });
}

/// Runs `f`, turning a panic into a description for the learner (see [`describe_panic`]).
pub(crate) fn catch_panics<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_panic_hook();
    let was_capturing = CAPTURING.replace(true);
    LAST_PANIC.with(|last| last.borrow_mut().take());
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CAPTURING.set(was_capturing);
    result.map_err(|payload| {
        let record = LAST_PANIC.with(|last| last.borrow_mut().take());
        let cwd = std::env::current_dir().ok();
        match record {
            Some(record) => describe_record(&record, cwd.as_deref()),
            // `resume_unwind` skips the hook: all there is, is the payload. A raised `Failure`
            // (`Failure::raise`, `or_fail`) is its own message.
            None => {
                if let Some(failure) = payload.downcast_ref::<crate::failure::Failure>() {
                    return failure.message().to_string();
                }
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

/// [`describe_panic`] of a recorded panic, at the most precise place known: the learner's frame
/// in the backtrace when the panic itself happened in a library.
fn describe_record(record: &PanicRecord, cwd: Option<&Path>) -> String {
    let mut place = if record.file.is_empty() {
        None
    } else {
        let file = relative_to(&record.file, cwd);
        Some(Place::Source(format!("{file}:{}:{}", record.line, record.column)))
    };
    if let Some(backtrace) = &record.backtrace
        && let Some(frame) = pick_user_frame(&backtrace.to_string(), cwd)
    {
        place = Some(frame);
    }
    describe_panic(&record.message, place.as_ref())
}

/// Whether a panic cannot unwind, from the `Debug` text of its `PanicHookInfo` and its message.
///
/// `PanicHookInfo::can_unwind` is unstable, but its `Debug` text shows the field
/// (`can_unwind: false`). Should that text change, the messages of the standard library's panics
/// that never unwind still tell.
fn cannot_unwind(info_debug: &str, message: &str) -> bool {
    const NEVER_UNWIND: &[&str] = &[
        "panic in a function that cannot unwind",
        "panic in a destructor during cleanup",
        "unsafe precondition(s) violated",
        "null pointer dereference occurred",
        "misaligned pointer dereference",
    ];
    info_debug.contains("can_unwind: false") || NEVER_UNWIND.iter().any(|m| message.starts_with(m))
}

/// What the hook prints to stderr just before a panic that cannot unwind aborts the process:
/// the panic's description and, when one was recorded, the panic before it, which is usually the
/// cause ("panic in a function that cannot unwind" follows a panic inside an `extern "C"` fn).
fn abort_notice(description: &str, earlier: Option<&str>) -> String {
    let mut notice = format!(
        "tensorlings: a panic that cannot be caught aborted the checks (no report is written):\n  {description}"
    );
    if let Some(earlier) = earlier {
        notice.push_str(&format!("\n  after this panic: {earlier}"));
    }
    notice
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
        let mut description = describe_torch_error(message);
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
pub(crate) fn is_torch_error(message: &str) -> bool {
    message.contains("Torch(\"")
        || message.contains("Internal torch error")
        || message.contains("Exception raised from")
}

/// A libtorch error as a learner reads it: "libtorch error: " and its first meaningful lines
/// (see [`clean_torch_error`]); the error of a custom function says itself what went wrong in
/// the learner's forward or backward, and is not libtorch's, so it keeps no such prefix.
pub(crate) fn describe_torch_error(message: &str) -> String {
    let source = if message.contains(CUSTOM_FUNCTION_ERROR) { "" } else { "libtorch error: " };
    format!("{source}{}", clean_torch_error(message))
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
pub(crate) fn clean_torch_error(message: &str) -> String {
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
    if let Some(explanation) = explain_torch_error(body) {
        cleaned.push_str(&format!("\n  ({explanation})"));
    }
    cleaned
}

/// What a libtorch error that puzzles Rust programmers means, in their terms.
fn explain_torch_error(message: &str) -> Option<&'static str> {
    const KNOWN: &[(&[&str], &str)] = &[(
        &["cannot be converted to type", "without overflow"],
        "a Rust number too large for the tensor's dtype: f64::MIN and f64::MAX do not fit in float32 \
         (\"float\" in libtorch's words); use f64::NEG_INFINITY or f64::INFINITY, or a value such as -1e9",
    )];
    KNOWN.iter().find(|(parts, _)| parts.iter().all(|part| message.contains(part))).map(|(_, text)| *text)
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
        None if symbol.contains("::") => Some(Place::Function(as_in_the_check_binary(symbol))),
        _ => None,
    })
}

/// A function's path as the check binary names it: in watch mode's warm host the check is the
/// module `check` of the library `NAME_hosted`, so `tensors_hosted::check::exercise::grid` is
/// said `tensors_check::exercise::grid`, as `tensorlings run` says it.
fn as_in_the_check_binary(symbol: &str) -> String {
    match symbol.split_once("_hosted::check::") {
        Some((name, rest)) if !name.contains("::") => format!("{name}_check::{rest}"),
        _ => symbol.to_string(),
    }
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
    #[test]
    fn a_function_in_the_warm_host_is_named_as_in_the_check_binary() {
        assert_eq!(
            as_in_the_check_binary("tensors_hosted::check::exercise::grid"),
            "tensors_check::exercise::grid"
        );
        assert_eq!(as_in_the_check_binary("tensors_check::exercise::grid"), "tensors_check::exercise::grid");
        assert_eq!(as_in_the_check_binary("tch::x_hosted::check::f"), "tch::x_hosted::check::f");
    }

    use super::*;
    use crate::check::Failure;
    use tch::{Device, TchError};

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
    fn a_custom_functions_error_is_not_called_a_libtorch_error() {
        let panic = "relu failed: Torch(\"custom function `relu`: backward panicked at x.rs:3:5: boom\")";
        assert_eq!(
            describe_panic(panic, Some(&src("exercises/a.rs:9:1"))),
            "relu failed: custom function `relu`: backward panicked at x.rs:3:5: boom\n  (called at exercises/a.rs:9:1)"
        );
    }

    #[test]
    fn a_scalar_that_overflows_the_dtype_is_explained() {
        let message =
            "Torch(\"value cannot be converted to type float without overflow\\nException raised from x\")";
        let cleaned = clean_torch_error(message);
        assert!(
            cleaned.starts_with("value cannot be converted to type float without overflow\n  (a Rust number"),
            "{cleaned}"
        );
        assert!(cleaned.contains("f64::NEG_INFINITY"), "{cleaned}");
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
        assert!(description.contains(&format!("src/panics.rs:{location}:")), "{description}");
        assert_eq!(catch_panics(|| 7), Ok(7));
        let caught = catch_panics(|| panic::resume_unwind(Box::new("silent")));
        assert_eq!(caught, Err::<(), _>("panicked: silent".to_string()));
    }

    #[test]
    fn the_abort_notice_names_the_panic_and_its_cause() {
        assert_eq!(
            abort_notice("panicked at exercises/a.rs:3:5: boom", None),
            "tensorlings: a panic that cannot be caught aborted the checks (no report is written):\n  \
             panicked at exercises/a.rs:3:5: boom"
        );
        assert_eq!(
            abort_notice(
                "panicked in `a_check::exercise::f`: panic in a function that cannot unwind",
                Some("panicked at exercises/a.rs:3:5: boom")
            ),
            "tensorlings: a panic that cannot be caught aborted the checks (no report is written):\n  \
             panicked in `a_check::exercise::f`: panic in a function that cannot unwind\n  \
             after this panic: panicked at exercises/a.rs:3:5: boom"
        );
    }

    #[test]
    fn panics_that_cannot_unwind_are_recognised() {
        let debug = |can_unwind: bool| {
            format!(
                "PanicHookInfo {{ payload: Any {{ .. }}, location: Location {{ file: \"a.rs\", \
                 line: 5, column: 48 }}, can_unwind: {can_unwind}, force_no_backtrace: false }}"
            )
        };
        assert!(cannot_unwind(&debug(false), "boom"));
        assert!(!cannot_unwind(&debug(true), "boom"));
        assert!(!cannot_unwind("", "not yet implemented"));
        assert!(cannot_unwind("", "null pointer dereference occurred"));
        assert!(cannot_unwind(
            "",
            "unsafe precondition(s) violated: ptr::write requires that the pointer argument is \
             aligned and non-null"
        ));
    }

    /// Set in the child process of the test below, which then aborts.
    const ABORT_CHILD_VAR: &str = "TENSORLINGS_TEST_ABORT_CHILD";

    /// A panic that cannot unwind aborts the process, so the test runs itself again as a child
    /// process that does it, and reads what the child printed before it died.
    #[test]
    fn a_panic_that_cannot_unwind_is_printed_before_the_abort() {
        if std::env::var_os(ABORT_CHILD_VAR).is_some() {
            extern "C" fn cannot_unwind() {
                panic!("boom inside extern C");
            }
            let _ = catch_panics(|| cannot_unwind());
            unreachable!("the process should have aborted");
        }
        let name = "panics::tests::a_panic_that_cannot_unwind_is_printed_before_the_abort";
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(ABORT_CHILD_VAR, "1")
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "the child did not abort:\n{stderr}");
        let notice = stderr
            .find("tensorlings: a panic that cannot be caught")
            .map(|at| &stderr[at..])
            .unwrap_or_else(|| panic!("no notice in the child's stderr:\n{stderr}"));
        assert!(notice.contains("panic in a function that cannot unwind"), "{stderr}");
        assert!(notice.contains("after this panic: panicked at "), "{stderr}");
        assert!(notice.contains("src/panics.rs:"), "{stderr}");
        assert!(notice.contains(": boom inside extern C"), "{stderr}");
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
