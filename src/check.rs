//! Checking an exercise: build its check binary, run it under a timeout, read its report
//! (docs/check-protocol.md) and turn all of that into a verdict.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::cargo::{Build, BuildOutput};
use crate::course::{Course, check_bin};
use crate::exec::{self, Ending, Finished, Limits};
use crate::info_file::ExerciseInfo;
use crate::render::count;
use crate::staging::Stage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    /// It compiled and ran, and a check failed.
    Fail,
    CompileError,
    Timeout,
    /// Killed by a signal, or ended without a readable report.
    Crash,
    /// The checks could not run at all, through no fault of the exercise (e.g. `--device cuda`
    /// without a GPU): a setup problem.
    Error,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::CompileError => "compile error",
            Status::Timeout => "timeout",
            Status::Crash => "crash",
            Status::Error => "setup error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Pass,
    Fail,
    Skip,
}

/// One check as the check binary reported it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub outcome: CheckOutcome,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub duration_ms: u64,
}

#[derive(Deserialize)]
struct Report {
    format_version: u32,
    #[serde(default)]
    device: Option<String>,
    /// Why no check could run, when set-up failed.
    #[serde(default)]
    error: Option<String>,
    checks: Vec<CheckResult>,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub status: Status,
    /// One line, e.g. "2 of 5 checks failed".
    pub summary: String,
    /// What to read to fix it: compiler output, or the failed checks' messages.
    pub details: String,
    pub checks: Vec<CheckResult>,
    /// What the check process printed (capped), shown when it failed.
    pub output: String,
    pub device: Option<String>,
    pub duration: Duration,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }

    fn compile_error(details: String, duration: Duration) -> Self {
        Verdict {
            status: Status::CompileError,
            summary: "it does not compile".into(),
            details,
            checks: Vec::new(),
            output: String::new(),
            device: None,
            duration,
        }
    }
}

/// How check processes are run.
#[derive(Clone)]
pub struct RunOptions {
    /// `cpu`, `cuda` or `auto`, passed on as TENSORLINGS_DEVICE.
    pub device: String,
    /// libtorch intra-op threads; `None` leaves libtorch's default.
    pub threads: Option<usize>,
    pub color: bool,
}

/// Code an exercise may not contain: the check compiles it beside the reference solution and
/// the harness, which these would reach. Each with why, for the message.
const OUTSIDE_REACH: &[(&str, &str)] = &[
    ("super::", "refers to code outside the exercise"),
    ("crate::", "refers to code outside the exercise"),
    ("include!", "includes another file"),
    ("include_str!", "includes another file"),
    ("include_bytes!", "includes another file"),
    ("#[path", "includes another file"),
    ("TENSORLINGS_", "reads tensorlings' own settings"),
];

/// Why an exercise's source reaches outside itself, with the line, or `None`. Comments are
/// skipped, so a learner's note that mentions `super::` is fine.
pub fn reaches_outside(source: &str) -> Option<(usize, &'static str, &'static str)> {
    source.lines().enumerate().find_map(|(index, line)| {
        let code = line.split("//").next().unwrap_or("");
        OUTSIDE_REACH
            .iter()
            .find(|(pattern, _)| code.contains(pattern))
            .map(|&(pattern, why)| (index + 1, pattern, why))
    })
}

/// A failing verdict when the exercise's source reaches outside itself (see [`OUTSIDE_REACH`]).
fn outside_reach_verdict(course: &Course, exercise: &ExerciseInfo, stage: Option<&Stage>) -> Option<Verdict> {
    let path = match stage {
        Some(stage) => stage.dir().join(exercise.rel_path()),
        None => course.exercise_path(exercise),
    };
    let source = std::fs::read_to_string(&path).ok()?;
    let (line, pattern, why) = reaches_outside(&source)?;
    Some(Verdict {
        status: Status::Fail,
        summary: "it reaches outside the exercise".into(),
        details: format!(
            "{}:{line} uses `{pattern}`, which {why}: an exercise may use only its own code, tch and \
             tensorlings_support (the check compiles it next to the reference solution).\n",
            course.display_path(&path)
        ),
        ..Verdict::compile_error(String::new(), Duration::ZERO)
    })
}

