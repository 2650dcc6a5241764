//! Checking many exercises at once: one cargo build for all, then the check binaries in
//! parallel (exclusive ones alone, afterwards), with a progress bar. `render` shows the result.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cargo::Build;
use crate::check::{self, RunOptions};
use crate::course::{Course, check_bin};
use crate::staging::{Stage, Subject};
use crate::verdict::Verdict;

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
        examples: Vec::new(),
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
