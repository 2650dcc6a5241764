//! Commands for course authors: `dev check` (the course's self-check) and `dev update`
//! (the binary list of the course package, generated from info.toml).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use colored::Colorize;
use serde::Deserialize;

use crate::cargo::Build;
use crate::check::RunOptions;
use crate::commands::App;
use crate::course::{Course, check_bin, hosted_lib, solution_bin};
use crate::render;
use crate::shipped;
use crate::staging::{Stage, Subject};
use crate::state::write_atomically;
use crate::verdict::Status;
use crate::verify;

/// Everything after this line in the course package's Cargo.toml is generated.
const GENERATED_MARKER: &str =
    "# Binaries: generated from info.toml by `tensorlings dev update`. Do not edit below.";

/// The `[[bin]]` tables of every exercise (the learner's file, the solution and the check), and
/// the `[[example]]` that builds its check as a library for the warm host.
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
        // The same check as a library, which watch mode's warm host loads (support::host).
        let _ = write!(
            text,
            "\n[[example]]\nname = \"{}\"\npath = \"{up}checks/{rel}\"\ncrate-type = [\"cdylib\"]\n",
            hosted_lib(exercise)
        );
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

/// Asks the check binary of every exercise whose checks are not recorded (new, or its check
/// file changed) for their names, and records them in `manifest`: built against the solutions
/// in the staging area, so that the learner's files play no part. Returns why the checks of an
/// exercise could not be listed (its check does not build), one message each.
fn record_check_names(app: &App, manifest: &mut shipped::Manifest) -> Result<Vec<String>> {
    let course = &app.course;
    let unlisted: Vec<usize> = (0..course.exercises().len())
        .filter(|&i| !manifest.checks.contains_key(&course.exercises()[i].rel_path()))
        .collect();
    if unlisted.is_empty() {
        return Ok(Vec::new());
    }
    app.provision()?;
    eprintln!(
        "Listing the checks of {} (building their check binaries)...",
        render::count(unlisted.len(), "exercise")
    );
    let solutions = course.root.join("solutions");
    let stage = Stage::open(course)?;
    stage.stage(course, &unlisted, Subject::Folder(&solutions))?;
    let bins = unlisted.iter().map(|&i| check_bin(&course.exercises()[i])).collect();
    let build =
        Build { course, bins, examples: Vec::new(), stage: Some(&stage), color: false, show_progress: true }
            .run()?;
    let mut problems = Vec::new();
    for &index in &unlisted {
        let exercise = &course.exercises()[index];
        let bin = check_bin(exercise);
        let Some(executable) = build.bins.get(&bin).and_then(|b| b.executable.clone()) else {
            problems.push(format!(
                "cannot list the checks of {}: {bin} does not build:\n{}",
                exercise.name,
                build.failure_of(&bin)
            ));
            continue;
        };
        match list_checks(course, &executable) {
            Ok(names) => {
                manifest.checks.insert(exercise.rel_path(), names);
            }
            Err(error) => problems.push(format!("cannot list the checks of {}: {error:#}", exercise.name)),
        }
    }
    Ok(problems)
}

/// Runs a check binary in list mode (`TENSORLINGS_LIST_CHECKS`): the names of its checks.
fn list_checks(course: &Course, executable: &Path) -> Result<Vec<String>> {
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let listed = dir.path().join("checks.json");
    let mut command = std::process::Command::new(executable);
    command.current_dir(&course.root).env("TENSORLINGS_LIST_CHECKS", "1").env("TENSORLINGS_REPORT", &listed);
    let limits = crate::exec::Limits { timeout: std::time::Duration::from_secs(60), memory: None };
    let finished = crate::exec::run_limited(command, limits, b"")?;
    let text = std::fs::read_to_string(&listed).with_context(|| {
        format!(
            "it wrote no list of names; it printed:\n{}{}",
            finished.stdout.text(),
            finished.stderr.text()
        )
    })?;
    serde_json::from_str(&text)
        .with_context(|| format!("its list of names is not a JSON list of strings: {text}"))
}

