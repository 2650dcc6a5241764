//! Text that people read: verdicts, the exercise list, progress lines; and the same verdicts for
//! machines (JSON, and JUnit XML in `junit`).

pub mod junit;
pub mod profile;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use colored::Colorize;
use serde::Serialize;

use crate::bytes::Bytes;
use crate::course::Course;
use crate::grade::Graded;
use crate::info_file::ExerciseInfo;
use crate::shipped::Tampering;
use crate::state::State;
use crate::verdict::{CheckOutcome, CheckResult, Outcome, Status, Verdict};
use crate::watch::list::{Filter, ListView};

/// Whether paths are written as terminal hyperlinks: set once by `main`, as colored's switch is.
static HYPERLINKS: AtomicBool = AtomicBool::new(false);

/// Turns hyperlinks in paths on or off for the rest of the run.
pub fn set_hyperlinks(on: bool) {
    HYPERLINKS.store(on, Ordering::Relaxed);
}

/// Whether a terminal is likely to show OSC 8 hyperlinks: stdout is a terminal, `TERM` is not
/// `dumb` and `NO_COLOR` is not set (who turns colors off wants plain text). Terminals that do
/// not know OSC 8 ignore it, so no list of terminals is kept.
pub fn hyperlinks_wanted(stdout_is_terminal: bool, term: Option<&str>, no_color: Option<&str>) -> bool {
    stdout_is_terminal && term != Some("dumb") && no_color.is_none_or(str::is_empty)
}

/// A path as the learner should see it (relative to the course root), and a `file://`
/// hyperlink to it (OSC 8) when hyperlinks are on: a click opens it in the terminal's editor.
pub fn path_link(course: &Course, path: &Path) -> String {
    let text = course.display_path(path).into_owned();
    if !HYPERLINKS.load(Ordering::Relaxed) {
        return text;
    }
    let absolute = if path.is_absolute() { path.to_path_buf() } else { course.root.join(path) };
    hyperlink(&file_url(&absolute, &hostname()), &text)
}

/// `text` as an OSC 8 hyperlink to `url`.
fn hyperlink(url: &str, text: &str) -> String {
    format!("\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\")
}

/// `file://HOST/PATH`, percent-encoded, as `ls --hyperlink` writes it (the host lets a
/// terminal tell a file on this machine from one on the other end of an ssh session).
fn file_url(path: &Path, host: &str) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = format!("file://{host}");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(byte as char);
        } else {
            let _ = write!(url, "%{byte:02X}");
        }
    }
    url
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    if ok { String::from_utf8_lossy(&buf[..len]).into_owned() } else { String::new() }
}

/// The status as one word or two, for tables.
pub fn status_label(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::CompileError => "compile error",
        Status::Timeout => "timeout",
        Status::Crash => "crash",
        Status::Error => "setup error",
    }
}

pub fn status_word(status: Status) -> colored::ColoredString {
    match status {
        Status::Pass => "pass".green(),
        Status::Fail => "fail".red(),
        other => status_label(other).red().bold(),
    }
}

/// What a signal means, for a learner: "signal 11 (SIGSEGV, a segmentation fault: ...)".
fn signal_text(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV, a segmentation fault: memory was read or written out of bounds",
        libc::SIGABRT => "SIGABRT: the process aborted, often a C++ exception or an assertion in libtorch",
        libc::SIGBUS => "SIGBUS, a bus error",
        libc::SIGFPE => "SIGFPE, an arithmetic error",
        libc::SIGILL => "SIGILL, an illegal instruction",
        libc::SIGKILL => "SIGKILL: killed, perhaps by the system for using too much memory",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    format!("signal {signal} ({name})")
}

