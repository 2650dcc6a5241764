//! What happened when an exercise was checked, as types: the checks with their outcomes and
//! messages, compiler diagnostics, a timeout, a signal, no report, a check that could not run.
//! No text is made here: `render` turns a verdict into words for people, JSON or JUnit.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The verdict in one word, as `verify --format json` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    /// It compiled and ran, and a check failed (or no check passed).
    Fail,
    CompileError,
    Timeout,
    /// Killed by a signal, stopped for its memory, or ended without a readable report.
    Crash,
    /// The checks could not run at all, through no fault of the exercise (e.g. `--device cuda`
    /// without a GPU): a setup problem.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Pass,
    Fail,
    Skip,
}

/// One check as the check binary reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub outcome: CheckOutcome,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub duration_ms: u64,
}

/// How the check of an exercise ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every check passed, or was skipped with at least one passing.
    Passed,
    /// At least one check failed: see [`Verdict::checks`].
    ChecksFailed,
    /// Every check was skipped: nothing was tested.
    AllSkipped,
    /// Every check passed, but the process then exited with this code.
    ExitedWith {
        code: Option<i32>,
    },
    /// rustc's diagnostics, rendered.
    CompileError {
        diagnostics: String,
    },
    /// The exercise's source reaches for code outside itself (see `check::reaches_outside`).
    ReachesOutside {
        path: String,
        line: usize,
        pattern: String,
        why: &'static str,
    },
    TimedOut {
        after: Duration,
    },
    OverMemory {
        used: u64,
        limit: u64,
    },
    /// Killed by this signal.
    Signal {
        signal: i32,
    },
    /// The process ended without writing a report; `code` is its exit code.
    NoReport {
        code: Option<i32>,
    },
    /// The report could not be read: why.
    BadReport {
        reason: String,
    },
    /// The report was not signed with the run's secret: something other than the checks wrote
    /// or changed it (learner code that writes a report and exits).
    Untrusted,
    /// The report, though signed, lists other checks than the ones `dev update` recorded for
    /// this exercise: the checks that ran are not the course's.
    OtherChecks {
        expected: Vec<String>,
        reported: Vec<String>,
    },
    /// The checks reported that they could not run (e.g. no CUDA device).
    SetupError {
        message: String,
    },
    /// The check process could not be started, or cargo failed outside any exercise.
    CouldNotRun {
        message: String,
    },
    /// The exercise's check file is missing (`path`, below the course root): the course is
    /// incomplete, not the learner's file wrong.
    MissingCheck {
        path: String,
    },
    /// The course package has no binary for this exercise: `dev update` was not run.
    MissingBinary {
        bin: String,
        manifest: String,
    },
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The checks as reported, in order (empty when none ran).
    pub checks: Vec<CheckResult>,
    /// Compiler warnings of a build that succeeded: they matter to a learner even on a pass.
    pub warnings: String,
    /// What the check process printed (capped), shown when it failed.
    pub output: String,
    pub device: Option<String>,
    pub duration: Duration,
    /// What `tensorlings profile` measured, when it ran (after every check passed).
    /// Boxed: most verdicts have none, and verdicts travel in enums whose size it would set.
    pub profile: Option<Box<crate::protocol::ProfileSection>>,
}

impl Verdict {
    pub fn new(outcome: Outcome) -> Self {
        Verdict {
            outcome,
            checks: Vec::new(),
            warnings: String::new(),
            output: String::new(),
            device: None,
            duration: Duration::ZERO,
            profile: None,
        }
    }

    pub fn status(&self) -> Status {
        match self.outcome {
            Outcome::Passed => Status::Pass,
            Outcome::ChecksFailed
            | Outcome::AllSkipped
            | Outcome::ExitedWith { .. }
            | Outcome::Untrusted
            | Outcome::OtherChecks { .. }
            | Outcome::ReachesOutside { .. } => Status::Fail,
            Outcome::CompileError { .. } => Status::CompileError,
            Outcome::TimedOut { .. } => Status::Timeout,
            Outcome::OverMemory { .. }
            | Outcome::Signal { .. }
            | Outcome::NoReport { .. }
            | Outcome::BadReport { .. }
            | Outcome::CouldNotRun { .. } => Status::Crash,
            Outcome::SetupError { .. } | Outcome::MissingBinary { .. } | Outcome::MissingCheck { .. } => {
                Status::Error
            }
        }
    }

    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }

    pub fn count(&self, outcome: CheckOutcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }
}
