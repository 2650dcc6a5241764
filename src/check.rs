//! Checking an exercise: build its check binary, run it under limits (timeout, memory, output
//! cap), read its report (`protocol`) and decide the verdict. No text for people is made here.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Result;

use crate::cargo::{Build, BuildOutput};
use crate::course::{Course, check_bin};
use crate::exec::{self, Ending, Finished, Limits};
use crate::info_file::ExerciseInfo;
use crate::protocol::{self, Rejected};
use crate::staging::Stage;
use crate::verdict::{CheckOutcome, Outcome, Verdict};

/// How check processes are run.
#[derive(Clone)]
pub struct RunOptions {
    /// `cpu`, `cuda` or `auto`, passed on as TENSORLINGS_DEVICE.
    pub device: String,
    /// libtorch intra-op threads; `None` leaves libtorch's default.
    pub threads: Option<usize>,
    pub color: bool,
    /// Profile mode (`tensorlings profile`): the profiles run after the checks.
    pub profile: Option<crate::profile::Request>,
}

/// A failing verdict when the exercise's source reaches outside itself (see `guard`).
fn outside_reach_verdict(course: &Course, exercise: &ExerciseInfo, stage: Option<&Stage>) -> Option<Verdict> {
    let path = match stage {
        Some(stage) => stage.dir().join(exercise.rel_path()),
        None => course.exercise_path(exercise),
    };
    let source = std::fs::read_to_string(&path).ok()?;
    let (line, pattern, why) = crate::guard::reaches_outside(&source)?;
    // A staged file stands for the learner's: name it as theirs.
    let shown = match stage {
        Some(_) => format!("exercises/{}", exercise.rel_path()),
        None => course.display_path(&path).into_owned(),
    };
    Some(Verdict::new(Outcome::ReachesOutside { path: shown, line, pattern, why }))
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
    let mut verdict = match build.bins.get(&bin).and_then(|b| b.executable.as_deref()) {
        Some(executable) => {
            let mut verdict = run_check(course, exercise, executable, options);
            if let Some(built) = build.bins.get(&bin) {
                verdict.warnings = built.diagnostics.clone();
            }
            verdict
        }
        None => {
            let failure = build.failure_of(&bin);
            // The course package lacks the binary: the course is out of date, not the exercise.
            if failure.contains(&format!("no bin target named `{bin}`")) {
                let manifest = course.display_path(&course.manifest_path()).into_owned();
                Verdict::new(Outcome::MissingBinary { bin, manifest })
            } else {
                Verdict::new(Outcome::CompileError { diagnostics: failure })
            }
        }
    };
    verdict.duration = start.elapsed();
    verdict
}

/// Runs a built check binary and reads its report.
pub fn run_check(
    course: &Course,
    exercise: &ExerciseInfo,
    executable: &Path,
    options: &RunOptions,
) -> Verdict {
    let could_not_run = |message: String| Verdict::new(Outcome::CouldNotRun { message });
    let report_dir = match tempfile::Builder::new().prefix("tensorlings-report").tempdir() {
        Ok(dir) => dir,
        Err(e) => return could_not_run(format!("cannot create a temporary folder for the report: {e}")),
    };
    let report_path = report_dir.path().join("report.json");
    let mut limits =
        Limits { timeout: course.info.timeout(exercise), memory: Some(course.info.memory_limit(exercise).0) };
    let mut command = Command::new(executable);
    command
        .current_dir(&course.root)
        .env("TENSORLINGS_REPORT", &report_path)
        .env("TENSORLINGS_DEVICE", &options.device)
        .env("TENSORLINGS_EXERCISE", &exercise.name)
        // The support library's allocator refuses a libtorch allocation past the limit with a
        // message that names its size, before the process ever holds it.
        .env("TENSORLINGS_MEMORY_LIMIT", limits.memory.unwrap_or(u64::MAX).to_string());
    match options.threads {
        Some(threads) => command.env("TENSORLINGS_THREADS", threads.to_string()),
        None => command.env_remove("TENSORLINGS_THREADS"),
    };
    if !options.color {
        command.env("NO_COLOR", "1");
    }
    if let Some(request) = &options.profile {
        limits.timeout += request.apply(&mut command);
    }
    // A fresh secret on stdin, which the harness reads before any learner code runs: only
    // the harness can sign the report (see `protocol`).
    let secret = match protocol::new_secret() {
        Ok(secret) => secret,
        Err(e) => return could_not_run(format!("cannot make a secret for the report: {e}")),
    };
    command.env("TENSORLINGS_SECRET", "stdin");
    let finished = match exec::run_limited(command, limits, &secret) {
        Ok(finished) => finished,
        Err(e) => return could_not_run(format!("{e:#}")),
    };
    let report = std::fs::read_to_string(&report_path).ok();
    interpret(finished, report.as_deref(), limits, &secret)
}

