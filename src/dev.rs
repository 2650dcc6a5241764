//! Commands for course authors: `dev check` (the course's self-check) and `dev update`
//! (the binary list of the course package, generated from info.toml).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use colored::Colorize;

use crate::cargo::Build;
use crate::check::{RunOptions, Status};
use crate::commands::App;
use crate::course::{Course, check_bin, solution_bin};
use crate::state::write_atomically;
use crate::verify;

/// Everything after this line in the course package's Cargo.toml is generated.
const GENERATED_MARKER: &str =
    "# Binaries: generated from info.toml by `tensorlings dev update`. Do not edit below.";

/// The `[[bin]]` tables of every exercise: the learner's file, the solution and the check.
fn generated_bins(course: &Course) -> String {
    let up = "../".repeat(Path::new(&course.info.course.package).components().count());
    let mut text = String::new();
    for exercise in course.exercises() {
        let rel = exercise.rel_path();
        for (name, dir) in [
            (exercise.name.clone(), "exercises"),
            (solution_bin(exercise), "solutions"),
            (check_bin(exercise), "checks"),
        ] {
            let _ = write!(text, "\n[[bin]]\nname = \"{name}\"\npath = \"{up}{dir}/{rel}\"\n");
        }
    }
    text
}

/// The manifest's hand-written part, and whether its generated part is up to date.
fn split_manifest(course: &Course) -> Result<(String, bool)> {
    let path = course.manifest_path();
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let Some(at) = text.find(GENERATED_MARKER) else {
        anyhow::bail!("{} has no line `{GENERATED_MARKER}`: add it at the end", path.display());
    };
    let head = text[..at].to_string();
    let current = &text[at + GENERATED_MARKER.len()..];
    Ok((head, current.trim() == generated_bins(course).trim()))
}