/// Builds and checks one exercise (the path of `run` and watch mode).
/// `show_progress`: see [`Build::show_progress`]; off where the screen is drawn whole (watch).
pub fn check_exercise(
    course: &Course,
    exercise: &ExerciseInfo,
    options: &RunOptions,
    show_progress: bool,
) -> Result<Verdict> {
    let start = Instant::now();
    let bin = check_bin(exercise);
    let build =
        Build { course, bins: vec![bin.clone()], stage: None, color: options.color, show_progress }.run()?;
    Ok(verdict_after_build(course, exercise, &build, None, options, start))
}

/// The verdict of one exercise once its binary was (or failed to be) built.
pub fn verdict_after_build(
    course: &Course,
    exercise: &ExerciseInfo,
    build: &BuildOutput,
    stage: Option<&Stage>,
    options: &RunOptions,
    start: Instant,
) -> Verdict {
    if let Some(verdict) = outside_reach_verdict(course, exercise, stage) {
        return verdict;
    }
    let bin = check_bin(exercise);
    match build.bins.get(&bin).and_then(|b| b.executable.as_deref()) {
        Some(executable) => {
            let mut verdict = run_check(course, exercise, executable, options);
            verdict.duration = start.elapsed();
            // Warnings matter to a learner even when the checks pass.
            if let Some(built) = build.bins.get(&bin)
                && !built.diagnostics.is_empty()
                && verdict.details.is_empty()
            {
                verdict.details = built.diagnostics.clone();
            }
            verdict
        }
        None => {
            let failure = build.failure_of(&bin);
            // The course package lacks the binary: the course is out of date, not the exercise.
            if failure.contains(&format!("no bin target named `{bin}`")) {
                return Verdict {
                    status: Status::Error,
                    summary: format!(
                        "{} has no binary `{bin}`: the course package is out of date; run `tensorlings dev update`",
                        course.display_path(&course.manifest_path())
                    ),
                    ..Verdict::compile_error(String::new(), start.elapsed())
                };
            }
            Verdict::compile_error(failure, start.elapsed())
        }
    }
}

/// Runs a built check binary and reads its report.
pub fn run_check(
    course: &Course,
    exercise: &ExerciseInfo,
    executable: &Path,
    options: &RunOptions,
) -> Verdict {
    let report_dir = match tempfile::Builder::new().prefix("tensorlings-report").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            return crash(format!("cannot create a temporary folder for the report: {e}"), String::new());
        }
    };
    let report_path = report_dir.path().join("report.json");
    let mut command = Command::new(executable);
    command
        .current_dir(&course.root)
        .env("TENSORLINGS_REPORT", &report_path)
        .env("TENSORLINGS_DEVICE", &options.device)
        .env("TENSORLINGS_EXERCISE", &exercise.name);
    match options.threads {
        Some(threads) => command.env("TENSORLINGS_THREADS", threads.to_string()),
        None => command.env_remove("TENSORLINGS_THREADS"),
    };
    if !options.color {
        command.env("NO_COLOR", "1");
    }
    let limits =
        Limits { timeout: course.info.timeout(exercise), memory: Some(course.info.memory_limit(exercise).0) };
    // The support library's allocator refuses a libtorch allocation past the limit with a
    // message that names its size, before the process ever holds it.
    command.env("TENSORLINGS_MEMORY_LIMIT", course.info.memory_limit(exercise).0.to_string());
    let finished = match exec::run_limited(command, limits) {
        Ok(finished) => finished,
        Err(e) => return crash(format!("{e:#}"), String::new()),
    };
    let report = std::fs::read_to_string(&report_path).ok();
    interpret(finished, report.as_deref(), limits)
}

fn crash(summary: String, output: String) -> Verdict {
    Verdict {
        status: Status::Crash,
        summary,
        details: String::new(),
        checks: Vec::new(),
        output,
        device: None,
        duration: Duration::ZERO,
    }
}