/// The verdict in one line, e.g. "2 of 5 checks failed", "it does not compile".
pub fn summary(verdict: &Verdict, invoke: &str) -> String {
    let passed = verdict.count(CheckOutcome::Pass);
    let skipped = verdict.count(CheckOutcome::Skip);
    match &verdict.outcome {
        Outcome::Passed if skipped > 0 => format!("{} passed, {skipped} skipped", count(passed, "check")),
        Outcome::Passed => format!("{} passed", count(passed, "check")),
        Outcome::ChecksFailed => format!(
            "{} of {} failed",
            verdict.count(CheckOutcome::Fail),
            count(verdict.checks.len(), "check")
        ),
        Outcome::AllSkipped => "no check ran (all were skipped)".into(),
        Outcome::ExitedWith { code } => {
            format!("every check passed, but the process exited with code {}", code.unwrap_or(-1))
        }
        Outcome::CompileError { .. } => "it does not compile".into(),
        Outcome::ReachesOutside { .. } => "it reaches outside the exercise".into(),
        Outcome::TimedOut { after } => format!(
            "it was stopped after {} s: is there an endless loop, or a very large tensor?",
            after.as_secs()
        ),
        Outcome::OverMemory { used, limit } => format!(
            "it was stopped for using {} of memory; the limit is {}: is a tensor far larger than the task \
             needs (a broadcast to n x n, a copy per iteration)?",
            Bytes(*used),
            Bytes(*limit)
        ),
        // Rust aborts on a stack overflow after saying so: that, not the abort, is the news.
        Outcome::Signal { .. } if verdict.output.contains("has overflowed its stack") => {
            "the check overflowed its stack: is there a recursion without an end, or a very deep one?".into()
        }
        Outcome::Signal { signal } => format!("the check process was killed by {}", signal_text(*signal)),
        Outcome::NoReport { code: Some(0) } => {
            "the check process exited before reporting (does the exercise call std::process::exit?)".into()
        }
        Outcome::NoReport { code } => {
            format!("the check process exited with code {} before reporting", code.unwrap_or(-1))
        }
        Outcome::BadReport { reason } => {
            format!("the check process wrote a report that cannot be read: {reason}")
        }
        Outcome::Untrusted => {
            "the check report was not trusted: it does not carry the signature of the checks, so \
                               something else (the exercise's code?) wrote or changed it"
                .into()
        }
        Outcome::OtherChecks { expected, reported } => {
            let missing: Vec<&str> =
                expected.iter().filter(|name| !reported.contains(name)).map(String::as_str).collect();
            let extra: Vec<&str> =
                reported.iter().filter(|name| !expected.contains(name)).map(String::as_str).collect();
            let mut said = format!(
                "the check report was not trusted: it lists {} where this exercise has {}",
                count(reported.len(), "check"),
                count(expected.len(), "check")
            );
            if !missing.is_empty() {
                said.push_str(&format!("; missing: {}", quoted_list(&missing)));
            }
            if !extra.is_empty() {
                said.push_str(&format!("; not the course's: {}", quoted_list(&extra)));
            }
            if missing.is_empty() && extra.is_empty() {
                said.push_str("; the same names in another order");
            }
            said
        }
        Outcome::SetupError { message } | Outcome::CouldNotRun { message } => message.clone(),
        Outcome::MissingCheck { path } => format!(
            "its checks, {path}, are missing: the course is incomplete, and your file was not checked. Restore \
             them with `git checkout -- {path}`"
        ),
        Outcome::MissingBinary { bin, manifest } => format!(
            "{manifest} has no binary `{bin}`: the course package is out of date; run `{invoke} dev update`"
        ),
    }
}

/// What to read to fix it: the compiler's diagnostics, or each failed check with its message
/// and each skipped one with why; compiler warnings of a build that passed.
pub fn details(verdict: &Verdict) -> String {
    match &verdict.outcome {
        Outcome::CompileError { diagnostics } => return diagnostics.clone(),
        Outcome::ReachesOutside { path, line, pattern, why } => {
            return format!(
                "{path}:{line} uses `{pattern}`, which {why}: an exercise may use only its own code, tch and \
                 tensorlings_support (the check compiles it next to the reference solution).\n"
            );
        }
        _ => {}
    }
    // Failures first; then what was skipped and why, so that "not tested here" is visible.
    let failed = verdict.checks.iter().filter(|c| c.outcome == CheckOutcome::Fail);
    let skipped = verdict.checks.iter().filter(|c| c.outcome == CheckOutcome::Skip);
    let text = failed
        .map(|c| format!("check `{}` failed:\n{}\n", c.name, indent(c.message.trim_end())))
        .chain(skipped.map(|c| format!("check `{}` skipped: {}\n", c.name, c.message.trim_end())))
        .collect::<Vec<_>>()
        .join("\n");
    if text.is_empty() { verdict.warnings.clone() } else { text }
}

