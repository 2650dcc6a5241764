//! Drives watch mode in a pseudo-terminal, as a learner at a keyboard would, on a copy of the
//! fixture course (no libtorch needed).

mod common;

use std::path::Path;

use common::Course;
use rexpect::session::PtySession;

/// Generous: the first check compiles the fixture course. (rexpect reads the terminal byte by
/// byte, so the strings matched below are the ASCII parts of lines.)
const TIMEOUT_MS: u64 = 60_000;

fn start_watch(course: &Course) -> PtySession {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("tensorlings"));
    command.current_dir(course.dir.path()).env("NO_COLOR", "1").env_remove("LIBTORCH");
    rexpect::session::spawn_command(command, Some(TIMEOUT_MS)).expect("watch mode starts in a pty")
}

/// Types one key. rexpect buffers what it sends until a flush.
fn press(watch: &mut PtySession, key: &str) {
    watch.send(key).unwrap();
    watch.flush().unwrap();
}

/// rexpect does not re-export nix's WaitStatus; its Debug form is `Exited(Pid(N), CODE)`.
fn assert_exited_cleanly(watch: &PtySession) {
    let status = format!("{:?}", watch.process().wait().unwrap());
    assert!(status.starts_with("Exited(") && status.ends_with(", 0)"), "watch mode ended with {status}");
}

/// Saves as vim and JetBrains editors do: write a temporary file, rename it over the original.
fn save_by_rename(path: &Path, contents: &str) {
    let temp = path.with_extension("rs.tmp~");
    std::fs::write(&temp, contents).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

#[test]
fn a_learner_session_in_watch_mode() {
    let course = Course::new();
    let mut watch = start_watch(&course);
    watch.exp_string("Welcome to the fixture course.").unwrap();
    watch.exp_string("add failed: 2 of 2 checks failed").unwrap();
    watch.exp_string("Current exercise: exercises/00_basics/add.rs").unwrap();

    // n does nothing until the exercise passes.
    press(&mut watch, "n");
    watch.exp_string("n moves on once this exercise passes").unwrap();

    // A save by rename turns it green and offers the next exercise.
    let solution = course.read("solutions/00_basics/add.rs");
    save_by_rename(&course.path("exercises/00_basics/add.rs"), &solution);
    watch.exp_string("add passed: 2 checks passed").unwrap();
    watch.exp_string("Compare with the reference solution: solutions/00_basics/add.rs").unwrap();
    watch.exp_string("1/3 done").unwrap();

    press(&mut watch, "h");
    watch.exp_string("Use the + operator (PyTorch: torch.add).").unwrap();

    press(&mut watch, "n");
    watch.exp_string("error[E0308]: mismatched types").unwrap();
    watch.exp_string("Current exercise: exercises/00_basics/typed.rs").unwrap();

    press(&mut watch, "l");
    watch.exp_string("typed   pending  exercises/00_basics/typed.rs").unwrap();

    // A file that is briefly missing is waited for, then checked again.
    let typed = course.path("exercises/00_basics/typed.rs");
    let shipped = course.read("exercises/00_basics/typed.rs");
    std::fs::remove_file(&typed).unwrap();
    watch.exp_string("exercises/00_basics/typed.rs is missing").unwrap();
    std::fs::write(&typed, "// my attempt\n").unwrap();
    watch.exp_string("typed failed: it does not compile").unwrap();

    // x asks first, then resets and names the backup; the learner's text is kept there.
    press(&mut watch, "x");
    watch.exp_string("Press y to reset").unwrap();
    press(&mut watch, "y");
    watch.exp_string("Your version is saved as .tensorlings/backups/typed-").unwrap();
    assert_eq!(course.read("exercises/00_basics/typed.rs"), shipped);

    press(&mut watch, "q");
    watch.exp_string("Bye! Your progress is saved").unwrap();
    watch.exp_eof().unwrap();
    assert_exited_cleanly(&watch);

    // The progress survives the session.
    let state = course.read(".tensorlings/state.toml");
    assert!(state.contains("current = \"typed\"") && state.contains("\"add\""), "{state}");
}

#[test]
fn ctrl_c_quits_watch_mode_cleanly() {
    let course = Course::new();
    let mut watch = start_watch(&course);
    watch.exp_string("Current exercise: exercises/00_basics/add.rs").unwrap();
    watch.send_control('c').unwrap();
    watch.exp_string("Bye!").unwrap();
    watch.exp_eof().unwrap();
    assert_exited_cleanly(&watch);
}

#[test]
fn q_stops_a_hanging_check_and_quits() {
    let course = Course::new();
    course.edit_info("timeout_secs = 20", "timeout_secs = 600");
    course.write_add("loop { std::hint::spin_loop(); }");
    // As in a real terminal, a shell leads the session and outlives tensorlings: were the check
    // left running, no hang-up would end it. (Started directly, tensorlings would lead the
    // session, and its exit would hang up the check and hide the bug.)
    let mut shell = std::process::Command::new("sh");
    shell
        .args(["-c", "\"$0\"; echo \"exit $?\"; sleep 3"])
        .arg(assert_cmd::cargo::cargo_bin("tensorlings"))
        .current_dir(course.dir.path())
        .env("NO_COLOR", "1");
    let mut watch = rexpect::session::spawn_command(shell, Some(TIMEOUT_MS)).unwrap();
    watch.exp_string("Checking add... (it is stopped after 600 s; q stops it and quits)").unwrap();
    // Give the check time to start its process, then try other keys and quit.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    press(&mut watch, "r");
    watch.exp_string("Wait for the check to finish, or press q").unwrap();
    press(&mut watch, "q");
    watch.exp_string("Bye!").unwrap();
    watch.exp_string("exit 0").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        common::processes_running_from(course.dir.path()).is_empty(),
        "the hanging check was left running"
    );
    watch.exp_eof().unwrap();
}

#[test]
fn long_output_leaves_the_verdict_on_screen() {
    let course = Course::new();
    course.write_add("for i in 0..500 { println!(\"debug {i}\"); } a - b");
    let mut watch = start_watch(&course);
    watch.exp_string("earlier lines not shown; `tensorlings run add` shows all]").unwrap();
    watch.exp_string("debug 499").unwrap();
    watch.exp_string("add failed: 2 of 2 checks failed").unwrap();
    press(&mut watch, "q");
    watch.exp_eof().unwrap();
}

#[test]
fn a_save_during_a_hanging_check_stops_it_and_checks_the_new_version() {
    let course = Course::new();
    course.edit_info("timeout_secs = 20", "timeout_secs = 600");
    course.write_add("loop { std::hint::spin_loop(); }");
    let mut watch = start_watch(&course);
    watch.exp_string("Checking add... (it is stopped after 600 s").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // Without the stop, this verdict would wait for the 600 s timeout and fail the expect.
    save_by_rename(&course.path("exercises/00_basics/add.rs"), &course.read("solutions/00_basics/add.rs"));
    watch.exp_string("add passed: 2 checks passed").unwrap();
    assert!(
        common::processes_running_from(&course.path("course/target")).is_empty(),
        "the stale check was left running"
    );
    press(&mut watch, "q");
    watch.exp_eof().unwrap();
    // The stale run was not recorded: the exercise is done.
    assert!(course.read(".tensorlings/state.toml").contains("\"add\""));
}