/// Decides the verdict from how the process ended and what it reported. Pure, so each way
/// an exercise can go wrong is unit-tested without a process.
fn interpret(finished: Finished, report: Option<&str>, limits: Limits) -> Verdict {
    let mut output = finished.stdout.text();
    let stderr = finished.stderr.text();
    if !stderr.trim().is_empty() {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&stderr);
    }
    let duration = finished.duration;
    let status = match finished.ending {
        Ending::TimedOut => {
            return Verdict {
                status: Status::Timeout,
                summary: format!(
                    "it was stopped after {} s: is there an endless loop, or a very large tensor?",
                    limits.timeout.as_secs()
                ),
                duration,
                ..crash(String::new(), output)
            };
        }
        Ending::OverMemory { used } => {
            let limit = Bytes(limits.memory.unwrap_or(used));
            return Verdict {
                summary: format!(
                    "it was stopped for using {} of memory; the limit is {limit}: is a tensor far larger than \
                     the task needs (a broadcast to n x n, a copy per iteration)?",
                    Bytes(used)
                ),
                duration,
                ..crash(String::new(), output)
            };
        }
        Ending::Exited(status) => status,
    };
    if let Some(signal) = exec::describe_signal(&status) {
        return Verdict {
            summary: format!("the check process was {signal}"),
            duration,
            ..crash(String::new(), output)
        };
    }
    let report = match report.map(serde_json::from_str::<Report>) {
        None => {
            let summary = if status.success() {
                "the check process exited before reporting (does the exercise call std::process::exit?)"
                    .to_string()
            } else {
                format!("the check process exited with code {} before reporting", status.code().unwrap_or(-1))
            };
            return Verdict { summary, duration, ..crash(String::new(), output) };
        }
        Some(Err(e)) => {
            return Verdict {
                summary: format!("the check process wrote a report that cannot be read: {e}"),
                duration,
                ..crash(String::new(), output)
            };
        }
        Some(Ok(report)) if report.format_version != 1 => {
            return Verdict {
                summary: format!("the check report has format_version {}, expected 1", report.format_version),
                duration,
                ..crash(String::new(), output)
            };
        }
        Some(Ok(report)) => report,
    };
    if let Some(error) = report.error {
        return Verdict {
            status: Status::Error,
            summary: error,
            duration,
            device: report.device,
            ..crash(String::new(), output)
        };
    }

    let failed: Vec<&CheckResult> =
        report.checks.iter().filter(|c| c.outcome == CheckOutcome::Fail).collect();
    let passed = report.checks.iter().filter(|c| c.outcome == CheckOutcome::Pass).count();
    let skipped = report.checks.len() - failed.len() - passed;
    let (status, summary) = if !failed.is_empty() {
        (Status::Fail, format!("{} of {} failed", failed.len(), count(report.checks.len(), "check")))
    } else if passed == 0 {
        (Status::Fail, "no check ran (all were skipped)".to_string())
    } else if !status.success() {
        (
            Status::Fail,
            format!("every check passed, but the process exited with code {}", status.code().unwrap_or(-1)),
        )
    } else if skipped > 0 {
        (Status::Pass, format!("{} passed, {skipped} skipped", count(passed, "check")))
    } else {
        (Status::Pass, format!("{} passed", count(passed, "check")))
    };
    // Failures first; then what was skipped and why, so that "not tested here" is visible.
    let skips = report.checks.iter().filter(|c| c.outcome == CheckOutcome::Skip);
    let details = failed
        .iter()
        .map(|c| format!("check `{}` failed:\n{}\n", c.name, indent(c.message.trim_end())))
        .chain(skips.map(|c| format!("check `{}` skipped: {}\n", c.name, c.message.trim_end())))
        .collect::<Vec<_>>()
        .join("\n");
    Verdict { status, summary, details, checks: report.checks, output, device: report.device, duration }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Captured;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn finished(ending: Ending, stdout: &str) -> Finished {
        Finished {
            ending,
            stdout: Captured { bytes: stdout.as_bytes().to_vec(), dropped: 0 },
            stderr: Captured { bytes: Vec::new(), dropped: 0 },
            duration: Duration::from_millis(5),
        }
    }

    fn exited(code: i32) -> Ending {
        Ending::Exited(ExitStatus::from_raw(code << 8))
    }

    const SECOND: Limits = Limits { timeout: Duration::from_secs(1), memory: None };

    const PASSING: &str = r#"{"format_version":1,"device":"cpu","checks":[
        {"name":"a","outcome":"pass","message":"","duration_ms":1},
        {"name":"b","outcome":"skip","message":"no CUDA","duration_ms":0}]}"#;

    const FAILING: &str = r#"{"format_version":1,"checks":[
        {"name":"a","outcome":"pass"},
        {"name":"shape","outcome":"fail","message":"got [2]\nexpected [3]"}]}"#;

    #[test]
    fn a_clean_report_passes() {
        let verdict = interpret(finished(exited(0), ""), Some(PASSING), SECOND);
        assert_eq!(verdict.status, Status::Pass);
        assert_eq!(verdict.summary, "1 check passed, 1 skipped");
        assert_eq!(verdict.details, "check `b` skipped: no CUDA\n");
        assert_eq!(verdict.device.as_deref(), Some("cpu"));
    }

    #[test]
    fn a_failed_check_fails_with_its_message() {
        let verdict = interpret(finished(exited(1), ""), Some(FAILING), SECOND);
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(verdict.summary, "1 of 2 checks failed");
        assert!(
            verdict.details.contains("check `shape` failed:\n    got [2]\n    expected [3]"),
            "{}",
            verdict.details
        );
    }

    #[test]
    fn exit_zero_without_report_fails() {
        let verdict = interpret(finished(exited(0), "hi"), None, SECOND);
        assert_eq!(verdict.status, Status::Crash);
        assert!(verdict.summary.contains("std::process::exit"));
        assert_eq!(verdict.output, "hi");
    }

    #[test]
    fn only_skips_is_not_a_pass() {
        let report = r#"{"format_version":1,"checks":[{"name":"b","outcome":"skip"}]}"#;
        let verdict = interpret(finished(exited(0), ""), Some(report), SECOND);
        assert_eq!(verdict.status, Status::Fail);
    }

    #[test]
    fn a_nonzero_exit_with_a_clean_report_fails() {
        let verdict = interpret(finished(exited(3), ""), Some(PASSING), SECOND);
        assert_eq!(verdict.status, Status::Fail);
        assert!(verdict.summary.contains("code 3"));
    }

    #[test]
    fn a_signal_is_a_crash_that_names_it() {
        let verdict =
            interpret(finished(Ending::Exited(ExitStatus::from_raw(libc::SIGABRT)), ""), None, SECOND);
        assert_eq!(verdict.status, Status::Crash);
        assert!(verdict.summary.contains("SIGABRT"), "{}", verdict.summary);
    }

    #[test]
    fn a_timeout_says_how_long() {
        let verdict = interpret(
            finished(Ending::TimedOut, ""),
            None,
            Limits { timeout: Duration::from_secs(7), memory: None },
        );
        assert_eq!(verdict.status, Status::Timeout);
        assert!(verdict.summary.contains("7 s"));
    }

    #[test]
    fn over_the_memory_limit_says_how_much_against_the_limit() {
        let limits = Limits { timeout: Duration::from_secs(1), memory: Some(8 << 30) };
        let verdict = interpret(finished(Ending::OverMemory { used: 9 << 30 }, ""), None, limits);
        assert_eq!(verdict.status, Status::Crash);
        assert!(verdict.summary.contains("using 9 GiB of memory; the limit is 8 GiB"), "{}", verdict.summary);
    }

    #[test]
    fn a_set_up_error_is_reported_once() {
        let report = r#"{"format_version":1,"device":"none","error":"no CUDA device","checks":[]}"#;
        let verdict = interpret(finished(exited(1), ""), Some(report), SECOND);
        assert_eq!(verdict.status, Status::Error);
        assert_eq!(verdict.summary, "no CUDA device");
        assert!(verdict.details.is_empty());
    }

    #[test]
    fn reaching_outside_the_exercise_is_found_outside_comments() {
        assert_eq!(
            reaches_outside("fn f() -> i64 { super::solution::f() }"),
            Some((1, "super::", "refers to code outside the exercise"))
        );
        assert_eq!(reaches_outside("// see super::x\nfn f() {}\n").map(|r| r.0), None);
        assert_eq!(reaches_outside("fn a() {}\ninclude!(\"../../solutions/x.rs\");").map(|r| r.0), Some(2));
        assert!(reaches_outside("let p = std::env::var(\"TENSORLINGS_REPORT\");").is_some());
        assert_eq!(reaches_outside("use tch::Tensor;\nuse tensorlings_support::random;\n"), None);
    }

    #[test]
    fn a_garbled_report_is_a_crash() {
        let verdict = interpret(finished(exited(0), ""), Some("{not json"), SECOND);
        assert_eq!(verdict.status, Status::Crash);
        assert!(verdict.summary.contains("cannot be read"));
    }
}