/// Everything a verdict says, uncoloured: what `dev check` searches for a wrong answer's
/// `expect` texts.
pub fn plain(verdict: &Verdict, invoke: &str) -> String {
    format!("{}\n{}\n{}", summary(verdict, invoke), details(verdict), verdict.output)
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}")).collect::<Vec<_>>().join("\n")
}

/// How a verdict is shown: `hint` says how to get the hint ("press h for a hint"); watch mode,
/// which has no scrollback, shows only the last `output_lines` of what the check printed.
pub struct Shown<'a> {
    pub hint: &'a str,
    pub output_lines: Option<(usize, &'a str)>,
    /// How tensorlings was started (`tensorlings`, `cargo run --`), for suggested commands.
    pub invoke: &'a str,
}

/// The whole verdict of one exercise, as `run` and watch mode print it. With `output_lines`
/// set to `(n, how_to_see_all)`, only the last n lines of the check's output are shown.
pub fn verdict(course: &Course, exercise: &ExerciseInfo, verdict: &Verdict, shown: &Shown) -> String {
    let hint = shown.hint;
    let mut text = String::new();
    let details = details(verdict);
    if !details.is_empty() {
        text.push_str(details.trim_end());
        text.push_str("\n\n");
    }
    if !verdict.passed() && !verdict.output.trim().is_empty() {
        let _ = writeln!(text, "{}", "Output of the check process:".bold());
        let output = verdict.output.trim_end();
        let lines: Vec<&str> = output.lines().collect();
        match shown.output_lines {
            Some((keep, how_to_see_all)) if lines.len() > keep => {
                let _ = writeln!(text, "[{} earlier lines not shown; {how_to_see_all}]", lines.len() - keep);
                text.push_str(&lines[lines.len() - keep..].join("\n"));
            }
            _ => text.push_str(output),
        }
        text.push_str("\n\n");
    }
    let seconds = verdict.duration.as_secs_f64();
    let device = verdict.device.as_deref().map(|d| format!(" on {d}")).unwrap_or_default();
    let summary = summary(verdict, shown.invoke);
    if verdict.passed() {
        let mark = "✓".green().bold();
        let _ = writeln!(text, "{mark} {} passed: {summary}{device} ({seconds:.2} s)", exercise.name.bold());
        let solution = course.solution_path(exercise);
        let _ = writeln!(
            text,
            "Compare with the reference solution: {}",
            path_link(course, &solution).underline()
        );
    } else if verdict.status() == Status::Error {
        let mark = "✗".red().bold();
        let _ = writeln!(text, "{mark} {} could not be checked: {summary}", exercise.name.bold());
    } else {
        let _ = writeln!(text, "{} {} {}: {summary}", "✗".red().bold(), exercise.name.bold(), "failed".red());
        let path = course.exercise_path(exercise);
        let _ = writeln!(text, "Fix {}; {hint}.", path_link(course, &path).underline());
    }
    text
}

/// Said once in watch mode when the warm host did not start: checks still run, slower.
pub fn warm_host_unavailable(error: &str) -> String {
    format!(
        "The warm check host did not start ({error}): each check runs in a process of its own, about 0.3 s \
         slower. Verdicts are the same. TENSORLINGS_WARM_HOST=0 turns the host off and this notice with it."
    )
}

/// Said by `run` when the shared warm host could not be used: the check ran in a process instead.
pub fn shared_host_unavailable(error: &str) -> String {
    format!(
        "the shared check host could not be used ({error}), so this check ran in a process of its own, \
         with the same verdict. TENSORLINGS_WARM_HOST=watch keeps `run` from trying (watch mode keeps its \
         host)."
    )
}