pub fn update(course: &Course) -> Result<ExitCode> {
    let (head, up_to_date) = split_manifest(course)?;
    if up_to_date {
        println!("{} is up to date.", course.display_path(&course.manifest_path()));
    } else {
        let text = format!("{head}{GENERATED_MARKER}\n{}", generated_bins(course));
        write_atomically(&course.manifest_path(), text.as_bytes())?;
        println!("Rewrote the binaries in {}.", course.display_path(&course.manifest_path()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Problems with the course's files that need no build to find.
fn static_problems(course: &Course) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for exercise in course.exercises() {
        for path in
            [course.exercise_path(exercise), course.solution_path(exercise), course.check_path(exercise)]
        {
            let shown = course.display_path(&path).into_owned();
            let Ok(text) = std::fs::read_to_string(&path) else {
                problems.push(format!("{}: {shown} is missing", exercise.name));
                continue;
            };
            // Exercises and solutions are include!d into the check binary, where inner
            // attributes and inner doc comments are not allowed.
            if !path.starts_with(course.root.join("checks"))
                && let Some((number, _)) = text.lines().enumerate().find(|(_, line)| {
                    line.trim_start().starts_with("//!") || line.trim_start().starts_with("#![")
                })
            {
                problems.push(format!(
                    "{shown}:{}: inner attributes and `//!` comments cannot be include!d into the check; use `//`",
                    number + 1
                ));
            }
        }
    }
    for dir in ["exercises", "solutions", "checks"] {
        for file in rust_files(&course.root.join(dir))? {
            let rel =
                file.strip_prefix(course.root.join(dir)).unwrap_or(&file).to_string_lossy().into_owned();
            if !course.exercises().iter().any(|e| e.rel_path() == rel) {
                problems.push(format!("{dir}/{rel} belongs to no exercise in info.toml"));
            }
        }
    }
    for file in rust_files(&course.root.join("wrong"))? {
        let shown = course.display_path(&file).into_owned();
        match WrongAnswer::read(course, &file) {
            Ok(wrong) if wrong.expect.is_empty() => problems.push(format!(
                "{shown}: says nothing it expects; add `// expect: <part of the message>` lines"
            )),
            Ok(_) => {}
            Err(problem) => problems.push(format!("{shown}: {problem}")),
        }
    }
    if !split_manifest(course)?.1 {
        problems.push(format!(
            "the binaries in {} do not match info.toml: run `tensorlings dev update`",
            course.display_path(&course.manifest_path())
        ));
    }
    Ok(problems)
}

fn rust_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(files) };
    for entry in entries {
        let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    Ok(files)
}

pub fn check(app: &App, jobs: usize) -> Result<ExitCode> {
    let course = &app.course;
    let mut problems = static_problems(course)?;
    if !problems.is_empty() {
        return Ok(report(problems, course));
    }
    app.provision()?;
    let indices: Vec<usize> = (0..course.exercises().len()).collect();
    let run = RunOptions { color: false, ..app.run.clone() };
    let options = |subject_dir| verify::Options { run: run.clone(), subject_dir, jobs, progress: false };

    eprintln!("Checking that every exercise fails as shipped...");
    let shipped = verify::verify(course, &indices, &options(None))?;
    for (exercise, verdict) in course.exercises().iter().zip(&shipped) {
        if verdict.passed() {
            problems
                .push(format!("{}: passes as shipped; the learner would have nothing to do", exercise.name));
        } else if verdict.status == Status::Fail && verdict.checks.is_empty() {
            problems.push(format!(
                "{}: fails as shipped, but reports no checks: {}",
                exercise.name, verdict.summary
            ));
        }
    }

    eprintln!("Checking that every solution passes...");
    let solutions_dir = course.root.join("solutions");
    let solved = verify::verify(course, &indices, &options(Some(&solutions_dir)))?;
    for (exercise, verdict) in course.exercises().iter().zip(&solved) {
        if !verdict.passed() {
            let mut problem = format!("{}: the solution does not pass: {}", exercise.name, verdict.summary);
            for text in [&verdict.details, &verdict.output] {
                if !text.trim().is_empty() {
                    let _ = write!(problem, "\n{}", text.trim_end());
                }
            }
            problems.push(problem);
        }
    }

    problems.extend(check_wrong_answers(course, &run, jobs)?);

    eprintln!("Checking that every solution builds as its own binary...");
    let bins = course.exercises().iter().map(solution_bin).collect();
    let build = Build { course, bins, subject_dir: None, color: false }.run()?;
    for exercise in course.exercises() {
        let bin = solution_bin(exercise);
        if build.bins.get(&bin).and_then(|b| b.executable.as_ref()).is_none() {
            problems.push(format!("{bin} does not build:\n{}", build.failure_of(&bin)));
        }
    }
    Ok(report(problems, course))
}

/// A plausible wrong answer to an exercise, shipped so that `dev check` proves the checks
/// reject it: `wrong/DIR/NAME/WHATEVER.rs`, a whole exercise file with `// expect: TEXT` lines,
/// each a part of the failure message the checks must give.
struct WrongAnswer {
    path: std::path::PathBuf,
    exercise: usize,
    expect: Vec<String>,
}

impl WrongAnswer {
    fn read(course: &Course, path: &Path) -> std::result::Result<Self, String> {
        let rel = path.strip_prefix(course.root.join("wrong")).map_err(|_| "not under wrong/".to_string())?;
        let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let [dir, name, _file] = parts.as_slice() else {
            return Err("wrong answers go in wrong/DIR/NAME/<answer>.rs".into());
        };
        let Some(exercise) = course.exercises().iter().position(|e| &e.dir == dir && &e.name == name) else {
            return Err(format!("there is no exercise `{name}` in {dir}"));
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
        let expect = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("// expect:"))
            .map(|text| text.trim().to_string())
            .collect();
        Ok(WrongAnswer { path: path.to_path_buf(), exercise, expect })
    }
}

/// Runs every wrong answer through its exercise's checks: each must fail, with a message that
/// contains every `// expect:` text. The answers go in rounds, one per exercise in each, so that
/// a round is one cargo build and one parallel run, like `verify`.
fn check_wrong_answers(course: &Course, run: &RunOptions, jobs: usize) -> Result<Vec<String>> {
    let mut answers = Vec::new();
    for file in rust_files(&course.root.join("wrong"))? {
        answers.extend(WrongAnswer::read(course, &file).ok());
    }
    if answers.is_empty() {
        return Ok(Vec::new());
    }
    eprintln!("Checking that the checks reject {} wrong answers...", answers.len());
    let mut rounds: Vec<Vec<&WrongAnswer>> = Vec::new();
    for answer in &answers {
        match rounds.iter_mut().find(|round| round.iter().all(|a| a.exercise != answer.exercise)) {
            Some(round) => round.push(answer),
            None => rounds.push(vec![answer]),
        }
    }
    let mut problems = Vec::new();
    for round in rounds {
        let subject = tempfile::tempdir().context("cannot create a temporary folder")?;
        for answer in &round {
            let target = subject.path().join(course.exercises()[answer.exercise].rel_path());
            std::fs::create_dir_all(target.parent().expect("rel_path has a folder"))?;
            std::fs::copy(&answer.path, &target)
                .with_context(|| format!("cannot copy {}", answer.path.display()))?;
        }
        let indices: Vec<usize> = round.iter().map(|a| a.exercise).collect();
        let options =
            verify::Options { run: run.clone(), subject_dir: Some(subject.path()), jobs, progress: false };
        let verdicts = verify::verify(course, &indices, &options)?;
        for (answer, verdict) in round.iter().zip(&verdicts) {
            let shown = course.display_path(&answer.path).into_owned();
            let said = format!("{}\n{}\n{}", verdict.summary, verdict.details, verdict.output);
            if verdict.passed() {
                problems.push(format!("{shown}: the checks accept this wrong answer"));
            } else if let Some(missing) = answer.expect.iter().find(|text| !said.contains(text.as_str())) {
                problems.push(format!(
                    "{shown}: rejected, but the message does not say `{missing}`; it said:\n{}",
                    said.trim_end()
                ));
            }
        }
    }
    Ok(problems)
}

fn report(problems: Vec<String>, course: &Course) -> ExitCode {
    if problems.is_empty() {
        println!(
            "{} the course is sound: {} exercises fail as shipped, their solutions pass, and the checks reject every wrong answer.",
            "✓".green().bold(),
            course.exercises().len()
        );
        return ExitCode::SUCCESS;
    }
    for problem in &problems {
        println!("{} {problem}", "✗".red().bold());
    }
    println!("\n{} problems found.", problems.len());
    ExitCode::from(1)
}
