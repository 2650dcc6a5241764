//! Drives the real `tensorlings` binary on temporary copies of the fixture course in
//! tests/fixtures/basic, which needs no libtorch.

mod common;

use assert_cmd::Command;
use std::path::Path;

use common::{Course, copy_dir};
use predicates::prelude::*;
use tempfile::TempDir;

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let course = Course::new();
    let assert = course.cmd(&["--help"]).assert().success();
    let help = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for command in ["watch", "run", "hint", "list", "verify", "reset", "setup", "dev", "--device"] {
        assert!(help.contains(command), "--help does not mention {command}:\n{help}");
    }
    assert!(help.contains("Exit codes"), "{help}");
    course.cmd(&["dev", "--help"]).assert().success().stdout(predicate::str::contains("check"));
}

#[test]
fn outside_a_course_it_says_where_to_run() {
    let empty = tempfile::tempdir().unwrap();
    Command::cargo_bin("tensorlings")
        .unwrap()
        .current_dir(empty.path())
        .arg("list")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no info.toml"));
}

#[test]
fn a_malformed_info_toml_names_the_exercise_and_the_field() {
    let course = Course::new();
    course.edit_info("hint = \"Multiply x by itself.\"", "hint = 3");
    course
        .cmd(&["list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("info.toml"))
        .stderr(predicate::str::contains("exercise `square`"))
        .stderr(predicate::str::contains("invalid type"));
}

#[test]
fn list_shows_sections_states_and_progress() {
    let course = Course::new();
    course
        .cmd(&["list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Basics (00_basics)"))
        .stdout(predicate::str::contains("▶ add"))
        .stdout(predicate::str::contains("exercises/00_basics/square.rs"))
        .stdout(predicate::str::contains("0/3 done"));
}

#[test]
fn a_reader_that_stops_early_ends_tensorlings_quietly() {
    let course = Course::new();
    // A pipe whose reader is gone before tensorlings writes, as after `| head` has read enough:
    // the first write meets a broken pipe, every time.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("tensorlings"))
        .arg("list")
        .current_dir(course.dir.path())
        .env("NO_COLOR", "1")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "tensorlings complained about the closed pipe: {stderr}");
}

#[test]
fn hint_prints_the_hint_and_suggests_close_names() {
    let course = Course::new();
    course.cmd(&["hint"]).assert().success().stdout("Use the + operator (PyTorch: torch.add).\n");
    course.cmd(&["hint", "square"]).assert().success().stdout(predicate::str::contains("Multiply x"));
    course
        .cmd(&["hint", "sqare"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Did you mean `square`?"));
}

#[test]
fn run_reports_an_unimplemented_function() {
    let course = Course::new();
    course
        .cmd(&["run"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("check `adds small numbers` failed"))
        .stdout(predicate::str::contains("not yet implemented"))
        .stdout(predicate::str::contains("✗ add failed: 2 of 2 checks failed"));
}

#[test]
fn run_shows_compiler_errors_with_course_relative_paths() {
    let course = Course::new();
    course
        .cmd(&["run", "typed"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[E0308]: mismatched types"))
        .stdout(predicate::str::contains("--> exercises/00_basics/typed.rs:3:5"))
        .stdout(predicate::str::contains("it does not compile"));
}

#[test]
fn run_reports_expected_against_got() {
    let course = Course::new();
    course
        .cmd(&["run", "square"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("square(3) returned 6, expected 9"));
}

#[test]
fn a_passing_exercise_is_marked_done_and_points_to_the_solution() {
    let course = Course::new();
    course.write_add("a + b");
    course
        .cmd(&["run", "add"])
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ add passed: 2 checks passed"))
        .stdout(predicate::str::contains("solutions/00_basics/add.rs"));
    course.cmd(&["list"]).assert().success().stdout(predicate::str::contains("1/3 done"));
}

#[test]
fn a_hanging_exercise_times_out() {
    let course = Course::new();
    course.edit_info("timeout_secs = 20", "timeout_secs = 1");
    course.write_add("loop { std::hint::spin_loop(); }");
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains("stopped after 1 s"));
}

#[test]
fn a_timed_out_check_leaves_no_process_behind() {
    let course = Course::new();
    course.edit_info("timeout_secs = 20", "timeout_secs = 1");
    // A process the learner's code started, which outlives its parent unless its group is killed.
    let marker = format!("{}.25", 3000 + std::process::id() % 1000);
    course.write_add(&format!(
        "std::process::Command::new(\"sleep\").arg(\"{marker}\").spawn().unwrap(); loop {{ std::hint::spin_loop(); }}"
    ));
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains("stopped after 1 s"));
    assert!(
        common::processes_with_argument(&marker).is_empty(),
        "the check's child `sleep {marker}` was left running"
    );
    assert!(
        common::checks_running_from(&course.path("course/target")).is_empty(),
        "the check was left running"
    );
}

/// Starts `run add`, waits until a process with the argument `marker` runs (a check's or a
/// build's child), presses Ctrl-C (SIGINT to tensorlings alone, as a terminal would to the
/// foreground group) and expects tensorlings to end with 130.
fn interrupt_run_once_running(course: &Course, marker: &str) {
    let temp = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("tensorlings"));
    command.current_dir(course.dir.path()).args(["run", "add"]).env("NO_COLOR", "1").env_remove("LIBTORCH");
    command.envs(course.host_env()).env("TMPDIR", temp.path());
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut runner = command.spawn().unwrap();
    let started = std::time::Instant::now();
    while common::processes_with_argument(marker).is_empty() {
        assert!(started.elapsed().as_secs() < 120, "`{marker}` never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: a signal to the child we just spawned and have not reaped.
    unsafe { libc::kill(runner.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(runner.wait().unwrap().code(), Some(130));
    // Its temporary files (a check's report and output pipes) went with it.
    let left: Vec<_> = std::fs::read_dir(temp.path()).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

#[test]
fn ctrl_c_during_run_stops_the_check_and_everything_it_started() {
    let course = Course::new();
    course.edit_info("timeout_secs = 20", "timeout_secs = 600");
    let marker = format!("{}.75", 4000 + std::process::id() % 1000);
    course.write_add(&format!(
        "std::process::Command::new(\"sleep\").arg(\"{marker}\").spawn().unwrap(); loop {{ std::hint::spin_loop(); }}"
    ));
    interrupt_run_once_running(&course, &marker);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(common::processes_with_argument(&marker).is_empty(), "`sleep {marker}` was left running");
    assert!(
        common::checks_running_from(&course.path("course/target")).is_empty(),
        "the check was left running"
    );
}

#[test]
fn ctrl_c_during_a_build_stops_cargo_and_what_it_started() {
    let course = Course::new();
    // A build step that takes long, as rustc and the linker do on a first build.
    let marker = format!("{}.5", 5000 + std::process::id() % 1000);
    let build = course.read("course/build.rs").replacen(
        "fn main() {",
        &format!(
            "fn main() {{\n    let _ = std::process::Command::new(\"sleep\").arg(\"{marker}\").status();"
        ),
        1,
    );
    course.write("course/build.rs", &build);
    interrupt_run_once_running(&course, &marker);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        common::processes_with_argument(&marker).is_empty(),
        "the build's `sleep {marker}` was left running"
    );
}

#[test]
fn an_exercise_that_fills_memory_is_stopped_at_the_limit_and_the_runner_stays_up() {
    let course = Course::new();
    course.edit_info(
        "hint = \"Use the + operator (PyTorch: torch.add).\"",
        "hint = \"Use +.\"\nmemory_limit = \"256 MiB\"",
    );
    // Touches every page, as a tensor being filled does: 4 GiB, far past the limit.
    course.write_add("let mut blocks = Vec::new(); for _ in 0..64 { blocks.push(vec![1u8; 64 << 20]); } a + b + blocks.len() as i64");
    course
        .cmd(&["run", "add"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("the limit is 256 MiB"))
        .stdout(predicate::str::contains("stopped for using"));
    // The runner is fine, and so is the next attempt.
    course.write_add("a + b");
    course.cmd(&["run", "add"]).assert().success();
}

#[test]
fn an_abort_is_a_failed_exercise_that_names_the_signal() {
    let course = Course::new();
    course.write_add("std::process::abort()");
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains("SIGABRT"));
}

#[test]
fn a_segfault_is_a_failed_exercise_that_names_the_signal() {
    let course = Course::new();
    // An aligned, non-null address: debug builds' null checks do not catch it.
    course.write_add("unsafe { std::ptr::read_volatile(8usize as *const i64) }");
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains("SIGSEGV"));
}

#[test]
fn a_flood_of_output_is_capped_and_still_judged() {
    let course = Course::new();
    course.write_add("let line = \"x\".repeat(1000); for _ in 0..20_000 { println!(\"{line}\"); } a + b");
    let output = course.cmd(&["run", "add"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    // 20 MB were printed; what reaches the learner is bounded.
    assert!(output.stdout.len() < 200_000, "{} bytes of output", output.stdout.len());
}

#[test]
fn a_flood_of_output_from_a_failing_exercise_is_cut_with_a_note() {
    let course = Course::new();
    course.write_add("let line = \"x\".repeat(1000); for _ in 0..20_000 { println!(\"{line}\"); } a - b");
    let output = course.cmd(&["run", "add"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout.contains("more bytes of output not shown"), "no truncation note");
    assert!(output.stdout.len() < 200_000, "{} bytes of output", output.stdout.len());
}

#[test]
fn exiting_early_with_success_does_not_pass() {
    let course = Course::new();
    course.write_add("std::process::exit(0)");
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains("exited before reporting"));
}

#[test]
fn verify_fails_the_shipped_course_and_passes_the_solved_one() {
    let course = Course::new();
    let output = course.cmd(&["verify", "--format", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let exercises = report["exercises"].as_array().unwrap();
    assert_eq!(exercises.len(), 3);
    let statuses: Vec<&str> = exercises.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["fail", "compile_error", "fail"]);
    assert_eq!(exercises[2]["section"], "00_basics");
    assert!(exercises[2]["message"].as_str().unwrap().contains("square(3) returned 6"));
    assert_eq!(report["summary"]["passed"], 0);

    course.solve_all();
    let output = course.cmd(&["verify", "--format", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["exercises"].as_array().unwrap().iter().all(|e| e["status"] == "pass"));
    course.cmd(&["list"]).assert().success().stdout(predicate::str::contains("3/3 done"));
}

#[test]
fn a_set_up_error_is_reported_once_and_exits_2() {
    let course = Course::new();
    course
        .cmd(&["run", "add", "--device", "cuda"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("add could not be checked: no CUDA device in the fixture"))
        .stdout(predicate::str::contains("Fix exercises").not());
    course.write_add("a + b");
    let output = course.cmd(&["verify", "--format", "json", "--device", "cuda"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["exercises"][0]["status"], "error");
    assert_eq!(report["exercises"][0]["message"], "no CUDA device in the fixture");
    // `typed` does not compile, which fails it before any check could run: a failure, not an error.
    assert_eq!(report["summary"], serde_json::json!({"total": 3, "passed": 0, "failed": 1, "errors": 2}));
}

/// The forgery of a pass: the exercise finds the report's path (its variable's name assembled
/// so that no source rule sees it), writes a passing report there and exits before the checks
/// can write theirs.
const FORGED_PASS: &str = r###"
    let var = concat!("TENSOR", "LINGS_", "REPORT");
    let path = std::env::var(var).unwrap();
    std::fs::write(path, r##"{"format_version": 1, "checks": [{"name": "all good", "outcome": "pass"}]}"##).unwrap();
    std::process::exit(0)
"###;

#[test]
fn a_forged_report_is_not_trusted_by_run_or_verify() {
    let course = Course::new();
    course.write_add(FORGED_PASS);
    course
        .cmd(&["run", "add"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("the check report was not trusted"));
    let output = course.cmd(&["verify", "--format", "json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["exercises"][0]["status"], "fail");
    assert!(report["exercises"][0]["message"].as_str().unwrap().contains("not trusted"));
    // In the instructor's own checkout, the same.
    let student = tempfile::tempdir().unwrap();
    copy_dir(&course.path("exercises"), student.path());
    let student_dir = student.path().to_str().unwrap();
    let output =
        course.cmd(&["verify", "--format", "json", "--exercises-from", student_dir]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["exercises"][0]["status"], "fail");
    assert!(report["exercises"][0]["message"].as_str().unwrap().contains("not trusted"));
}

#[test]
fn an_instructor_grades_a_students_exercises_in_their_own_checkout() {
    let course = Course::new();
    let student = tempfile::tempdir().unwrap();
    copy_dir(&course.path("exercises"), student.path());
    let solution = |name: &str| course.read(&format!("solutions/00_basics/{name}.rs"));
    std::fs::write(student.path().join("00_basics/add.rs"), solution("add")).unwrap();
    std::fs::write(student.path().join("00_basics/typed.rs"), solution("typed")).unwrap();
    // A shortcut to the reference is refused, wherever the exercise comes from.
    std::fs::write(
        student.path().join("00_basics/square.rs"),
        "pub fn square(x: i64) -> i64 { super::solution::square(x) }\nfn main() {}\n",
    )
    .unwrap();
    let student_dir = student.path().to_str().unwrap();
    let output =
        course.cmd(&["verify", "--format", "json", "--exercises-from", student_dir]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let statuses: Vec<&str> =
        report["exercises"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pass", "pass", "fail"]);
    let message = report["exercises"][2]["message"].as_str().unwrap();
    assert!(message.contains("square.rs:1 uses `super::`"), "{message}");
    // The checkout's own exercises and progress are untouched.
    course.cmd(&["list"]).assert().success().stdout(predicate::str::contains("0/3 done"));
    course
        .cmd(&["verify", "--exercises-from", "/no/such/folder"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--exercises-from: cannot open the folder /no/such/folder"));
}

#[test]
fn verify_prints_a_table_for_people() {
    let course = Course::new();
    course.write_add("a + b");
    course
        .cmd(&["verify", "--jobs", "1"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_match(r"add\s+pass").unwrap())
        .stdout(predicate::str::is_match(r"typed\s+compile error").unwrap())
        .stdout(predicate::str::contains("1 passed, 2 failed"));
}

#[test]
fn watch_without_a_terminal_points_to_run_and_verify() {
    let course = Course::new();
    for args in [&[][..], &["watch"][..]] {
        course
            .cmd(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("tensorlings run"))
            .stderr(predicate::str::contains("tensorlings verify"));
    }
}

#[test]
fn reset_restores_the_shipped_file_and_keeps_a_backup() {
    let course = Course::new();
    let shipped = course.read("exercises/00_basics/square.rs");
    course.cmd(&["list"]).assert().success(); // the first run keeps the shipped copies
    course.write("exercises/00_basics/square.rs", "// my work\n");
    let output = course.cmd(&["reset", "square"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}");
    assert_eq!(course.read("exercises/00_basics/square.rs"), shipped);
    let backup = stdout.split("saved as ").nth(1).expect("names the backup").trim();
    assert_eq!(course.read(backup), "// my work\n");
    course
        .cmd(&["reset", "square"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already as shipped"));
    course.cmd(&["reset", "nope"]).assert().code(2);
}

#[test]
fn reset_restores_the_shipped_version_even_after_the_learner_committed() {
    let course = Course::new();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(course.dir.path())
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
    };
    let shipped = course.read("exercises/00_basics/square.rs");
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "the course"]);
    // The student works and commits before ever running tensorlings (so no first-run copy).
    course.write("exercises/00_basics/square.rs", "// committed work\n");
    git(&["commit", "-qam", "my work"]);
    course.write("exercises/00_basics/square.rs", "// newer work\n");
    let output = course.cmd(&["reset", "square"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(course.read("exercises/00_basics/square.rs"), shipped);
    let backup = stdout.split("saved as ").nth(1).expect("names the backup").trim();
    assert_eq!(course.read(backup), "// newer work\n");
}

#[test]
fn dev_check_builds_apart_and_leaves_the_learners_binaries_fresh() {
    let course = Course::new();
    // The check binary (a run in a process) and the host program (a run in the shared host).
    course.cmd(&["run", "add"]).env("TENSORLINGS_WARM_HOST", "watch").assert().code(1);
    course.cmd(&["run", "add"]).assert().code(1);
    let learner_binaries = ["course/target/debug/add_check", "course/target/debug/tensorlings_host"];
    let built_at =
        || learner_binaries.map(|path| std::fs::metadata(course.path(path)).unwrap().modified().unwrap());
    let built = built_at();
    course.cmd(&["dev", "check"]).assert().success();
    // The wrong answers and solutions were built in a target dir of their own...
    assert!(course.path("course/target/tensorlings-dev/debug/add_check").exists());
    assert!(course.path(".tensorlings/dev-subject/00_basics/add.rs").exists());
    // ...so the learner's next runs find their binaries up to date: cargo did not relink them.
    course.cmd(&["run", "add"]).env("TENSORLINGS_WARM_HOST", "watch").assert().code(1);
    course.cmd(&["run", "add"]).assert().code(1);
    assert_eq!(built_at(), built);
}

#[test]
fn two_checkouts_sharing_a_target_dir_check_against_their_own_solutions() {
    // Like a learner with a global `build.target-dir`: cargo shares one build of the course
    // package's build script between the two checkouts.
    let target = tempfile::tempdir().unwrap();
    let first = Course::new();
    let second = Course::new();
    first.write_add("a + b");
    second.write_add("a + b");
    // In the second checkout the reference says otherwise: its own checks must use it.
    second.write("solutions/00_basics/add.rs", "pub fn add(a: i64, b: i64) -> i64 { a * b }\nfn main() {}\n");
    let run = |course: &Course| course.cmd(&["run", "add"]).env("CARGO_TARGET_DIR", target.path()).assert();
    run(&first).success();
    run(&second).code(1).stdout(predicate::str::contains("add(2, 3) returned 5, expected 6"));
    run(&first).success();
}

#[test]
fn dev_check_notices_an_exercise_changed_without_dev_update() {
    let course = Course::new();
    course.write(
        "exercises/00_basics/square.rs",
        "// changed\npub fn square(x: i64) -> i64 { x * 2 }\nfn main() {}\n",
    );
    course.cmd(&["dev", "check"]).assert().code(1).stdout(predicate::str::contains(
        "course/shipped.toml does not match the exercises, their checks' names or the files that decide verdicts",
    ));
    // A check changed without `dev update` too.
    let course = Course::new();
    course.write(
        "checks/00_basics/add.rs",
        &format!("{}\n// changed\n", course.read("checks/00_basics/add.rs")),
    );
    course.cmd(&["dev", "check"]).assert().code(1).stdout(
        predicate::str::contains("course/shipped.toml does not match")
            .and(predicate::str::contains("run `tensorlings dev update`")),
    );
}

#[test]
fn verify_says_when_a_check_or_solution_was_changed() {
    let course = Course::new();
    course.write(
        "checks/00_basics/add.rs",
        &format!("{}\n// weakened\n", course.read("checks/00_basics/add.rs")),
    );
    std::fs::remove_file(course.path("solutions/00_basics/square.rs")).unwrap();
    course
        .cmd(&["verify"])
        .assert()
        .stdout(predicate::str::contains(
            "checks/00_basics/add.rs was modified: this result cannot be trusted for grading",
        ))
        .stdout(predicate::str::contains("solutions/00_basics/square.rs was removed"));
    let output = course.cmd(&["verify", "--format", "json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["trusted"], false);
    assert_eq!(report["integrity"]["modified"][0], "checks/00_basics/add.rs");
    let junit = course.cmd(&["verify", "--format", "junit"]).output().unwrap();
    assert!(String::from_utf8_lossy(&junit.stdout).contains("<testsuite name=\"course integrity\""));
    // As shipped, nothing is said.
    let clean = Course::new();
    let output = clean.cmd(&["verify", "--format", "json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["trusted"], true);
    assert!(report.get("integrity").is_none());
}

#[test]
fn a_corrupt_state_file_is_reported_and_rebuilt() {
    let course = Course::new();
    course.write(".tensorlings/state.toml", "this is = = not toml");
    course
        .cmd(&["list"])
        .assert()
        .success()
        .stderr(predicate::str::contains("was rebuilt"))
        .stdout(predicate::str::contains("0/3 done"));
    assert!(course.path(".tensorlings/state.toml.corrupt").exists());
    course.cmd(&["list"]).assert().success().stderr(predicate::str::is_empty());
}

#[test]
fn state_naming_a_removed_exercise_falls_back_to_the_first() {
    let course = Course::new();
    course.write(
        ".tensorlings/state.toml",
        "format_version = 1\ncurrent = \"gone\"\ndone = [\"square\", \"gone\"]\n",
    );
    course
        .cmd(&["list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("▶ add"))
        .stdout(predicate::str::contains("1/3 done"));
}

#[test]
fn dev_check_passes_on_a_sound_course() {
    let course = Course::new();
    course.cmd(&["dev", "check"]).assert().success().stdout(predicate::str::contains("the course is sound"));
    // dev check builds the solutions; the learner's next run must see the exercise again.
    course.cmd(&["run", "square"]).assert().code(1);
}

#[test]
fn dev_check_catches_a_broken_solution_and_a_solved_exercise() {
    let course = Course::new();
    // `adds negatives` checks a fixed value, so a wrong solution cannot agree with itself.
    // (Its shipped wrong answers no longer apply to the changed solution.)
    std::fs::remove_file(course.path("wrong/00_basics/add.toml")).unwrap();
    course.write("solutions/00_basics/add.rs", "pub fn add(a: i64, b: i64) -> i64 { a - b }\nfn main() {}\n");
    course.write("exercises/00_basics/square.rs", "pub fn square(x: i64) -> i64 { x * x }\nfn main() {}\n");
    course.cmd(&["dev", "update"]).assert().success(); // as an author would, after changing an exercise
    course
        .cmd(&["dev", "check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("add: the solution does not pass"))
        .stdout(predicate::str::contains("add(-2, -3) returned 1, expected -5"))
        .stdout(predicate::str::contains("square: passes as it is in exercises/"));
}

#[test]
fn dev_check_of_chosen_exercises_leaves_the_others_alone() {
    let course = Course::new();
    // A broken solution elsewhere in the course does not fail a check of `square` alone...
    std::fs::remove_file(course.path("wrong/00_basics/add.toml")).unwrap();
    course.write("solutions/00_basics/add.rs", "pub fn add(a: i64, b: i64) -> i64 { a - b }\nfn main() {}\n");
    course.cmd(&["dev", "update"]).assert().success();
    course
        .cmd(&["dev", "check", "square"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 of 3 exercises checked, and sound"));
    // ...but naming it, or its section, checks it.
    for selection in ["add", "00_basics"] {
        course
            .cmd(&["dev", "check", selection])
            .assert()
            .code(1)
            .stdout(predicate::str::contains("add: the solution does not pass"));
    }
    course
        .cmd(&["dev", "check", "sqare"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`sqare` is neither an exercise nor a section folder"))
        .stderr(predicate::str::contains("the sections are 00_basics"));
}

#[test]
fn dev_check_catches_files_that_disagree_with_info_toml() {
    let course = Course::new();
    std::fs::remove_file(course.path("checks/00_basics/typed.rs")).unwrap();
    std::fs::remove_file(course.path("exercises/00_basics/add.rs")).unwrap();
    course.write("exercises/00_basics/stray.rs", "fn main() {}\n");
    course.write("solutions/00_basics/square.rs", "//! inner docs\npub fn square(x: i64) -> i64 { x * x }\n");
    let output = course.cmd(&["dev", "check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("checks/00_basics/typed.rs is missing"), "{stdout}");
    assert!(stdout.contains("add: exercises/00_basics/add.rs is missing"), "{stdout}");
    assert!(stdout.contains("exercises/00_basics/stray.rs belongs to no exercise"), "{stdout}");
    assert!(stdout.contains("solutions/00_basics/square.rs:1: inner attributes"), "{stdout}");
}

#[test]
fn dev_check_proves_that_wrong_answers_are_rejected_with_their_message() {
    let course = Course::new();
    let square = course.read("wrong/00_basics/square.toml");
    // A "wrong" answer that is right, which dev check must report as accepted; and one that is
    // rejected, but not with the message its author expects.
    course.write(
        "wrong/00_basics/square.toml",
        &format!(
            "{square}\n[[answer]]\nname = \"right\"\nmistake = \"none\"\nreplace = \"x * x\"\nwith = \"x * x\"\nexpect = [\"anything\"]\n\n\
             [[answer]]\nname = \"cubes\"\nmistake = \"cubes\"\nreplace = \"x * x\"\nwith = \"x * x * x\"\nexpect = [\"returned 99\"]\n"
        ),
    );
    let output = course.cmd(&["dev", "check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("wrong/00_basics/square.toml [right: none]: the checks accept this wrong answer"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[cubes: cubes]: rejected, but the message does not say `returned 99`"),
        "{stdout}"
    );
    assert!(stdout.contains("square(3) returned 27, expected 9"), "the actual message is shown: {stdout}");
    assert_eq!(
        stdout.matches("✗").count(),
        2,
        "the shipped wrong answers are rejected as expected: {stdout}"
    );
}

#[test]
fn dev_check_requires_the_wrong_answers_info_toml_asks_for() {
    let course = Course::new();
    course.edit_info("[course]\n", "[course]\nmin_wrong_answers = 1\n");
    course
        .cmd(&["dev", "check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "typed: has 0 wrong answers in wrong/00_basics/typed.toml, and info.toml asks for at least 1",
        ))
        .stdout(predicate::str::contains("add: has").not());
}

#[test]
fn dev_check_wants_wrong_answers_in_place_and_well_formed() {
    let course = Course::new();
    course.write(
        "wrong/00_basics/nope.toml",
        "[[answer]]\nname = \"x\"\nmistake = \"x\"\nreplace = \"x\"\nwith = \"y\"\nexpect = [\"x\"]\n",
    );
    course.write(
        "wrong/00_basics/typed.toml",
        "[[answer]]\nname = \"stale\"\nmistake = \"m\"\nreplace = \"not in the solution\"\nwith = \"y\"\nexpect = [\"x\"]\n\n\
         [[answer]]\nname = \"silent\"\nmistake = \"m\"\nreplace = \"42\"\nwith = \"41\"\nexpect = []\n",
    );
    course.write("wrong/00_basics/add.toml", "[[answer]]\nname = \"typo\"\nmistak = \"m\"\n");
    let output = course.cmd(&["dev", "check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("wrong/00_basics/nope.toml: there is no exercise `nope`"), "{stdout}");
    assert!(stdout.contains("[stale: m]: `replace` must occur exactly once in solutions/00_basics/typed.rs, but occurs 0 times"), "{stdout}");
    assert!(stdout.contains("[silent: m]: `expect` is empty"), "{stdout}");
    assert!(stdout.contains("wrong/00_basics/add.toml: unknown field `mistak`"), "{stdout}");
}

#[test]
fn an_exercise_missing_from_the_course_package_is_a_setup_error() {
    let course = Course::new();
    let manifest = course.read("course/Cargo.toml");
    let without_square = manifest.split("\n[[bin]]\nname = \"square").next().unwrap().to_string();
    course.write("course/Cargo.toml", &without_square);
    course
        .cmd(&["run", "square"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("course/Cargo.toml has no binary `square_check`"))
        .stdout(predicate::str::contains("dev update"));
}

#[test]
fn dev_update_rewrites_stale_binaries_and_dev_check_notices() {
    let course = Course::new();
    course.edit_info("name = \"square\"", "name = \"squared\"");
    for dir in ["exercises", "solutions", "checks"] {
        std::fs::rename(
            course.path(&format!("{dir}/00_basics/square.rs")),
            course.path(&format!("{dir}/00_basics/squared.rs")),
        )
        .unwrap();
    }
    course.cmd(&["dev", "check"]).assert().code(1).stdout(predicate::str::contains("dev update"));
    // The check binary must build for `dev update` to list its checks.
    course
        .cmd(&["dev", "update"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot list the checks of squared: squared_check does not build"));
    assert!(course.read("course/Cargo.toml").contains("name = \"squared_check\""));
    let check =
        course.read("checks/00_basics/squared.rs").replace("00_basics/square.rs", "00_basics/squared.rs");
    course.write("checks/00_basics/squared.rs", &check);
    course.cmd(&["dev", "update"]).assert().success();
    assert!(course.read("course/Cargo.toml").contains("name = \"squared_check\""));
    course.cmd(&["dev", "update"]).assert().success().stdout(predicate::str::contains("up to date"));
}

mod setup {
    use super::*;

    /// A folder shaped like libtorch, with `version`.
    fn fake_libtorch(version: &str) -> TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        std::fs::create_dir_all(dir.path().join("include/torch")).unwrap();
        std::fs::write(dir.path().join("lib/libtorch_cpu.so"), "").unwrap();
        std::fs::write(dir.path().join("version.py"), format!("__version__ = '{version}'\n")).unwrap();
        dir
    }

    /// A `python3` script that answers tensorlings' torch query with `version` and `libtorch`.
    fn fake_python(version: &str, libtorch: &Path) -> (TempDir, std::path::PathBuf) {
        let bin = tempfile::tempdir().unwrap();
        let python = bin.path().join("python3");
        std::fs::write(&python, format!("#!/bin/sh\necho {version}\necho {}\n", libtorch.display())).unwrap();
        std::fs::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        (bin, python)
    }

    fn libtorch_course() -> Course {
        let course = Course::new();
        course.edit_info("[course]\n", "[course]\nlibtorch = \"2.13.0\"\n");
        course
    }

    #[test]
    fn a_course_without_libtorch_needs_no_setup() {
        Course::new()
            .cmd(&["setup"])
            .assert()
            .success()
            .stdout(predicate::str::contains("needs no libtorch"));
    }

    #[test]
    fn libtorch_of_the_wrong_version_is_refused_with_advice() {
        let course = libtorch_course();
        let libtorch = fake_libtorch("2.5.1+cpu");
        course
            .cmd(&["setup"])
            .env("LIBTORCH", libtorch.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("is libtorch 2.5.1+cpu, but the course needs 2.13.0"))
            .stderr(predicate::str::contains("unset it"));
    }

    #[test]
    fn a_folder_that_is_not_libtorch_is_refused() {
        let course = libtorch_course();
        let empty = tempfile::tempdir().unwrap();
        course
            .cmd(&["setup"])
            .env("LIBTORCH", empty.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("has no lib/libtorch_cpu"));
    }

    #[test]
    fn libtorch_from_the_environment_is_recorded_for_cargo() {
        let course = libtorch_course();
        let libtorch = fake_libtorch("2.13.0+cu130");
        course.cmd(&["setup"]).env("LIBTORCH", libtorch.path()).assert().success();
        let config = course.read(".cargo/config.toml");
        assert!(config.contains(&format!("LIBTORCH = \"{}\"", libtorch.path().display())), "{config}");
        // Later runs find it through the config, without the variable.
        course
            .cmd(&["setup", "--check"])
            .env("TENSORLINGS_PYTHON", "/nonexistent/python3")
            .assert()
            .success()
            .stdout(predicate::str::contains("libtorch 2.13.0+cu130"));
    }

    #[test]
    fn a_stale_recorded_libtorch_is_replaced_even_when_cargo_passes_it_on() {
        let course = libtorch_course();
        let libtorch = fake_libtorch("2.13.0");
        course.cmd(&["setup"]).env("LIBTORCH", libtorch.path()).assert().success();
        let stale = libtorch.path().to_path_buf();
        drop(libtorch); // the recorded folder is gone
        let fresh = fake_libtorch("2.13.0+cpu");
        let (_bin, python) = fake_python("2.13.0+cpu", fresh.path());
        let cache = tempfile::tempdir().unwrap();
        // `cargo run` exports the config's LIBTORCH to the runner: that is not the learner's choice.
        course
            .cmd(&["setup"])
            .env("LIBTORCH", &stale)
            .env("TENSORLINGS_PYTHON", &python)
            .env("XDG_CACHE_HOME", cache.path())
            .assert()
            .success()
            .stdout(predicate::str::contains("Python's torch"));
        assert!(course.read(".cargo/config.toml").contains(&fresh.path().display().to_string()));
    }

    #[test]
    fn a_python_with_the_right_torch_is_used() {
        let course = libtorch_course();
        let libtorch = fake_libtorch("2.13.0");
        let (_bin, python) = fake_python("2.13.0+cpu", libtorch.path());
        let cache = tempfile::tempdir().unwrap();
        course
            .cmd(&["setup"])
            .env("TENSORLINGS_PYTHON", &python)
            .env("XDG_CACHE_HOME", cache.path())
            .assert()
            .success()
            .stdout(predicate::str::contains("Python's torch"));
        assert!(course.read(".cargo/config.toml").contains(&libtorch.path().display().to_string()));
    }

    #[test]
    fn nothing_found_is_reported_and_install_without_python_explains() {
        let course = libtorch_course();
        let cache = tempfile::tempdir().unwrap();
        course
            .cmd(&["setup", "--check"])
            .env("TENSORLINGS_PYTHON", "/nonexistent/python3")
            .env("XDG_CACHE_HOME", cache.path())
            .assert()
            .code(1)
            .stdout(predicate::str::contains("not installed"))
            .stdout(predicate::str::contains("`tensorlings setup` installs it"));
        course
            .cmd(&["setup"])
            .env("TENSORLINGS_PYTHON", "/nonexistent/python3")
            .env("XDG_CACHE_HOME", cache.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("was not found"))
            .stderr(predicate::str::contains("python3-venv"));
        // `run` provisions on its own and fails the same clear way.
        course
            .cmd(&["run", "add"])
            .env("TENSORLINGS_PYTHON", "/nonexistent/python3")
            .env("XDG_CACHE_HOME", cache.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("was not found"));
    }

    #[test]
    fn an_unfinished_install_is_reported() {
        let course = libtorch_course();
        let cache = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(cache.path().join("tensorlings/torch-2.13.0/venv")).unwrap();
        course
            .cmd(&["setup", "--check"])
            .env("TENSORLINGS_PYTHON", "/nonexistent/python3")
            .env("XDG_CACHE_HOME", cache.path())
            .assert()
            .code(1)
            .stdout(predicate::str::contains("unfinished install"));
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    let exe = assert_cmd::cargo::cargo_bin("tensorlings");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        // No course is needed: the code is the same everywhere.
        let empty = tempfile::tempdir().unwrap();
        let assert = Command::cargo_bin("tensorlings")
            .unwrap()
            .current_dir(empty.path())
            .args(["completions", shell])
            .assert()
            .success();
        let script = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
        assert!(script.contains("TENSORLINGS_COMPLETE"), "{shell}:\n{script}");
        assert!(script.contains(&*exe.to_string_lossy()), "{shell}: it calls this binary:\n{script}");
    }
    Command::cargo_bin("tensorlings").unwrap().args(["completions", "tcsh"]).assert().code(2);
}

/// What bash completes for `line` (the word being completed last) in `dir`, through the code
/// that `tensorlings completions bash` prints, as bash would run it on Tab.
fn bash_completes(dir: &Path, line: &[&str]) -> Vec<String> {
    let script =
        Command::cargo_bin("tensorlings").unwrap().args(["completions", "bash"]).output().unwrap().stdout;
    let script_file = dir.join("completions.bash");
    std::fs::write(&script_file, script).unwrap();
    let words = line.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=({words}); COMP_CWORD={}; _clap_complete_tensorlings tensorlings '{}' '{}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script_file.display(),
        line.len() - 1,
        line[line.len() - 1],
        line[line.len() - 2],
    );
    let output = std::process::Command::new("bash").args(["-c", &program]).current_dir(dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().filter(|l| !l.is_empty()).map(String::from).collect()
}

#[test]
fn bash_completes_commands_and_the_exercise_names_of_the_course_here() {
    let course = Course::new();
    let dir = course.dir.path();
    assert_eq!(bash_completes(dir, &["tensorlings", "comp"]), ["completions"]);
    assert_eq!(bash_completes(dir, &["tensorlings", "run", "a"]), ["add"]);
    let names = bash_completes(dir, &["tensorlings", "hint", ""]);
    for name in ["add", "typed", "square"] {
        assert!(names.contains(&name.to_string()), "{names:?}");
    }
    assert_eq!(bash_completes(&course.path("exercises"), &["tensorlings", "reset", "t"]), ["typed"]);
    // Outside a course there are no names to offer, and no error either.
    let empty = tempfile::tempdir().unwrap();
    assert!(!bash_completes(empty.path(), &["tensorlings", "run", "a"]).contains(&"add".to_string()));
}

#[test]
fn edit_cmd_belongs_to_watch_mode() {
    let course = Course::new();
    course
        .cmd(&["--edit-cmd", "vim", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--edit-cmd is an option of watch mode"));
    course.cmd(&["watch", "--help"]).assert().success().stdout(predicate::str::contains("--edit-cmd"));
}

#[test]
fn paths_are_plain_text_when_not_on_a_terminal() {
    let course = Course::new();
    let assert = course.cmd(&["run"]).env_remove("NO_COLOR").env("TERM", "xterm-256color").assert().code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("Fix exercises/00_basics/add.rs;") && !stdout.contains('\x1b'), "{stdout}");
}

#[test]
fn gpu_check_stops_at_once_without_a_gpu() {
    // A PATH with the tools the script needs before it looks for the GPU, and no nvidia-smi
    // (which a GPU machine running these tests has).
    let bin = tempfile::tempdir().unwrap();
    for tool in ["bash", "dirname", "mkdir", "timeout", "head", "tail", "sed"] {
        let found =
            std::process::Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        let path = String::from_utf8(found.stdout).unwrap();
        std::os::unix::fs::symlink(path.trim(), bin.path().join(tool)).unwrap();
    }
    // On a copy, so that its logs stay out of this checkout's target/.
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir(copy.path().join("scripts")).unwrap();
    let script = copy.path().join("scripts/gpu-check");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gpu-check"), &script).unwrap();
    let started = std::time::Instant::now();
    let output = std::process::Command::new(&script).env("PATH", bin.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("no NVIDIA GPU here"), "{stderr}");
    assert!(stdout.contains("GPU (nvidia-smi)") && stdout.contains("FAILED"), "{stdout}");
    assert!(!stdout.contains("==> runner"), "nothing is built without a GPU:\n{stdout}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// The runner knows each exercise's checks (recorded by `dev update` in course/shipped.toml): a
/// signed report that lists others (a check file cut down in a student's repository, checks
/// that stopped early) is not trusted, and the message names what differs.
#[test]
fn a_report_with_other_checks_than_recorded_is_not_trusted() {
    let course = Course::new();
    course.solve_all();
    course.cmd(&["run", "add"]).assert().success();
    // One check removed from the check file, as a student who wants a pass might.
    let check = course.read("checks/00_basics/add.rs");
    let cut = check.replace(
        "        (\"adds negatives\", || { let got = exercise::add(-2, -3); if got == -5 { Ok(()) } else { Err(format!(\"add(-2, -3) returned {got}, expected -5\")) } }),\n",
        "",
    );
    assert_ne!(cut, check, "the fixture's check file changed: update this test");
    course.write("checks/00_basics/add.rs", &cut);
    course.cmd(&["run", "add"]).assert().code(1).stdout(
        predicate::str::contains(
            "the check report was not trusted: it lists 1 check where this exercise has 2",
        )
        .and(predicate::str::contains("missing: \"adds negatives\"")),
    );
    // `dev update` lists the changed check file again, and its report is then the expected one.
    course
        .cmd(&["dev", "update"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Listing the checks of 1 exercise"));
    assert!(course.read("course/shipped.toml").contains("\"00_basics/add.rs\" = [\"adds small numbers\"]"));
    course.cmd(&["run", "add"]).assert().success();
}

/// A file moved back into place keeps its old modification time: a backup restored after
/// `reset` is older than the last build, and cargo alone would reuse that build (QA). The runner
/// records what it built and makes cargo see the change.
#[test]
fn a_backup_moved_back_after_reset_is_checked_not_the_last_build() {
    let course = Course::new();
    course.cmd(&["list"]).assert().success(); // the first run keeps the shipped copies
    course.write_add("a * b");
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains("add(2, 3) returned 6"));
    course.cmd(&["reset", "add"]).assert().success();
    course
        .cmd(&["run", "add"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("add(2, 3) returned 6").not());
    let backups: Vec<_> =
        std::fs::read_dir(course.path(".tensorlings/backups")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    std::fs::rename(&backups[0], course.path("exercises/00_basics/add.rs")).unwrap();
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains("add(2, 3) returned 6"));
}

/// A missing check file is the course's problem, not the learner's compile error (QA).
#[test]
fn a_missing_check_file_is_not_blamed_on_the_learner() {
    let course = Course::new();
    course.solve_all();
    std::fs::remove_file(course.path("checks/00_basics/add.rs")).unwrap();
    course.cmd(&["run", "add"]).assert().code(2).stdout(
        predicate::str::contains("its checks, checks/00_basics/add.rs, are missing")
            .and(predicate::str::contains("git checkout -- checks/00_basics/add.rs"))
            .and(predicate::str::contains("does not compile").not()),
    );
}