/// `"a", "b"`: names as a list in a sentence.
fn quoted_list(names: &[&str]) -> String {
    names.iter().map(|name| format!("\"{name}\"")).collect::<Vec<_>>().join(", ")
}

pub fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `[######....] 3/10 done`, as wide as `width` columns for the bar.
pub fn progress_bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0);
    format!("[{}{}] {done}/{total} done", "#".repeat(filled).green(), "-".repeat(width - filled))
}

/// Every exercise by section with its state, then the overall progress.
pub fn list(course: &Course, state: &State) -> String {
    let mut text = exercise_table(course, state);
    let _ = writeln!(text, "\n{}", progress_bar(state.done_count(), state.len(), 40));
    text
}

/// Every exercise by section with its state and path.
pub fn exercise_table(course: &Course, state: &State) -> String {
    let mut text = String::new();
    let mut section: Option<&str> = None;
    let name_width = course.exercises().iter().map(|e| e.name.len()).max().unwrap_or(0);
    for (index, exercise) in course.exercises().iter().enumerate() {
        if section != Some(exercise.dir.as_str()) {
            section = Some(&exercise.dir);
            if index > 0 {
                text.push('\n');
            }
            let title = course.info.section_title(&exercise.dir);
            let _ = writeln!(text, "{}", format!("{} ({})", title, exercise.dir).bold());
        }
        let marker = if index == state.current() { "▶".cyan().bold() } else { " ".normal() };
        let status = if state.is_done(index) { "done   ".green() } else { "pending".yellow() };
        let path = course.exercise_path(exercise);
        let _ = writeln!(
            text,
            " {marker} {:<name_width$}  {status}  {}",
            exercise.name,
            path_link(course, &path).dimmed()
        );
    }
    text
}

/// The keys of the interactive list, under it.
const LIST_KEYS: &str = "↑↓ j k move · PgUp PgDn Home End · f Tab filter · / search · Enter make current · \
                         x reset · q Esc back";

/// The keys while a search is typed.
const SEARCH_KEYS: &str = "type a name · Backspace erase · Enter keep the search · Esc drop it · ↑↓ move";

/// Watch mode's interactive list: a header with the filter and the search, the rows that fit
/// (the selected one marked with `>`, the current one with `▶`), its keys, and the question
/// when a reset is to be confirmed.
pub fn list_view(course: &Course, state: &State, view: &ListView) -> String {
    let shown = view.visible(state.done_flags());
    let window = view.window(shown.len());
    let mut text = String::new();
    let filter = match view.filter() {
        Filter::All => "all".normal(),
        other => other.label().cyan().bold(),
    };
    let _ = write!(text, "{} · filter: {filter}", "Exercises".bold());
    if view.searching() || !view.query().is_empty() {
        let cursor = if view.searching() { "_" } else { "" };
        let _ = write!(text, " · search: {}{cursor}", view.query().cyan());
    }
    if shown.is_empty() {
        let _ = writeln!(text, "\n\n   {}", nothing_shown(view));
    } else {
        let _ = writeln!(text, " · {}-{} of {}\n", window.start + 1, window.end, shown.len());
    }
    let name_width = course.exercises().iter().map(|e| e.name.len()).max().unwrap_or(0);
    for &index in &shown[window] {
        let exercise = &course.exercises()[index];
        let selected = view.selected() == Some(index);
        let pointer = if selected { ">".cyan().bold() } else { " ".normal() };
        let marker = if index == state.current() { "▶".cyan().bold() } else { " ".normal() };
        let status = if state.is_done(index) { "done   ".green() } else { "pending".yellow() };
        let name = format!("{:<name_width$}", exercise.name);
        let name = if selected { name.reversed() } else { name.normal() };
        let path = path_link(course, &course.exercise_path(exercise));
        let _ = writeln!(text, "{pointer}{marker} {name}  {status}  {}", path.dimmed());
    }
    let keys = if view.searching() { SEARCH_KEYS } else { LIST_KEYS };
    let _ = writeln!(text, "\n{}", keys.dimmed());
    if let Some(index) = view.confirming_reset() {
        let path = course.exercise_path(&course.exercises()[index]);
        let _ = writeln!(
            text,
            "Reset {} to as shipped? Your version is kept as a backup. Press y to reset, any other key to cancel.",
            path_link(course, &path)
        );
    }
    text
}

