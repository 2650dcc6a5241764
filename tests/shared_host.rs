//! `tensorlings run` and the shared warm host it leaves behind: later runs check in it, each
//! check is as isolated as in a process of its own, the host goes away when idle, and anything
//! wrong with it costs a run nothing but speed.

mod common;

use std::time::{Duration, Instant};

use common::Course;
use predicates::prelude::*;

const FAILED: &str = "✗ add failed: 2 of 2 checks failed";
const PASSED: &str = "✓ add passed: 2 checks passed";

/// An exercise body that says where its check ran, then does `code`.
fn telling_where(code: &str) -> String {
    format!("println!(\"ran in {{:?}}\", std::env::current_exe().unwrap().file_name().unwrap()); {code}")
}

/// Waits up to 15 s for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(15), "{what} did not happen within 15 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn no_check_left(course: &Course) -> bool {
    common::checks_running_from(&course.path("course/target")).is_empty()
}

#[test]
fn a_run_leaves_a_shared_host_that_the_next_runs_check_in() {
    let course = Course::new();
    course.write_add(&telling_where("a - b"));
    course
        .cmd(&["run", "add"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("ran in \"tensorlings_host\""))
        .stdout(predicate::str::contains(FAILED));
    let hosts = course.shared_hosts();
    assert_eq!(hosts.len(), 1, "one shared host after the first run");
    course.write_add(&telling_where("a + b"));
    course.cmd(&["run", "add"]).assert().success().stdout(predicate::str::contains(PASSED));
    course.cmd(&["run", "add"]).assert().success().stdout(predicate::str::contains(PASSED));
    assert_eq!(course.shared_hosts(), hosts, "the later runs used the same host");
    // A run ends only once the host has finished with it: no session or check is left.
    assert!(no_check_left(&course));
}

/// A segfault, an endless loop (with a process it started) and state left behind, each followed
/// by a correct version: both verdicts are right, and the host carries on.
#[test]
fn checks_in_the_shared_host_survive_crashes_hangs_and_leftover_state() {
    let course = Course::new();
    course.edit_info("timeout_secs = 20", "timeout_secs = 1");
    // The first run starts the host with this variable set: the host's environment must not
    // reach a later check, whose environment is its own run's.
    course.write_add("if std::env::var_os(\"FIXTURE_FROM_RUN\").is_some() { return 0; } a + b");
    course
        .cmd(&["run", "add"])
        .env("FIXTURE_FROM_RUN", "1")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(FAILED));
    let hosts = course.shared_hosts();
    assert_eq!(hosts.len(), 1);
    course.cmd(&["run", "add"]).assert().success().stdout(predicate::str::contains(PASSED));

    // A segfault in the host's child is confirmed in a process of its own (see
    // `a_stack_overflow_on_a_thread_is_named_as_such`), which says the same.
    course.write_add(&telling_where("unsafe { std::ptr::null_mut::<i64>().write_volatile(a) }; a + b"));
    course
        .cmd(&["run", "add"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("ran in \"add_check\""))
        .stdout(predicate::str::contains("SIGSEGV"));
    course.write_add("a + b");
    course.cmd(&["run", "add"]).assert().success().stdout(predicate::str::contains(PASSED));

    let marker = format!("{}.125", 6000 + std::process::id() % 1000);
    course.write_add(&format!(
        "std::process::Command::new(\"sleep\").arg(\"{marker}\").spawn().unwrap(); loop {{ std::hint::spin_loop(); }}"
    ));
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains("stopped after 1 s"));
    assert!(common::processes_with_argument(&marker).is_empty(), "`sleep {marker}` was left running");
    assert!(no_check_left(&course));

    course.write_add("unsafe { std::env::set_var(\"FIXTURE_LEFT_BEHIND\", \"1\") }; a + b");
    course.cmd(&["run", "add"]).assert().success();
    course.write_add("if std::env::var_os(\"FIXTURE_LEFT_BEHIND\").is_some() { return 0; } a + b");
    course.cmd(&["run", "add"]).assert().success().stdout(predicate::str::contains(PASSED));
    assert_eq!(course.shared_hosts(), hosts, "the host outlived every check");
}

