//! `tensorlings grade`: a whole class in one run, in the instructor's own checkout. Each
//! student's exercises are checked with this checkout's checks, solutions and support library
//! (as `verify --exercises-from`), and the result is kept per student, so an interrupted run
//! resumes where it stopped and a class split over CI machines (`--shard i/n`) is merged after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::check::RunOptions;
use crate::commands::App;
use crate::render;
use crate::staging::Subject;
use crate::state::write_atomically;
use crate::verdict::{CheckResult, Status, Verdict};
use crate::verify;

/// One student's graded work: what `grade` keeps in `OUT/students/ID.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graded {
    pub format_version: u32,
    pub student: String,
    /// The folder the exercises were taken from.
    pub path: String,
    pub points: f64,
    pub max_points: f64,
    pub exercises: Vec<GradedExercise>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradedExercise {
    pub name: String,
    pub section: String,
    pub status: Status,
    pub points: f64,
    pub max_points: f64,
    pub duration_ms: u64,
    pub message: String,
    pub checks: Vec<CheckResult>,
}

/// Which part of the class this machine grades: students whose place in the sorted list,
/// counted from 1, is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || format!("`{text}` is not a shard: write I/N, e.g. 2/4 for the second of four");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let (index, count) =
            (index.trim().parse().map_err(|_| usage())?, count.trim().parse().map_err(|_| usage())?);
        if count == 0 || index == 0 || index > count {
            return Err(format!("shard {index}/{count}: I must be from 1 to N"));
        }
        Ok(Shard { index, count })
    }
}

/// A student to grade: an id (the folder's name) and their `exercises/` folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Student {
    pub id: String,
    pub folder: PathBuf,
    pub exercises: PathBuf,
}

/// The students of `folders` and of the `list` file (one folder a line; `#` comments), sorted
/// by id. A folder with an `exercises/` inside is a clone of the course; otherwise it is the
/// `exercises/` folder itself.
pub fn students(folders: &[PathBuf], list: Option<&Path>) -> Result<Vec<Student>> {
    let mut paths: Vec<PathBuf> = folders.to_vec();
    if let Some(list) = list {
        let text = std::fs::read_to_string(list)
            .with_context(|| format!("--list: cannot read {}", list.display()))?;
        let base = list.parent().unwrap_or(Path::new("."));
        paths.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| base.join(l)),
        );
    }
    if paths.is_empty() {
        bail!("no students to grade: name their folders, or a file that lists them with --list");
    }
    let mut students: Vec<Student> = Vec::new();
    for path in paths {
        let folder = path
            .canonicalize()
            .with_context(|| format!("cannot open the student folder {}", path.display()))?;
        let id = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let exercises =
            if folder.join("exercises").is_dir() { folder.join("exercises") } else { folder.clone() };
        if let Some(other) = students.iter().find(|s| s.id == id) {
            bail!(
                "two student folders are named `{id}` ({} and {}): the gradebook names students by folder, so rename one",
                other.folder.display(),
                folder.display()
            );
        }
        students.push(Student { id, folder, exercises });
    }
    students.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(students)
}

pub struct Options {
    pub run: RunOptions,
    pub jobs: usize,
    pub out: PathBuf,
    pub shard: Option<Shard>,
    pub progress: bool,
}