/// Why the list is empty, as a sentence.
fn nothing_shown(view: &ListView) -> String {
    let kind = match view.filter() {
        Filter::All => "",
        Filter::Done => "done ",
        Filter::Pending => "pending ",
    };
    match (view.query(), view.filter()) {
        ("", Filter::Done) => "No exercise is done yet.".into(),
        ("", Filter::Pending) => "No exercise is pending: all are done.".into(),
        ("", Filter::All) => "The course has no exercises.".into(),
        (query, _) => format!("No {kind}exercise has `{query}` in its name."),
    }
}

/// The table `verify` prints: one row per exercise, then the failures' details.
pub fn summary_table(course: &Course, indices: &[usize], verdicts: &[Verdict], invoke: &str) -> String {
    let mut text = String::new();
    let width = indices.iter().map(|&i| course.exercises()[i].name.len()).max().unwrap_or(4).max(8);
    let _ = writeln!(
        text,
        "{}",
        format!("{:<width$}  {:<13}  {:>8}  summary", "exercise", "status", "time").bold()
    );
    for (&index, verdict) in indices.iter().zip(verdicts) {
        let exercise = &course.exercises()[index];
        let status = status_word(verdict.status());
        let padding = 13usize.saturating_sub(status_label(verdict.status()).len());
        let _ = writeln!(
            text,
            "{:<width$}  {status}{}  {:>7.2}s  {}",
            exercise.name,
            " ".repeat(padding),
            verdict.duration.as_secs_f64(),
            summary(verdict, invoke)
        );
    }
    let tally = Tally::of(verdicts);
    let _ = write!(text, "\n{} passed, {} failed", tally.passed, tally.failed);
    if tally.errors > 0 {
        let _ = write!(text, ", {} could not be checked", tally.errors);
    }
    text.push('\n');
    text
}

#[derive(Serialize)]
struct JsonReport<'a> {
    format_version: u32,
    /// False when a file that decides verdicts differs from the course as shipped.
    trusted: bool,
    /// Which files differ, when any do.
    #[serde(skip_serializing_if = "Tampering::is_clean")]
    integrity: &'a Tampering,
    summary: Tally,
    exercises: Vec<JsonExercise<'a>>,
}

/// One line per file that decides verdicts and differs from the course as shipped.
pub fn tampering_lines(tampering: &Tampering) -> Vec<String> {
    let lines = |paths: &[String], what: &str| {
        paths
            .iter()
            .map(|path| format!("{path} was {what}: this result cannot be trusted for grading"))
            .collect::<Vec<_>>()
    };
    [
        lines(&tampering.modified, "modified"),
        lines(&tampering.added, "added"),
        lines(&tampering.removed, "removed"),
    ]
    .concat()
}

/// The warning `verify` prints above its table when the course's own files were changed.
pub fn tampering_warning(tampering: &Tampering) -> String {
    tampering_lines(tampering).iter().map(|line| format!("{} {line}\n", "warning:".yellow().bold())).collect()
}

/// How many passed, failed, and could not be checked at all (setup errors).
#[derive(Serialize)]
struct Tally {
    total: usize,
    passed: usize,
    failed: usize,
    errors: usize,
}

impl Tally {
    fn of(verdicts: &[Verdict]) -> Self {
        let passed = verdicts.iter().filter(|v| v.passed()).count();
        let errors = verdicts.iter().filter(|v| v.status() == Status::Error).count();
        Tally { total: verdicts.len(), passed, failed: verdicts.len() - passed - errors, errors }
    }
}

#[derive(Serialize)]
struct JsonExercise<'a> {
    name: &'a str,
    section: &'a str,
    path: String,
    status: Status,
    duration_ms: u128,
    message: String,
    checks: &'a [CheckResult],
}