#[test]
fn an_idle_shared_host_exits_and_a_killed_one_is_replaced() {
    let course = Course::new();
    course.solve_all();
    course.cmd(&["run", "add"]).env("TENSORLINGS_HOST_IDLE", "1").assert().success();
    assert_eq!(course.shared_hosts().len(), 1);
    eventually("the idle host's exit", || course.shared_hosts().is_empty());
    let sockets = || {
        std::fs::read_dir(course.hosts.path())
            .unwrap()
            .filter(|entry| entry.as_ref().unwrap().path().extension().is_some_and(|e| e == "sock"))
            .count()
    };
    assert_eq!(sockets(), 0, "the idle host removed its socket");

    course.cmd(&["run", "add"]).assert().success();
    let killed = course.shared_hosts();
    assert_eq!(killed.len(), 1);
    // SAFETY: a signal to this test's own host.
    unsafe { libc::kill(killed[0] as libc::pid_t, libc::SIGKILL) };
    eventually("the killed host's end", || course.shared_hosts().is_empty());
    // Its socket file is left behind, with nobody listening.
    assert_eq!(sockets(), 1);
    course.cmd(&["run", "add"]).assert().success().stdout(predicate::str::contains(PASSED));
    let replaced = course.shared_hosts();
    assert_eq!(replaced.len(), 1);
    assert_ne!(replaced, killed);
}

#[test]
fn the_shared_host_can_be_turned_off_for_run_alone_or_everywhere() {
    let course = Course::new();
    course.write_add(&telling_where("a - b"));
    for value in ["watch", "0", "off"] {
        course
            .cmd(&["run", "add"])
            .env("TENSORLINGS_WARM_HOST", value)
            .assert()
            .code(1)
            .stdout(predicate::str::contains("ran in \"add_check\""))
            .stdout(predicate::str::contains(FAILED));
        assert!(course.shared_hosts().is_empty(), "TENSORLINGS_WARM_HOST={value} started a host");
    }
}

/// Anyone who can reach a host's socket can run code as its owner: a folder that others can
/// enter is not used, and the run says why, with the same verdict.
#[test]
fn a_host_folder_that_others_can_enter_is_refused_with_a_note() {
    use std::os::unix::fs::PermissionsExt;
    let course = Course::new();
    std::fs::set_permissions(course.hosts.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    course.write_add(&telling_where("a - b"));
    course
        .cmd(&["run", "add"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("ran in \"add_check\""))
        .stdout(predicate::str::contains(FAILED))
        .stderr(predicate::str::contains("is not a folder that only you can enter"))
        .stderr(predicate::str::contains("TENSORLINGS_WARM_HOST=watch"));
    assert!(course.shared_hosts().is_empty());
}

/// A run killed during its check (no chance to stop it) takes the check with it: the host stops
/// what its runner can no longer watch.
#[test]
fn a_run_killed_during_its_check_takes_the_check_with_it() {
    let course = Course::new();
    course.edit_info("timeout_secs = 20", "timeout_secs = 600");
    let marker = format!("{}.375", 7000 + std::process::id() % 1000);
    course.write_add(&format!(
        "std::process::Command::new(\"sleep\").arg(\"{marker}\").spawn().unwrap(); loop {{ std::hint::spin_loop(); }}"
    ));
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("tensorlings"));
    command.current_dir(course.dir.path()).args(["run", "add"]).envs(course.host_env());
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut runner = command.spawn().unwrap();
    let started = Instant::now();
    while common::processes_with_argument(&marker).is_empty() {
        assert!(started.elapsed().as_secs() < 120, "`{marker}` never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    runner.kill().unwrap();
    runner.wait().unwrap();
    eventually("the end of the abandoned check", || {
        common::processes_with_argument(&marker).is_empty() && no_check_left(&course)
    });
    assert_eq!(course.shared_hosts().len(), 1, "the host itself stays");
}

/// After a first build, a run whose only change is the learner's file runs rustc as cargo did,
/// without cargo, and a run without a change runs neither; any other change (here, the check)
/// goes through cargo again. Compile errors read the same either way.
#[test]
fn a_run_after_an_edit_of_the_exercise_alone_skips_cargo() {
    let course = Course::new();
    let tools = tempfile::tempdir().unwrap();
    let log = tools.path().join("cargo.log");
    let cargo = tools.path().join("cargo");
    std::fs::write(
        &cargo,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\nexec '{}' \"$@\"\n", log.display(), env!("CARGO")),
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let builds =
        || std::fs::read_to_string(&log).unwrap_or_default().lines().filter(|l| *l == "build").count();
    let run = |expected: &str| {
        course.cmd(&["run", "add"]).env("CARGO", &cargo).assert().stdout(predicate::str::contains(expected))
    };

    course.write_add("a - b");
    run(FAILED);
    assert_eq!(builds(), 1);
    course.write_add("a + b");
    run(PASSED);
    course.write_add("a + b +");
    run("exercises/00_basics/add.rs").stdout(predicate::str::contains("error"));
    course.write_add("a + b");
    run(PASSED);
    assert_eq!(builds(), 1, "cargo ran again after edits of the exercise alone");

    // A run without an edit does not build at all; a file back to an earlier version is built
    // again (it is not the one last built), whatever its modification time.
    let libraries = || {
        let dir = course.path("course/target/debug/examples");
        let mut found: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.file_name().unwrap().to_str().unwrap().starts_with("libadd_hosted"))
            .map(|path| (std::fs::metadata(&path).unwrap().modified().unwrap(), path))
            .collect();
        found.sort();
        found
    };
    let built = libraries();
    run(PASSED);
    assert_eq!(libraries(), built, "a run without an edit rebuilt the library");
    let passing = course.read("exercises/00_basics/add.rs");
    course.write_add("a - b");
    run(FAILED);
    let old = std::fs::File::open(course.path("exercises/00_basics/add.rs"))
        .unwrap()
        .metadata()
        .unwrap()
        .modified();
    course.write("exercises/00_basics/add.rs", &passing);
    let file = std::fs::File::options().write(true).open(course.path("exercises/00_basics/add.rs")).unwrap();
    file.set_modified(old.unwrap() - Duration::from_secs(3600)).unwrap();
    run(PASSED);

    // The check changed (a `git pull`): cargo builds, and is then skipped again.
    std::thread::sleep(Duration::from_millis(20));
    let check = course.read("checks/00_basics/add.rs");
    course.write("checks/00_basics/add.rs", &format!("{check}\n// pulled\n"));
    run(PASSED);
    assert_eq!(builds(), 2);
    course.write_add("a - b");
    run(FAILED);
    assert_eq!(builds(), 2);
}

/// Copies the course folder `from` to `to` as a learner would (`cp -r`), progress and all, but
/// without its build.
fn copy_course(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_name() == "target" {
            continue;
        }
        if entry.file_type().unwrap().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), target).unwrap();
        } else if entry.file_type().unwrap().is_dir() {
            copy_course(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Replays leave cargo's own records behind: a file moved back to an earlier version with its old
/// modification time, once the recording is dropped, must still be built again by cargo.
#[test]
fn a_file_moved_back_after_a_replay_is_built_again_when_cargo_takes_over() {
    let course = Course::new();
    course.write_add("a - b");
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains(FAILED));
    let path = course.path("exercises/00_basics/add.rs");
    let failing_at = std::fs::metadata(&path).unwrap().modified().unwrap();
    course.write_add("a + b");
    course.cmd(&["run", "add"]).assert().success().stdout(predicate::str::contains(PASSED));
    // The course's manifest changes (a `git pull`): the recording is dropped, cargo builds next.
    std::thread::sleep(Duration::from_millis(20));
    let manifest = course.read("course/Cargo.toml");
    course.write("course/Cargo.toml", &format!("{manifest}\n"));
    // The failing version comes back with its old time (`cp -p`, `mv` of a backup).
    course.write_add("a - b");
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(failing_at).unwrap();
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains(FAILED));
}