/// Grades every student of the shard not graded yet in `out`, then writes the gradebook of
/// every student graded there.
pub fn grade(app: &App, students: &[Student], options: &Options) -> Result<ExitCode> {
    let course = &app.course;
    let mine: Vec<&Student> = students
        .iter()
        .enumerate()
        .filter(|(place, _)| options.shard.is_none_or(|s| place % s.count == s.index - 1))
        .map(|(_, student)| student)
        .collect();
    let results = options.out.join("students");
    std::fs::create_dir_all(&results).with_context(|| format!("cannot create {}", results.display()))?;
    let pending: Vec<&Student> =
        mine.iter().copied().filter(|s| !result_path(&results, &s.id).exists()).collect();
    if pending.len() < mine.len() {
        eprintln!(
            "{} of {} already graded in {}: resuming.",
            mine.len() - pending.len(),
            mine.len(),
            results.display()
        );
    }
    app.provision()?;
    let bar = if options.progress { ProgressBar::new(pending.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<24} [{bar:30}] {pos}/{len} students ({elapsed})")
            .expect("the template is valid")
            .progress_chars("#>-"),
    );
    let indices: Vec<usize> = (0..course.exercises().len()).collect();
    for student in pending {
        bar.set_message(student.id.clone());
        let verify_options = verify::Options {
            run: options.run.clone(),
            subject: Subject::Folder(&student.exercises),
            jobs: options.jobs,
            progress: false,
        };
        let verdicts = verify::verify(course, &indices, &verify_options)?;
        let graded = record(app, student, &verdicts);
        let text = serde_json::to_string_pretty(&graded).expect("a grade serializes");
        // Written whole, at once: a run stopped halfway leaves no half-graded student.
        write_atomically(&result_path(&results, &student.id), text.as_bytes())?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    write_gradebook(app, &options.out)
}

fn result_path(results: &Path, id: &str) -> PathBuf {
    results.join(format!("{id}.json"))
}

fn record(app: &App, student: &Student, verdicts: &[Verdict]) -> Graded {
    let course = &app.course;
    let exercises: Vec<GradedExercise> = course
        .exercises()
        .iter()
        .zip(verdicts)
        .map(|(exercise, verdict)| {
            let max_points = f64::from(exercise.points);
            GradedExercise {
                name: exercise.name.clone(),
                section: exercise.dir.clone(),
                status: verdict.status(),
                points: if verdict.passed() { max_points } else { 0.0 },
                max_points,
                duration_ms: u64::try_from(verdict.duration.as_millis()).unwrap_or(u64::MAX),
                message: render::message(verdict, app.invoke),
                checks: verdict.checks.clone(),
            }
        })
        .collect();
    Graded {
        format_version: 1,
        student: student.id.clone(),
        path: student.folder.display().to_string(),
        points: exercises.iter().map(|e| e.points).sum(),
        max_points: exercises.iter().map(|e| e.max_points).sum(),
        exercises,
    }
}

/// Every student graded in the `students/` folders of `sources`, by id; the same student in
/// two sources is an error unless both hold the same grade.
pub fn read_graded(sources: &[PathBuf]) -> Result<BTreeMap<String, Graded>> {
    let mut all: BTreeMap<String, Graded> = BTreeMap::new();
    for source in sources {
        let dir = source.join("students");
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry.with_context(|| format!("cannot read {}", dir.display()))?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let graded: Graded = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a grade written by tensorlings grade", path.display()))?;
            if let Some(earlier) = all.get(&graded.student)
                && earlier != &graded
            {
                bail!(
                    "`{}` was graded twice, differently ({}): grade each student in one shard",
                    graded.student,
                    path.display()
                );
            }
            all.insert(graded.student.clone(), graded);
        }
    }
    Ok(all)
}

/// `OUT/gradebook.csv` and `OUT/gradebook.json` from every student graded in `OUT/students`.
pub fn write_gradebook(app: &App, out: &Path) -> Result<ExitCode> {
    let graded = read_graded(&[out.to_path_buf()])?;
    let csv = render::gradebook_csv(&app.course, graded.values());
    write_atomically(&out.join("gradebook.csv"), csv.as_bytes())?;
    let json = serde_json::to_string_pretty(&graded.values().collect::<Vec<_>>()).expect("grades serialize");
    write_atomically(&out.join("gradebook.json"), json.as_bytes())?;
    write_atomically(&out.join("junit.xml"), render::junit::gradebook(graded.values()).as_bytes())?;
    print!("{}", render::grade_summary(graded.values(), out));
    // Students' failures are grades, not errors; checks that could not run at all are.
    let setup_error = graded.values().flat_map(|g| &g.exercises).any(|e| e.status == Status::Error);
    Ok(if setup_error { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// `grade merge`: the students of every shard's output folder in one gradebook in `out`.
pub fn merge(app: &App, shards: &[PathBuf], out: &Path) -> Result<ExitCode> {
    let graded = read_graded(shards)?;
    let results = out.join("students");
    std::fs::create_dir_all(&results).with_context(|| format!("cannot create {}", results.display()))?;
    for (id, grade) in &graded {
        let text = serde_json::to_string_pretty(grade).expect("a grade serializes");
        write_atomically(&result_path(&results, id), text.as_bytes())?;
    }
    write_gradebook(app, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_parsed_and_checked() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert!("0/4".parse::<Shard>().unwrap_err().contains("from 1 to N"));
        assert!("5/4".parse::<Shard>().unwrap_err().contains("from 1 to N"));
        assert!("two".parse::<Shard>().unwrap_err().contains("write I/N"));
    }

    #[test]
    fn a_clone_or_an_exercises_folder_and_a_list_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("alice/exercises")).unwrap();
        std::fs::create_dir_all(dir.path().join("bob")).unwrap();
        std::fs::write(dir.path().join("class.txt"), "# the class\nbob\n\n").unwrap();
        let found = students(&[dir.path().join("alice")], Some(&dir.path().join("class.txt"))).unwrap();
        let ids: Vec<&str> = found.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["alice", "bob"]);
        assert!(found[0].exercises.ends_with("alice/exercises"));
        assert!(found[1].exercises.ends_with("bob"));
        let twice = students(&[dir.path().join("bob"), dir.path().join("bob")], None).unwrap_err();
        assert!(twice.to_string().contains("two student folders are named `bob`"), "{twice}");
        assert!(students(&[], None).unwrap_err().to_string().contains("no students to grade"));
    }
}
