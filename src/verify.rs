//! Checking many exercises at once: one cargo build for all, then the check binaries in
//! parallel (exclusive ones alone, afterwards), with a progress bar, a table or JSON.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use colored::Colorize;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cargo::Build;
use crate::check::{self, CheckResult, RunOptions, Status, Verdict};
use crate::course::{Course, check_bin};
use crate::render;
use crate::staging::{Stage, Subject};

pub struct Options<'a> {
    pub run: RunOptions,
    /// Which exercise files to check.
    pub subject: Subject<'a>,
    pub jobs: usize,
    pub progress: bool,
}

/// Checks the exercises at `indices` (course order) and returns their verdicts in that order.
pub fn verify(course: &Course, indices: &[usize], options: &Options) -> Result<Vec<Verdict>> {
    let stage = match options.subject {
        Subject::Exercises => None,
        subject => {
            let stage = Stage::open(course)?;
            stage.stage(course, indices, subject)?;
            Some(stage)
        }
    };
    let bins = indices.iter().map(|&i| check_bin(&course.exercises()[i])).collect();
    let build = Build {
        course,
        bins,
        stage: stage.as_ref(),
        color: options.run.color,
        show_progress: options.progress,
    }
    .run()?;
    // Created after the build, whose own spinner shows when it takes long.
    let bar = if options.progress { ProgressBar::new(indices.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<30} [{bar:30}] {pos}/{len} checked ({elapsed})")
            .expect("the template is valid")
            .progress_chars("#>-"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message("running the checks");

    let (exclusive, parallel): (Vec<usize>, Vec<usize>) =
        (0..indices.len()).partition(|&slot| course.exercises()[indices[slot]].exclusive);
    let verdicts: Vec<Mutex<Option<Verdict>>> = indices.iter().map(|_| Mutex::new(None)).collect();
    let check_slot = |slot: usize, run: &RunOptions| {
        let exercise = &course.exercises()[indices[slot]];
        let verdict =
            check::verdict_after_build(course, exercise, &build, stage.as_ref(), run, Instant::now());
        bar.set_message(exercise.name.clone());
        bar.inc(1);
        *verdicts[slot].lock().expect("no thread panics while holding it") = Some(verdict);
    };

    // Parallel checks share the cores, so each gets one libtorch thread.
    let jobs = options.jobs.clamp(1, parallel.len().max(1));
    let shared = RunOptions { threads: (jobs > 1).then_some(1), ..options.run.clone() };
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while let Some(&slot) = parallel.get(next.fetch_add(1, Ordering::Relaxed)) {
                    check_slot(slot, &shared);
                }
            });
        }
    });
    for slot in exclusive {
        check_slot(slot, &options.run);
    }
    bar.finish_and_clear();
    Ok(verdicts
        .into_iter()
        .map(|v| v.into_inner().expect("not poisoned").expect("every slot was checked"))
        .collect())
}

/// The table `verify` prints: one row per exercise, then the failures' details.
pub fn summary_table(course: &Course, indices: &[usize], verdicts: &[Verdict]) -> String {
    let mut text = String::new();
    let width = indices.iter().map(|&i| course.exercises()[i].name.len()).max().unwrap_or(4).max(8);
    let _ = writeln!(
        text,
        "{}",
        format!("{:<width$}  {:<13}  {:>8}  summary", "exercise", "status", "time").bold()
    );
    for (&index, verdict) in indices.iter().zip(verdicts) {
        let exercise = &course.exercises()[index];
        let status = render::status_word(verdict.status);
        let padding = 13usize.saturating_sub(verdict.status.label().len());
        let _ = writeln!(
            text,
            "{:<width$}  {status}{}  {:>7.2}s  {}",
            exercise.name,
            " ".repeat(padding),
            verdict.duration.as_secs_f64(),
            verdict.summary
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
        let errors = verdicts.iter().filter(|v| v.status == Status::Error).count();
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

/// One JSON document for graders: see the README for its fields.
pub fn json(course: &Course, indices: &[usize], verdicts: &[Verdict]) -> String {
    let exercises: Vec<JsonExercise> = indices
        .iter()
        .zip(verdicts)
        .map(|(&index, verdict)| {
            let exercise = &course.exercises()[index];
            let mut message = verdict.summary.clone();
            if !verdict.passed() && !verdict.details.is_empty() {
                message.push('\n');
                message.push_str(verdict.details.trim_end());
            }
            JsonExercise {
                name: &exercise.name,
                section: &exercise.dir,
                path: format!("exercises/{}", exercise.rel_path()),
                status: verdict.status,
                duration_ms: verdict.duration.as_millis(),
                message,
                checks: &verdict.checks,
            }
        })
        .collect();
    let report = JsonReport { format_version: 1, summary: Tally::of(verdicts), exercises };
    serde_json::to_string_pretty(&report).expect("the report serializes")
}