/// A copy of the course (with its `.tensorlings/`) is judged on its own files, not on those of
/// the folder it was copied from.
#[test]
fn a_copy_of_the_course_is_judged_on_its_own_files() {
    let course = Course::new();
    course.write_add("a - b");
    course.cmd(&["run", "add"]).assert().code(1);
    course.write_add("a - b + 0");
    course.cmd(&["run", "add"]).assert().code(1);
    let copy = tempfile::tempdir().unwrap();
    copy_course(course.dir.path(), copy.path());
    std::fs::write(
        copy.path().join("exercises/00_basics/add.rs"),
        "pub fn add(a: i64, b: i64) -> i64 {\na + b\n}\n\nfn main() {}\n",
    )
    .unwrap();
    let mut command = assert_cmd::Command::cargo_bin("tensorlings").unwrap();
    command.current_dir(copy.path()).args(["run", "add"]).env("NO_COLOR", "1").envs(course.host_env());
    command.env_remove("CARGO_TARGET_DIR").env_remove("LIBTORCH");
    command.assert().success().stdout(predicate::str::contains(PASSED));
    // The original is untouched: still failing.
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains(FAILED));
    for pid in common::processes_running_from(copy.path()) {
        // SAFETY: a signal to the copy's own host.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
}

/// A check inherits its resource limits from the host: a run under other limits (`ulimit`) gets
/// a host of its own, started under them.
#[test]
fn a_run_under_other_resource_limits_gets_a_host_of_its_own() {
    let course = Course::new();
    course.solve_all();
    let run_under = |limits: &str| {
        let mut command = assert_cmd::Command::new("sh");
        let runner = assert_cmd::cargo::cargo_bin("tensorlings");
        command.args(["-c", &format!("{limits} exec '{}' run add", runner.display())]);
        command.current_dir(course.dir.path()).env("NO_COLOR", "1").envs(course.host_env());
        command.env_remove("CARGO_TARGET_DIR").env_remove("LIBTORCH");
        command.assert().success().stdout(predicate::str::contains(PASSED));
    };
    run_under("");
    run_under("");
    assert_eq!(course.shared_hosts().len(), 1);
    // One file descriptor fewer: lowering a soft limit is always allowed, and harmless here.
    run_under("ulimit -S -n $(( $(ulimit -n) - 1 )) &&");
    assert_eq!(course.shared_hosts().len(), 2);
}

