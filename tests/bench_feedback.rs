//! Runs `scripts/bench-feedback` (Python 3) on a copy of the fixture course, without rustlings:
//! its watch-mode driver in a pseudo-terminal, its runs and its floor, and what it leaves
//! behind. No timings are asserted, only that each measurement was made.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Course;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-feedback")
}

/// The script on the fixture course, timing this build of the runner.
fn bench(course: &Course, args: &[&str]) -> Command {
    let mut command = Command::new(script());
    command
        .arg("--course")
        .arg(course.dir.path())
        .arg("--runner")
        .arg(assert_cmd::cargo::cargo_bin("tensorlings"))
        .arg("--skip-rustlings")
        .args(args);
    for var in ["CARGO_TARGET_DIR", "TENSORLINGS_SUBJECT_DIR", "TENSORLINGS_SOLUTIONS_DIR", "LIBTORCH"] {
        command.env_remove(var);
    }
    command
}

#[test]
fn the_screen_parser_passes_its_self_test() {
    let output = Command::new(script()).arg("--self-test").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "self-test failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

/// The line of the report that starts with `start`.
fn row_starting<'a>(report: &'a str, start: &str) -> &'a str {
    report.lines().find(|line| line.starts_with(start)).unwrap_or_else(|| panic!("no {start} in\n{report}"))
}

#[test]
fn it_measures_watch_run_and_the_floor_and_restores_the_course() {
    let course = Course::new();
    let shipped = course.read("exercises/00_basics/add.rs");
    let output = bench(&course, &["--repeats", "2", "--saves", "2"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));

    // Each row has its samples: 2 sessions of 2 saves in watch mode, 2 runs, 2 floors.
    for row in [
        "| tensorlings watch: save to verdict on screen |",
        "|   first save after watch mode started |",
        "|   later saves |",
        "| tensorlings run add |",
        "| floor: cargo build of add_check + one run |",
    ] {
        let line = row_starting(&stdout, row);
        let samples = if row.contains("watch:") { "| 4 |" } else { "| 2 |" };
        assert!(line.ends_with(samples), "{line}");
        assert!(!line.contains("| - |"), "a measurement is missing: {line}");
    }
    assert!(stdout.contains("ratio of medians (run / floor): "), "{stdout}");
    // The breakdown: each part measured (the fixture's checks take no time of their own).
    for part in [
        "| build | 0.",
        "| load and start of the check process | 0.",
        "| checks | 0.000 s |",
        "| the rest in `run`: runner start, state, render |",
        "| the rest in watch mode: file event, debounce, draw |",
        "| build + check, as the runner reports it in watch mode | 0.",
        "| build + check, as the runner reports it in `run` | 0.",
    ] {
        let line = row_starting(&stdout, part);
        assert!(!line.contains("| - |"), "a part is missing: {line}");
    }
    assert!(!stdout.contains("| rustlings"), "rustlings was skipped:\n{stdout}");

    assert_eq!(course.read("exercises/00_basics/add.rs"), shipped, "the exercise is restored");
    assert!(!course.path(".tensorlings/state.toml").exists(), "the state file it wrote is removed");
    assert_eq!(
        common::processes_working_in(course.dir.path()),
        Vec::<u32>::new(),
        "no process is left behind"
    );
    // Not even the shared host that its `tensorlings run`s used.
    assert_eq!(common::processes_running_from(course.dir.path()), Vec::<u32>::new(), "a host is left behind");
}

#[test]
fn a_state_file_is_put_back_as_it_was() {
    let course = Course::new();
    let state = "format_version = 1\ncurrent = \"square\"\ndone = [\"add\"]\n";
    course.write(".tensorlings/state.toml", state);
    let output = bench(&course, &["--repeats", "1", "--saves", "1"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(course.read(".tensorlings/state.toml"), state);
}

#[test]
fn stopped_with_ctrl_c_it_restores_the_files_and_leaves_no_process() {
    let course = Course::new();
    let shipped = course.read("exercises/00_basics/add.rs");
    let mut child =
        bench(&course, &["--repeats", "50"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Once a repeat is done, the next one is under way: interrupt it there.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|line| line.unwrap().starts_with("repeat 1/50 done")), "no repeat finished");
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("stopped; the files it edited are restored"), "{stderr}");
    assert_eq!(course.read("exercises/00_basics/add.rs"), shipped);
    assert!(!course.path(".tensorlings/state.toml").exists());
    assert_eq!(common::processes_working_in(course.dir.path()), Vec::<u32>::new());
    assert_eq!(common::processes_running_from(course.dir.path()), Vec::<u32>::new());
}

#[test]
fn an_unknown_exercise_is_named_in_the_error() {
    let course = Course::new();
    let output = bench(&course, &["--exercise", "nope"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("no exercise 'nope' in") && stderr.contains("info.toml"), "{stderr}");
}

#[test]
fn a_process_that_left_the_watch_session_is_ended_too() {
    let course = Course::new();
    let bin = tempfile::tempdir().unwrap();
    let wrapper = bin.path().join("tensorlings");
    // A runner that starts a process in a session of its own, as a long-lived check host might,
    // and leaves it running when it exits.
    let runner = assert_cmd::cargo::cargo_bin("tensorlings");
    std::fs::write(&wrapper, format!("#!/bin/sh\nsetsid sleep 4321.5 &\nexec {} \"$@\"\n", runner.display()))
        .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut command = bench(&course, &["--repeats", "1", "--saves", "1", "--runner"]);
    let output = command.arg(&wrapper).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        common::processes_with_argument("4321.5"),
        Vec::<u32>::new(),
        "the runner's own sessions are ended"
    );
}
