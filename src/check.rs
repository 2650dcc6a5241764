//! Checking an exercise: build its check binary, run it under limits (timeout, memory, output
//! cap), read its report (`protocol`) and decide the verdict. No text for people is made here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Result;

use crate::cargo::{Build, BuildOutput, PathRewrite};
use crate::course::{Course, check_bin, hosted_lib};
use crate::exec::{self, Ending, Finished, Limits};
use crate::host::{self, HostedCheck, Hosting};
use crate::info_file::ExerciseInfo;
use crate::protocol::{self, Rejected};
use crate::replay::Rebuilt;
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

/// An error verdict when the exercise's check file is missing: cargo would say that the check
/// does not compile, which a learner would take for their own mistake.
fn missing_check_verdict(course: &Course, exercise: &ExerciseInfo) -> Option<Verdict> {
    let path = course.check_path(exercise);
    if path.exists() {
        return None;
    }
    Some(Verdict::new(Outcome::MissingCheck { path: course.display_path(&path).into_owned() }))
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
    let build = Build {
        course,
        bins: vec![bin.clone()],
        examples: Vec::new(),
        stage: None,
        color: options.color,
        show_progress,
    }
    .run()?;
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
    if let Some(verdict) = missing_check_verdict(course, exercise) {
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

/// What a check gets wherever it runs (its own process or the warm host's child): its
/// environment, its limits, the secret that signs its report and where that report goes.
struct Invocation {
    env: Vec<(String, String)>,
    unset: Vec<String>,
    limits: Limits,
    secret: [u8; 32],
    /// The names of the exercise's checks as `dev update` recorded them.
    expected_checks: Option<Vec<String>>,
    report_path: std::path::PathBuf,
    /// The report's folder, and the output pipes' of a check in the shared host; removed when
    /// the invocation is dropped.
    scratch: crate::scratch::Scratch,
}

impl Invocation {
    /// `Err`: why the check could not be prepared, for [`Outcome::CouldNotRun`].
    fn new(course: &Course, exercise: &ExerciseInfo, options: &RunOptions) -> Result<Invocation, String> {
        let scratch = crate::scratch::Scratch::new("tensorlings-check")
            .map_err(|e| format!("cannot create a temporary folder for the report: {e}"))?;
        let report_path = scratch.path().join("report.json");
        let mut limits = Limits {
            timeout: course.info.timeout(exercise),
            memory: Some(course.info.memory_limit(exercise).0),
        };
        let mut env = vec![
            ("TENSORLINGS_REPORT".to_string(), report_path.display().to_string()),
            ("TENSORLINGS_DEVICE".to_string(), options.device.clone()),
            ("TENSORLINGS_EXERCISE".to_string(), exercise.name.clone()),
            // The support library's allocator refuses a libtorch allocation past the limit with
            // a message that names its size, before the process ever holds it.
            ("TENSORLINGS_MEMORY_LIMIT".to_string(), limits.memory.unwrap_or(u64::MAX).to_string()),
            // The secret waits on stdin, which the harness reads before any learner code runs:
            // only the harness can sign the report (see `protocol`).
            ("TENSORLINGS_SECRET".to_string(), "stdin".to_string()),
        ];
        // A check binary asked for its names runs no check (`dev update` asks, never a check).
        let mut unset = vec!["TENSORLINGS_LIST_CHECKS".to_string()];
        match options.threads {
            Some(threads) => env.push(("TENSORLINGS_THREADS".to_string(), threads.to_string())),
            None => unset.push("TENSORLINGS_THREADS".to_string()),
        }
        if !options.color {
            env.push(("NO_COLOR".to_string(), "1".to_string()));
        }
        match &options.profile {
            Some(request) => limits.timeout += request.add_to(&mut env, &mut unset),
            None => unset.extend(crate::profile::Request::VARS.map(String::from)),
        }
        let secret =
            protocol::new_secret().map_err(|e| format!("cannot make a secret for the report: {e}"))?;
        let expected_checks = crate::shipped::recorded_checks(course, exercise);
        Ok(Invocation { env, unset, limits, secret, expected_checks, report_path, scratch })
    }

    /// The verdict once the check has ended.
    fn verdict(&self, finished: Finished) -> Verdict {
        let report = std::fs::read_to_string(&self.report_path).ok();
        let verdict = interpret(finished, report.as_deref(), self.limits, &self.secret);
        match &self.expected_checks {
            Some(expected) => with_expected_checks(verdict, expected),
            None => verdict,
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
    let invocation = match Invocation::new(course, exercise, options) {
        Ok(invocation) => invocation,
        Err(message) => return Verdict::new(Outcome::CouldNotRun { message }),
    };
    let mut command = Command::new(executable);
    command.current_dir(&course.root);
    for (name, value) in &invocation.env {
        command.env(name, value);
    }
    for name in &invocation.unset {
        command.env_remove(name);
    }
    match exec::run_limited(command, invocation.limits, &invocation.secret) {
        Ok(finished) => invocation.verdict(finished),
        Err(e) => Verdict::new(Outcome::CouldNotRun { message: format!("{e:#}") }),
    }
}

/// Builds and checks one exercise in the warm host (the path of watch mode and `run`): the
/// check is built as a library and run in a child the host forks. Without a host, or when the
/// host fails, the exercise is checked in a process of its own ([`check_exercise`]): the
/// verdict is the same. `show_progress`: see [`Build::show_progress`].
pub fn check_exercise_warm(
    course: &Course,
    exercise: &ExerciseInfo,
    options: &RunOptions,
    hosting: Option<&Hosting>,
    show_progress: bool,
) -> Result<Verdict> {
    let Some(hosting) = hosting else { return check_exercise(course, exercise, options, show_progress) };
    if let Some(verdict) = missing_check_verdict(course, exercise) {
        return Ok(verdict);
    }
    let start = Instant::now();
    let (program, library, warnings) = match build_hosted(course, exercise, options, hosting, show_progress)?
    {
        HostedBuild::Built { program, library, warnings } => (program, library, warnings),
        HostedBuild::CompileError(diagnostics) => {
            let mut verdict = outside_reach_verdict(course, exercise, None)
                .unwrap_or_else(|| Verdict::new(Outcome::CompileError { diagnostics }));
            verdict.duration = start.elapsed();
            return Ok(verdict);
        }
        HostedBuild::Unavailable => return check_exercise(course, exercise, options, show_progress),
    };
    if let Some(verdict) = outside_reach_verdict(course, exercise, None) {
        return Ok(verdict);
    }
    let invocation = match Invocation::new(course, exercise, options) {
        Ok(invocation) => invocation,
        Err(message) => return Ok(Verdict::new(Outcome::CouldNotRun { message })),
    };
    let hosted = HostedCheck {
        library: &library,
        cwd: &course.root,
        env: invocation.env.clone(),
        unset: invocation.unset.clone(),
        secret: &invocation.secret,
        limits: invocation.limits,
        scratch: invocation.scratch.path(),
    };
    match hosting.run(&program, &hosted) {
        // A crash on an invalid address may be a stack overflow on a thread the check started,
        // which the host's child cannot tell from a segfault (the check library's own runtime
        // never set up the handler that says so): a process of its own gives the verdict.
        Ok(finished) if crashed_on_memory_access(&finished) => {
            check_exercise(course, exercise, options, show_progress)
        }
        Ok(finished) => {
            let mut verdict = invocation.verdict(finished);
            verdict.warnings = warnings;
            verdict.duration = start.elapsed();
            Ok(verdict)
        }
        // The host failed, not the check: check it the usual way.
        Err(_) => check_exercise(course, exercise, options, show_progress),
    }
}

/// Whether the check was killed by SIGSEGV or SIGBUS.
fn crashed_on_memory_access(finished: &Finished) -> bool {
    match &finished.ending {
        Ending::Exited(status) => matches!(exec::signal_of(status), Some(libc::SIGSEGV | libc::SIGBUS)),
        _ => false,
    }
}

/// The outcome of building an exercise's check library for the warm host.
enum HostedBuild {
    Built {
        program: PathBuf,
        library: PathBuf,
        warnings: String,
    },
    /// The learner's file does not compile: the diagnostics.
    CompileError(String),
    /// No library could be had (a course without the host, a build problem outside the
    /// exercise): the process path decides and reports.
    Unavailable,
}

/// Builds the check library: by replaying rustc when only the learner's file changed since
/// cargo last built it (see `replay`), else with cargo, recording its rustc command.
fn build_hosted(
    course: &Course,
    exercise: &ExerciseInfo,
    options: &RunOptions,
    hosting: &Hosting,
    show_progress: bool,
) -> Result<HostedBuild> {
    let library = hosted_lib(exercise);
    let rewrite = PathRewrite::for_course(course);
    let recordings = hosting.recordings();
    if let Some((program, recorded)) = recordings.load(&library) {
        hosting.start_in_background(&program);
        let subject = std::fs::read(course.exercise_path(exercise)).unwrap_or_default();
        // Unchanged since the last replay (a second `run`, watch mode's first check): the
        // library is there already.
        if let Some(diagnostics) = recordings.built_from(&library, &subject, options.color) {
            return Ok(HostedBuild::Built {
                program,
                library: recorded.output().to_path_buf(),
                warnings: rewrite.apply(&diagnostics),
            });
        }
        match recorded.rebuild(options.color) {
            Ok(Rebuilt { library: Some(built), diagnostics, .. }) => {
                // Only a file that stayed the same while rustc read it is known to be what
                // was built.
                let stable = std::fs::read(course.exercise_path(exercise)).is_ok_and(|now| now == subject);
                if stable {
                    recordings.mark_built(&library, &subject, &diagnostics, options.color);
                }
                // Cargo did not see this build: should it build the library later (the
                // recording dropped), the learner's file must not pass for fresh by its time.
                crate::freshness::after_replay(course, exercise, stable.then_some(subject.as_slice()));
                return Ok(HostedBuild::Built {
                    program,
                    library: built,
                    warnings: rewrite.apply(&diagnostics),
                });
            }
            Ok(Rebuilt { library: None, diagnostics, errors_are_the_learners: true }) => {
                return Ok(HostedBuild::CompileError(rewrite.apply(&diagnostics)));
            }
            // In doubt: cargo builds, and records afresh.
            _ => recordings.forget(&library),
        }
    }
    let (build, log) = Build {
        course,
        bins: vec![host::HOST_BIN.to_string()],
        examples: vec![library.clone()],
        stage: None,
        color: options.color,
        show_progress,
    }
    .run_verbose()?;
    let program = build.bins.get(host::HOST_BIN).and_then(|b| b.executable.clone());
    let built = build.bins.get(&library);
    match (program, built.and_then(|b| b.executable.clone())) {
        (Some(program), Some(executable)) => {
            recordings.remember(course, exercise, &library, &program, &log);
            let warnings = built.map(|b| b.diagnostics.clone()).unwrap_or_default();
            Ok(HostedBuild::Built { program, library: executable, warnings })
        }
        // A compile error is the same in the library as in the binary.
        _ if built.is_some_and(|b| b.has_errors) => Ok(HostedBuild::CompileError(build.failure_of(&library))),
        _ => Ok(HostedBuild::Unavailable),
    }
}

/// `verdict`, unless its report lists other checks than `expected` (in names or order): then
/// the report is not the course's and the verdict says so, whatever the checks said.
fn with_expected_checks(verdict: Verdict, expected: &[String]) -> Verdict {
    // Only a report that was read has checks to compare: a crash or a set-up error stays what it is.
    let read = matches!(
        verdict.outcome,
        Outcome::Passed | Outcome::ChecksFailed | Outcome::AllSkipped | Outcome::ExitedWith { .. }
    );
    let reported: Vec<String> = verdict.checks.iter().map(|check| check.name.clone()).collect();
    if !read || reported == expected {
        return verdict;
    }
    Verdict { outcome: Outcome::OtherChecks { expected: expected.to_vec(), reported }, ..verdict }
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
    fn a_report_with_other_checks_than_recorded_is_not_trusted() {
        let passed = || interpret(finished(exited(0), ""), Some(&signed(PASSING)), SECOND, SECRET);
        let recorded = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(with_expected_checks(passed(), &recorded(&["a", "b"])).outcome, Outcome::Passed);
        for other in [&["a"][..], &["a", "b", "c"], &["b", "a"], &["a", "x"]] {
            let verdict = with_expected_checks(passed(), &recorded(other));
            assert!(
                matches!(verdict.outcome, Outcome::OtherChecks { .. }),
                "{other:?}: {:?}",
                verdict.outcome
            );
            assert_eq!(verdict.status(), Status::Fail);
        }
        // A crash has no checks to compare: it stays a crash.
        let crashed = interpret(finished(exited(0), ""), None, SECOND, SECRET);
        assert_eq!(
            with_expected_checks(crashed, &recorded(&["a"])).outcome,
            Outcome::NoReport { code: Some(0) }
        );
    }

    #[test]
    fn a_garbled_report_is_a_crash() {
        let verdict = interpret(finished(exited(0), ""), Some("{not json"), SECOND, SECRET);
        assert!(matches!(verdict.outcome, Outcome::BadReport { .. }));
        assert_eq!(verdict.status(), Status::Crash);
    }
}