/// A stack overflow on a thread the check started reads as in a process of its own, not as a
/// plain segfault.
#[test]
fn a_stack_overflow_on_a_thread_is_named_as_such() {
    let course = Course::new();
    course.write_add(
        "fn deep(n: u64) -> u64 { let a = [n; 1000]; std::hint::black_box(&a); deep(n + 1) + a[7] }\n\
         std::thread::spawn(|| deep(0)).join().unwrap(); a + b",
    );
    course.cmd(&["run", "add"]).assert().code(1).stdout(predicate::str::contains("overflowed its stack"));
}

/// A host nobody can reach (its socket removed) or that does not answer (stopped) costs at most
/// one slow run: the next run finds a fresh host.
#[test]
fn a_host_that_cannot_be_reached_or_does_not_answer_is_replaced() {
    let course = Course::new();
    course.solve_all();
    course.cmd(&["run", "add"]).assert().success();
    let first = course.shared_hosts();
    assert_eq!(first.len(), 1);
    for entry in std::fs::read_dir(course.hosts.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sock") {
            std::fs::remove_file(path).unwrap();
        }
    }
    course.cmd(&["run", "add"]).assert().success().stdout(predicate::str::contains(PASSED));
    eventually("the unreachable host's exit", || !course.shared_hosts().contains(&first[0]));
    let second = course.shared_hosts();
    assert_eq!(second.len(), 1);

    // SAFETY: a signal to this test's own host.
    unsafe { libc::kill(second[0] as libc::pid_t, libc::SIGSTOP) };
    course
        .cmd(&["run", "add"])
        .assert()
        .success()
        .stdout(predicate::str::contains(PASSED))
        .stderr(predicate::str::contains("the shared check host could not be used"));
    eventually("the stopped host's end", || !course.shared_hosts().contains(&second[0]));
    course.cmd(&["run", "add"]).assert().success().stderr(predicate::str::is_empty());
    assert_eq!(course.shared_hosts().len(), 1);
}

/// Odd settings of the host's variables: an idle time that is not a number (said, and the check
/// runs in a process), a relative folder and an idle time of 0 (taken as a second).
#[test]
fn odd_host_settings_are_taken_or_explained() {
    let course = Course::new();
    course.solve_all();
    course
        .cmd(&["run", "add"])
        .env("TENSORLINGS_HOST_IDLE", "soon")
        .assert()
        .success()
        .stdout(predicate::str::contains(PASSED))
        .stderr(predicate::str::contains(
            "TENSORLINGS_HOST_IDLE must be a whole number of seconds, not `soon`",
        ));
    assert!(course.shared_hosts().is_empty());
    // Relative to the folder tensorlings starts in (here the course's).
    let relative = pathdiff(course.hosts.path(), course.dir.path());
    course
        .cmd(&["run", "add"])
        .env("TENSORLINGS_HOST_DIR", &relative)
        .env("TENSORLINGS_HOST_IDLE", "0")
        .assert()
        .success()
        .stdout(predicate::str::contains(PASSED))
        .stderr(predicate::str::is_empty());
    assert!(
        std::fs::read_dir(course.hosts.path()).unwrap().count() > 0,
        "the host's files are in the folder given"
    );
    eventually("the exit of the host idle for a second", || course.shared_hosts().is_empty());
}

/// `to` relative to `from` (both absolute), with `..` where needed.
fn pathdiff(to: &std::path::Path, from: &std::path::Path) -> std::path::PathBuf {
    let to: Vec<_> = to.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut path = std::path::PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for part in &to[common..] {
        path.push(part);
    }
    path
}

/// Diagnostics follow this run's colour setting, whatever the build that made the recording.
#[test]
fn a_replayed_compile_error_follows_this_runs_colours() {
    let course = Course::new();
    course.write_add("a - b");
    // A first run in a terminal: colours on, recorded so.
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("tensorlings"));
    command.current_dir(course.dir.path()).args(["run", "add"]).envs(course.host_env());
    for var in ["NO_COLOR", "CARGO_TARGET_DIR", "LIBTORCH"] {
        command.env_remove(var);
    }
    let mut terminal = rexpect::session::spawn_command(command, Some(120_000)).unwrap();
    let screen = terminal.exp_eof().unwrap();
    assert!(screen.contains('\x1b'), "no colours in a terminal: {screen:?}");
    course.write_add("a + b +");
    let output = course.cmd(&["run", "add"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("error"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "colours in a pipe with NO_COLOR: {stdout:?}");
}