/// Decides the verdict from how the process ended and what it reported. Pure, so each way
/// an exercise can go wrong is unit-tested without a process.
fn interpret(finished: Finished, report: Option<&str>, limits: Limits, secret: &[u8]) -> Verdict {
    let mut output = finished.stdout.text();
    let stderr = finished.stderr.text();
    if !stderr.trim().is_empty() {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&stderr);
    }
    let ended =
        |outcome| Verdict { output: output.clone(), duration: finished.duration, ..Verdict::new(outcome) };
    let status = match finished.ending {
        Ending::TimedOut => return ended(Outcome::TimedOut { after: limits.timeout }),
        Ending::OverMemory { used } => {
            return ended(Outcome::OverMemory { used, limit: limits.memory.unwrap_or(used) });
        }
        Ending::Exited(status) => status,
    };
    if let Some(signal) = exec::signal_of(&status) {
        return ended(Outcome::Signal { signal });
    }
    let mut report = match report.map(|text| protocol::parse(text, Some(secret))) {
        None => return ended(Outcome::NoReport { code: status.code() }),
        Some(Err(Rejected::Unsigned)) => return ended(Outcome::Untrusted),
        Some(Err(Rejected::Unreadable(reason))) => return ended(Outcome::BadReport { reason }),
        Some(Err(Rejected::OtherVersion(version))) => {
            let reason = format!(
                "it has format_version {version}, and this tensorlings reads {}",
                protocol::FORMAT_VERSION
            );
            return ended(Outcome::BadReport { reason });
        }
        Some(Ok(report)) => report,
    };
    let profile = report.take_profile().map(Box::new);
    if let Some(message) = report.error {
        return Verdict { device: report.device, ..ended(Outcome::SetupError { message }) };
    }
    let mut verdict =
        Verdict { checks: report.checks, device: report.device, profile, ..ended(Outcome::Passed) };
    verdict.outcome = if verdict.count(CheckOutcome::Fail) > 0 {
        Outcome::ChecksFailed
    } else if verdict.count(CheckOutcome::Pass) == 0 {
        Outcome::AllSkipped
    } else if !status.success() {
        Outcome::ExitedWith { code: status.code() }
    } else {
        Outcome::Passed
    };
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Captured;
    use crate::verdict::Status;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    use std::time::Duration;

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

    /// The tests' reports are unsigned: [`signed`] signs them with this.
    const SECRET: &[u8] = b"the run's secret";

    /// `report` as the harness signs it (see `protocol`).
    fn signed(report: &str) -> String {
        use hmac::{Hmac, Mac};
        let zeros = "0".repeat(64);
        let text = report.replacen(
            "{\"format_version\":1,",
            &format!("{{\"format_version\":1,\"mac\": \"{zeros}\","),
            1,
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(text.as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        text.replacen(&zeros, &hex, 1)
    }

    #[test]
    fn a_report_without_the_signature_is_not_trusted() {
        let verdict = interpret(finished(exited(0), ""), Some(PASSING), SECOND, SECRET);
        assert_eq!(verdict.outcome, Outcome::Untrusted);
        assert_eq!(verdict.status(), Status::Fail);
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
        let verdict = interpret(finished(exited(0), ""), Some(&signed(PASSING)), SECOND, SECRET);
        assert_eq!(verdict.outcome, Outcome::Passed);
        assert_eq!((verdict.count(CheckOutcome::Pass), verdict.count(CheckOutcome::Skip)), (1, 1));
        assert_eq!(verdict.device.as_deref(), Some("cpu"));
    }

    #[test]
    fn a_failed_check_fails_with_its_message() {
        let verdict = interpret(finished(exited(1), ""), Some(&signed(FAILING)), SECOND, SECRET);
        assert_eq!(verdict.outcome, Outcome::ChecksFailed);
        assert_eq!(verdict.status(), Status::Fail);
        assert_eq!(verdict.checks[1].message, "got [2]\nexpected [3]");
    }

    #[test]
    fn exit_zero_without_report_fails() {
        let verdict = interpret(finished(exited(0), "hi"), None, SECOND, SECRET);
        assert_eq!(verdict.outcome, Outcome::NoReport { code: Some(0) });
        assert_eq!(verdict.status(), Status::Crash);
        assert_eq!(verdict.output, "hi");
    }

    #[test]
    fn only_skips_is_not_a_pass() {
        let report = r#"{"format_version":1,"checks":[{"name":"b","outcome":"skip"}]}"#;
        let verdict = interpret(finished(exited(0), ""), Some(&signed(report)), SECOND, SECRET);
        assert_eq!(verdict.outcome, Outcome::AllSkipped);
        assert_eq!(verdict.status(), Status::Fail);
    }

    #[test]
    fn a_nonzero_exit_with_a_clean_report_fails() {
        let verdict = interpret(finished(exited(3), ""), Some(&signed(PASSING)), SECOND, SECRET);
        assert_eq!(verdict.outcome, Outcome::ExitedWith { code: Some(3) });
    }

    #[test]
    fn a_signal_is_a_crash() {
        let ending = Ending::Exited(ExitStatus::from_raw(libc::SIGABRT));
        let verdict = interpret(finished(ending, ""), None, SECOND, SECRET);
        assert_eq!(verdict.outcome, Outcome::Signal { signal: libc::SIGABRT });
        assert_eq!(verdict.status(), Status::Crash);
    }

    #[test]
    fn a_timeout_keeps_its_limit() {
        let limits = Limits { timeout: Duration::from_secs(7), memory: None };
        let verdict = interpret(finished(Ending::TimedOut, ""), None, limits, SECRET);
        assert_eq!(verdict.outcome, Outcome::TimedOut { after: Duration::from_secs(7) });
        assert_eq!(verdict.status(), Status::Timeout);
    }

    #[test]
    fn over_the_memory_limit_keeps_both_sizes() {
        let limits = Limits { timeout: Duration::from_secs(1), memory: Some(8 << 30) };
        let verdict = interpret(finished(Ending::OverMemory { used: 9 << 30 }, ""), None, limits, SECRET);
        assert_eq!(verdict.outcome, Outcome::OverMemory { used: 9 << 30, limit: 8 << 30 });
        assert_eq!(verdict.status(), Status::Crash);
    }

    #[test]
    fn a_set_up_error_is_reported_once() {
        let report = r#"{"format_version":1,"device":"none","error":"no CUDA device","checks":[]}"#;
        let verdict = interpret(finished(exited(1), ""), Some(&signed(report)), SECOND, SECRET);
        assert_eq!(verdict.outcome, Outcome::SetupError { message: "no CUDA device".into() });
        assert_eq!(verdict.status(), Status::Error);
    }

    #[test]
    fn a_garbled_report_is_a_crash() {
        let verdict = interpret(finished(exited(0), ""), Some("{not json"), SECOND, SECRET);
        assert!(matches!(verdict.outcome, Outcome::BadReport { .. }));
        assert_eq!(verdict.status(), Status::Crash);
    }
}