pub fn update(app: &App) -> Result<ExitCode> {
    let course = &app.course;
    let (head, up_to_date) = split_manifest(course)?;
    if up_to_date {
        println!("{} is up to date.", course.display_path(&course.manifest_path()));
    } else {
        let text = format!("{head}{GENERATED_MARKER}\n{}", generated_bins(course));
        write_atomically(&course.manifest_path(), text.as_bytes())?;
        println!("Rewrote the binaries in {}.", course.display_path(&course.manifest_path()));
    }
    let mut shipped = shipped::current_manifest(course)?;
    let problems = record_check_names(app, &mut shipped)?;
    let path = shipped::manifest_path(course);
    if shipped::read_manifest(course)? == shipped && path.exists() {
        println!("{} is up to date.", course.display_path(&path));
    } else {
        write_atomically(&path, shipped::manifest_text(&shipped)?.as_bytes())?;
        println!("Recorded the exercises as shipped in {}.", course.display_path(&path));
    }
    if problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        eprintln!("{} {problem}", "error:".red().bold());
    }
    eprintln!("Fix these checks, then run `{} dev update` again.", app.invoke);
    Ok(ExitCode::from(1))
}

/// Problems with the course's files that need no build to find.
/// Problems found by reading the course's files, in two lists: those that stop the checks from
/// building (a missing file, an out-of-date binary list), and the rest (a stray file, too few
/// wrong answers), which are reported with the checks' results.
fn static_problems(course: &Course, invoke: &str) -> Result<(Vec<String>, Vec<String>)> {
    let mut problems = Vec::new();
    let mut other = Vec::new();
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
                other.push(format!("{dir}/{rel} belongs to no exercise in info.toml"));
            }
        }
    }
    let (wrong_answers, wrong_problems) = read_wrong_answers(course)?;
    other.extend(wrong_problems);
    let required = course.info.course.min_wrong_answers;
    for (index, exercise) in course.exercises().iter().enumerate() {
        let count = wrong_answers.iter().filter(|answer| answer.exercise == index).count();
        if count < required {
            other.push(format!(
                "{}: has {count} wrong answers in wrong/{}/{}.toml, and info.toml asks for at least {required} (min_wrong_answers)",
                exercise.name, exercise.dir, exercise.name
            ));
        }
    }
    // A missing exercise is reported above; compare the rest only when all are there.
    let recorded = shipped::read_manifest(course)?;
    let unlisted =
        course.exercises().iter().any(|exercise| !recorded.checks.contains_key(&exercise.rel_path()));
    if let Ok(current) = shipped::current_manifest(course)
        && (recorded != current || unlisted)
    {
        problems.push(format!(
            "{} does not match the exercises, their checks' names or the files that decide verdicts (checks, solutions, support library, info.toml): run `{invoke} dev update`",
            course.display_path(&shipped::manifest_path(course))
        ));
    }
    if !split_manifest(course)?.1 {
        problems.push(format!(
            "the binaries in {} do not match info.toml: run `{invoke} dev update`",
            course.display_path(&course.manifest_path())
        ));
    }
    Ok((problems, other))
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