/// The summary, and for a verdict that is not a pass what to read to fix it: the `message` of
/// the JSON and of the gradebook.
pub fn message(verdict: &Verdict, invoke: &str) -> String {
    let mut message = summary(verdict, invoke);
    let details = details(verdict);
    if !verdict.passed() && !details.is_empty() {
        message.push('\n');
        message.push_str(details.trim_end());
    }
    message
}

/// `grade`'s gradebook as CSV: a row per student, a column of points per exercise, the total.
pub fn gradebook_csv<'a>(course: &Course, graded: impl Iterator<Item = &'a Graded>) -> String {
    let mut text = String::from("student");
    for exercise in course.exercises() {
        let _ = write!(text, ",{}", csv_field(&exercise.name));
    }
    text.push_str(",total,max\n");
    for student in graded {
        text.push_str(&csv_field(&student.student));
        for exercise in course.exercises() {
            // A student graded before an exercise was added to the course has no entry for it.
            let points = student.exercises.iter().find(|e| e.name == exercise.name).map_or(0.0, |e| e.points);
            let _ = write!(text, ",{points}");
        }
        let _ = writeln!(text, ",{},{}", student.points, student.max_points);
    }
    text
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// What `grade` prints at the end: each student's points, and where the gradebook is.
pub fn grade_summary<'a>(graded: impl Iterator<Item = &'a Graded>, out: &std::path::Path) -> String {
    let graded: Vec<&Graded> = graded.collect();
    let width = graded.iter().map(|g| g.student.len()).max().unwrap_or(7).max(7);
    let mut text = format!("{}\n", format!("{:<width$}  points", "student").bold());
    for student in &graded {
        let _ = writeln!(text, "{:<width$}  {}/{}", student.student, student.points, student.max_points);
    }
    let _ = writeln!(
        text,
        "\n{} graded. Gradebook: {} and {} (JUnit: {})",
        count(graded.len(), "student"),
        out.join("gradebook.csv").display(),
        out.join("gradebook.json").display(),
        out.join("junit.xml").display()
    );
    text
}

