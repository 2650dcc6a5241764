//! Text that people read: verdicts, the exercise list, progress lines; and the same verdicts for
//! machines (JSON, and JUnit XML in `junit`).

pub mod junit;

use std::fmt::Write as _;

use colored::Colorize;
use serde::Serialize;

use crate::bytes::Bytes;
use crate::course::Course;
use crate::grade::Graded;
use crate::info_file::ExerciseInfo;
use crate::state::State;
use crate::verdict::{CheckOutcome, CheckResult, Outcome, Status, Verdict};

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
        Outcome::SetupError { message } | Outcome::CouldNotRun { message } => message.clone(),
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
            course.display_path(&solution).underline()
        );
    } else if verdict.status() == Status::Error {
        let mark = "✗".red().bold();
        let _ = writeln!(text, "{mark} {} could not be checked: {summary}", exercise.name.bold());
    } else {
        let _ = writeln!(text, "{} {} {}: {summary}", "✗".red().bold(), exercise.name.bold(), "failed".red());
        let path = course.exercise_path(exercise);
        let _ = writeln!(text, "Fix {}; {hint}.", course.display_path(&path).underline());
    }
    text
}

/// "1 check", "2 checks".
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
            course.display_path(&path).dimmed()
        );
    }
    text
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
    summary: Tally,
    exercises: Vec<JsonExercise<'a>>,
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
pub fn json(course: &Course, indices: &[usize], verdicts: &[Verdict], invoke: &str) -> String {
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
    let report = JsonReport { format_version: 1, summary: Tally::of(verdicts), exercises };
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
    fn progress_bar_fills_in_proportion() {
        colored::control::set_override(false);
        assert_eq!(progress_bar(0, 4, 8), "[--------] 0/4 done");
        assert_eq!(progress_bar(2, 4, 8), "[####----] 2/4 done");
        assert_eq!(progress_bar(4, 4, 8), "[########] 4/4 done");
    }
}