/// The exercises `dev check` runs: those named, or those of the sections named, in course order;
/// every exercise when `only` is empty.
fn select(course: &Course, only: &[String]) -> Result<Vec<usize>> {
    if only.is_empty() {
        return Ok((0..course.exercises().len()).collect());
    }
    for wanted in only {
        if !course.exercises().iter().any(|e| &e.name == wanted || &e.dir == wanted) {
            let sections: BTreeSet<&str> = course.exercises().iter().map(|e| e.dir.as_str()).collect();
            bail!(
                "`{wanted}` is neither an exercise nor a section folder of info.toml; the sections are {}",
                sections.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok((0..course.exercises().len())
        .filter(|&i| {
            let exercise = &course.exercises()[i];
            only.iter().any(|wanted| wanted == &exercise.name || wanted == &exercise.dir)
        })
        .collect())
}

pub fn check(app: &App, jobs: usize, only: &[String]) -> Result<ExitCode> {
    let course = &app.course;
    let indices = select(course, only)?;
    let (mut problems, other_problems) = static_problems(course, app.invoke)?;
    if !problems.is_empty() {
        problems.extend(other_problems);
        return Ok(report(problems, course, indices.len()));
    }
    problems.extend(other_problems);
    app.provision()?;
    let run = RunOptions { color: false, ..app.run.clone() };
    let progress = std::io::stderr().is_terminal();
    let options = |subject| verify::Options { run: run.clone(), subject, jobs, progress };

    eprintln!("Checking that every exercise fails as shipped...");
    let shipped = verify::verify(course, &indices, &options(Subject::Exercises))?;
    let selected = || indices.iter().map(|&i| &course.exercises()[i]);
    for (exercise, verdict) in selected().zip(&shipped) {
        if verdict.passed() {
            problems.push(format!(
                "{}: passes as it is in exercises/, so a learner would have nothing to do (is a solution copied there?)",
                exercise.name
            ));
        } else if verdict.status() == Status::Fail && verdict.checks.is_empty() {
            problems.push(format!(
                "{}: fails as shipped, but reports no checks: {}",
                exercise.name,
                render::summary(verdict, app.invoke)
            ));
        }
    }

    eprintln!("Checking that every solution passes...");
    let solutions_dir = course.root.join("solutions");
    let solved = verify::verify(course, &indices, &options(Subject::Folder(&solutions_dir)))?;
    for (exercise, verdict) in selected().zip(&solved) {
        if !verdict.passed() {
            let mut problem = format!(
                "{}: the solution does not pass: {}",
                exercise.name,
                render::summary(verdict, app.invoke)
            );
            for text in [&render::details(verdict), &verdict.output] {
                if !text.trim().is_empty() {
                    let _ = write!(problem, "\n{}", text.trim_end());
                }
            }
            problems.push(problem);
        }
    }

    problems.extend(check_wrong_answers(course, &indices, &run, jobs, app.invoke)?);

    eprintln!("Checking that every solution builds as its own binary...");
    let bins = selected().map(solution_bin).collect();
    let stage = Stage::open(course)?;
    let build =
        Build { course, bins, examples: Vec::new(), stage: Some(&stage), color: false, show_progress: true }
            .run()?;
    for exercise in selected() {
        let bin = solution_bin(exercise);
        if build.bins.get(&bin).and_then(|b| b.executable.as_ref()).is_none() {
            problems.push(format!("{bin} does not build:\n{}", build.failure_of(&bin)));
        }
    }
    Ok(report(problems, course, indices.len()))
}

/// `wrong/DIR/NAME.toml`: plausible wrong answers to one exercise, each the reference solution
/// with one mistake, and what the checks must say about it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrongFile {
    answer: Vec<WrongSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrongSpec {
    name: String,
    /// What the mistake is.
    mistake: String,
    /// Text of the solution to replace (it must occur exactly once)...
    replace: String,
    /// ...and what replaces it.
    with: String,
    /// Parts of the failure message a learner must see.
    expect: Vec<String>,
}

/// A wrong answer ready to check: the exercise it answers and its source.
struct WrongAnswer {
    label: String,
    exercise: usize,
    source: String,
    expect: Vec<String>,
}

/// Reads every `wrong/DIR/NAME.toml`; returns the answers and the problems with the files.
fn read_wrong_answers(course: &Course) -> Result<(Vec<WrongAnswer>, Vec<String>)> {
    let (mut answers, mut problems) = (Vec::new(), Vec::new());
    let dir = course.root.join("wrong");
    let Ok(sections) = std::fs::read_dir(&dir) else { return Ok((answers, problems)) };
    for file in
        sections.flatten().filter(|e| e.path().is_dir()).flat_map(|e| std::fs::read_dir(e.path())).flatten()
    {
        let path = file?.path();
        let shown = course.display_path(&path).into_owned();
        let (Some(section), Some(name)) = (
            path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()),
            path.file_stem().map(|n| n.to_string_lossy().into_owned()),
        ) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "toml") {
            problems.push(format!("{shown}: wrong answers go in wrong/DIR/NAME.toml"));
            continue;
        }
        let Some(exercise) = course.exercises().iter().position(|e| e.dir == section && e.name == name)
        else {
            problems.push(format!("{shown}: there is no exercise `{name}` in {section}"));
            continue;
        };
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {shown}"))?;
        let spec: WrongFile = match toml::from_str(&text) {
            Ok(spec) => spec,
            Err(e) => {
                problems.push(format!("{shown}: {}", e.message()));
                continue;
            }
        };
        let solution_path = course.solution_path(&course.exercises()[exercise]);
        let solution = std::fs::read_to_string(&solution_path).unwrap_or_default();
        for answer in spec.answer {
            let label = format!("{shown} [{}: {}]", answer.name, answer.mistake);
            let occurrences = solution.matches(&answer.replace).count();
            if answer.replace.is_empty() || occurrences != 1 {
                problems.push(format!(
                    "{label}: `replace` must occur exactly once in {}, but occurs {occurrences} times",
                    course.display_path(&solution_path)
                ));
            } else if answer.expect.is_empty() {
                problems.push(format!("{label}: `expect` is empty: say what the learner must be told"));
            } else {
                let source = solution.replacen(&answer.replace, &answer.with, 1);
                answers.push(WrongAnswer { label, exercise, source, expect: answer.expect });
            }
        }
    }
    Ok((answers, problems))
}

/// Runs every wrong answer through its exercise's checks: each must fail, with a message that
/// contains every `expect` text. The answers go in rounds, one per exercise in each, so that a
/// round is one cargo build and one parallel run, like `verify`.
fn check_wrong_answers(
    course: &Course,
    selected: &[usize],
    run: &RunOptions,
    jobs: usize,
    invoke: &str,
) -> Result<Vec<String>> {
    let (mut answers, _) = read_wrong_answers(course)?;
    answers.retain(|answer| selected.contains(&answer.exercise));
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
        let sources: Vec<(usize, String)> = round.iter().map(|a| (a.exercise, a.source.clone())).collect();
        let indices: Vec<usize> = round.iter().map(|a| a.exercise).collect();
        let options =
            verify::Options { run: run.clone(), subject: Subject::Sources(&sources), jobs, progress: false };
        let verdicts = verify::verify(course, &indices, &options)?;
        for (answer, verdict) in round.iter().zip(&verdicts) {
            let said = render::plain(verdict, invoke);
            if verdict.passed() {
                problems.push(format!("{}: the checks accept this wrong answer", answer.label));
            } else if let Some(missing) = answer.expect.iter().find(|text| !said.contains(text.as_str())) {
                problems.push(format!(
                    "{}: rejected, but the message does not say `{missing}`; it said:\n{}",
                    answer.label,
                    said.trim_end()
                ));
            }
        }
    }
    Ok(problems)
}

fn report(problems: Vec<String>, course: &Course, checked: usize) -> ExitCode {
    if problems.is_empty() {
        let total = course.exercises().len();
        if checked == total {
            println!(
                "{} the course is sound: {} fail as shipped, their solutions pass, and the checks reject every wrong answer.",
                "✓".green().bold(),
                crate::render::count(total, "exercise"),
            );
        } else {
            println!(
                "{} {checked} of {} checked, and sound: each fails as shipped, its solution passes, and the checks reject every wrong answer to it.",
                "✓".green().bold(),
                crate::render::count(total, "exercise"),
            );
        }
        return ExitCode::SUCCESS;
    }
    for problem in &problems {
        println!("{} {problem}", "✗".red().bold());
    }
    println!("\n{} found.", crate::render::count(problems.len(), "problem"));
    ExitCode::from(1)
}