/// One JSON document for graders: see the README for its fields.
pub fn json(
    course: &Course,
    indices: &[usize],
    verdicts: &[Verdict],
    tampering: &Tampering,
    invoke: &str,
) -> String {
    let exercises: Vec<JsonExercise> = indices
        .iter()
        .zip(verdicts)
        .map(|(&index, verdict)| {
            let exercise = &course.exercises()[index];
            let message = message(verdict, invoke);
            JsonExercise {
                name: &exercise.name,
                section: &exercise.dir,
                path: format!("exercises/{}", exercise.rel_path()),
                status: verdict.status(),
                duration_ms: verdict.duration.as_millis(),
                message,
                checks: &verdict.checks,
            }
        })
        .collect();
    let report = JsonReport {
        format_version: 1,
        trusted: tampering.is_clean(),
        integrity: tampering,
        summary: Tally::of(verdicts),
        exercises,
    };
    serde_json::to_string_pretty(&report).expect("the report serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::verdict::{CheckOutcome, CheckResult, Outcome, Verdict};

    fn check(name: &str, outcome: CheckOutcome, message: &str) -> CheckResult {
        CheckResult { name: name.into(), outcome, message: message.into(), duration_ms: 0 }
    }

    #[test]
    fn a_verdict_says_what_failed_then_what_was_skipped() {
        let verdict = Verdict {
            checks: vec![
                check("values", CheckOutcome::Pass, ""),
                check("shape", CheckOutcome::Fail, "got [2]\nexpected [3]"),
                check("on CUDA", CheckOutcome::Skip, "no CUDA device"),
            ],
            ..Verdict::new(Outcome::ChecksFailed)
        };
        assert_eq!(summary(&verdict, "tensorlings"), "1 of 3 checks failed");
        assert_eq!(
            details(&verdict),
            "check `shape` failed:\n    got [2]\n    expected [3]\n\ncheck `on CUDA` skipped: no CUDA device\n"
        );
        let passed =
            Verdict { checks: vec![check("a", CheckOutcome::Pass, "")], ..Verdict::new(Outcome::Passed) };
        assert_eq!(summary(&passed, "tensorlings"), "1 check passed");
    }

    #[test]
    fn endings_are_explained() {
        let said = |outcome| summary(&Verdict::new(outcome), "cargo run --");
        assert!(said(Outcome::Signal { signal: libc::SIGSEGV }).contains("SIGSEGV, a segmentation fault"));
        let overflow = Verdict {
            output: "\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow\n".into(),
            ..Verdict::new(Outcome::Signal { signal: libc::SIGABRT })
        };
        assert!(summary(&overflow, "tensorlings").contains("overflowed its stack: is there a recursion"));
        assert!(
            said(Outcome::OverMemory { used: 9 << 30, limit: 8 << 30 })
                .contains("using 9 GiB of memory; the limit is 8 GiB")
        );
        assert!(said(Outcome::NoReport { code: Some(0) }).contains("std::process::exit"));
        let missing =
            said(Outcome::MissingBinary { bin: "a_check".into(), manifest: "course/Cargo.toml".into() });
        assert!(missing.ends_with("run `cargo run -- dev update`"), "{missing}");
    }

    #[test]
    fn hyperlinks_only_on_a_terminal_that_wants_colors() {
        assert!(hyperlinks_wanted(true, Some("xterm-256color"), None));
        assert!(hyperlinks_wanted(true, None, Some("")), "an empty NO_COLOR is not set");
        assert!(!hyperlinks_wanted(false, Some("xterm"), None), "not into a pipe or a file");
        assert!(!hyperlinks_wanted(true, Some("dumb"), None));
        assert!(!hyperlinks_wanted(true, Some("xterm"), Some("1")));
    }

    #[test]
    fn file_urls_are_percent_encoded_and_links_are_osc_8() {
        let url = file_url(Path::new("/home/a b/ex_1/50%.rs"), "box");
        assert_eq!(url, "file://box/home/a%20b/ex_1/50%25.rs");
        assert_eq!(hyperlink("file:///x", "x"), "\x1b]8;;file:///x\x1b\\x\x1b]8;;\x1b\\");
    }

    /// The fixture course (three exercises in one section), fresh progress.
    fn fixture() -> (Course, State) {
        let course =
            Course::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/basic")).unwrap();
        let state = State::load(&course).unwrap();
        (course, state)
    }

    #[test]
    fn the_list_view_marks_the_selection_and_the_current_exercise() {
        use crate::watch::events::Key;
        colored::control::set_override(false);
        let (course, mut state) = fixture();
        state.set_current(1);
        let mut view = ListView::new(course.exercises().iter().map(|e| e.name.clone()).collect(), 1, 2);
        let text = list_view(&course, &state, &view);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Exercises · filter: all · 1-2 of 3");
        assert_eq!(lines[2], "   add     pending  exercises/00_basics/add.rs");
        assert_eq!(lines[3], ">▶ typed   pending  exercises/00_basics/typed.rs");
        assert!(!text.contains("square"), "two rows fit");
        view.update(Key::Char('x'), state.done_flags());
        assert!(
            list_view(&course, &state, &view).contains("Reset exercises/00_basics/typed.rs to as shipped?")
        );
        view.update(Key::Char('n'), state.done_flags());
        for key in [Key::Char('f'), Key::Char('/'), Key::Char('s')] {
            view.update(key, state.done_flags());
        }
        let text = list_view(&course, &state, &view);
        assert!(text.starts_with(
            "Exercises · filter: done · search: s_\n\n   No done exercise has `s` in its name."
        ));
    }

    #[test]
    fn progress_bar_fills_in_proportion() {
        colored::control::set_override(false);
        assert_eq!(progress_bar(0, 4, 8), "[--------] 0/4 done");
        assert_eq!(progress_bar(2, 4, 8), "[####----] 2/4 done");
        assert_eq!(progress_bar(4, 4, 8), "[########] 4/4 done");
    }
}
