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
    start_watch_with(course, &[], &[])
}

/// Watch mode with these arguments and environment variables (an empty value removes one); no
/// editor is inherited from the environment that runs the tests.
fn start_watch_with(course: &Course, args: &[&str], env: &[(&str, &str)]) -> PtySession {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("tensorlings"));
    command.current_dir(course.dir.path()).args(args).env("NO_COLOR", "1").env_remove("LIBTORCH");
    for var in ["TENSORLINGS_EDITOR", "VISUAL", "EDITOR"] {
        command.env_remove(var);
    }
    for (name, value) in env {
        if value.is_empty() {
            command.env_remove(name);
        } else {
            command.env(name, value);
        }
    }
    rexpect::session::spawn_command(command, Some(TIMEOUT_MS)).expect("watch mode starts in a pty")
}

/// Waits (up to 10 s) until no process runs from `dir`: what watch mode started ends with it.
fn wait_until_none_run_from(dir: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !common::processes_running_from(dir).is_empty() {
        assert!(std::time::Instant::now() < deadline, "still running after watch mode ended");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
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
    press(&mut watch, "q");
    watch.exp_string("Current exercise: exercises/00_basics/typed.rs").unwrap();

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
    watch.exp_string("Wait for the check to finish, save a new version").unwrap();
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
        common::checks_running_from(&course.path("course/target")).is_empty(),
        "the stale check was left running"
    );
    press(&mut watch, "q");
    watch.exp_eof().unwrap();
    // The warm host goes with watch mode.
    wait_until_none_run_from(&course.path("course/target"));
    // The stale run was not recorded: the exercise is done.
    assert!(course.read(".tensorlings/state.toml").contains("\"add\""));
}

#[test]
fn the_list_is_a_view_to_act_on() {
    let course = Course::new();
    let mut watch = start_watch(&course);
    watch.exp_string("add failed: 2 of 2 checks failed").unwrap();

    press(&mut watch, "l");
    watch.exp_string("filter: all").unwrap();
    watch.exp_string(" 1-3 of 3").unwrap();
    watch.exp_string("add     pending  exercises/00_basics/add.rs").unwrap();
    watch.exp_string("Enter make current").unwrap();

    // Filters: nothing is done yet; everything is pending.
    press(&mut watch, "f");
    watch.exp_string("No exercise is done yet.").unwrap();
    press(&mut watch, "\t");
    watch.exp_string("filter: pending").unwrap();
    watch.exp_string(" 1-3 of 3").unwrap();
    press(&mut watch, "f");
    watch.exp_string("filter: all").unwrap();

    // Down twice (an arrow, then j) and Enter: square becomes current and is checked.
    press(&mut watch, "\x1b[B");
    press(&mut watch, "j");
    press(&mut watch, "\r");
    watch.exp_string("square failed").unwrap();
    watch.exp_string("Current exercise: exercises/00_basics/square.rs").unwrap();

    // A search, typed with letters that are keys elsewhere (no exercise has them, and none
    // of them acts), then one that matches; Enter ends it, Enter again makes typed current.
    press(&mut watch, "l");
    watch.exp_string("filter: all").unwrap();
    press(&mut watch, "/qx");
    watch.exp_string("No exercise has `qx` in its name.").unwrap();
    press(&mut watch, "\x7f\x7fty");
    watch.exp_string("search: ty_").unwrap();
    watch.exp_string(" 1-1 of 1").unwrap();
    watch.exp_string("Enter keep the search").unwrap();
    press(&mut watch, "\r");
    press(&mut watch, "\r");
    watch.exp_string("typed failed: it does not compile").unwrap();
    watch.exp_string("Current exercise: exercises/00_basics/typed.rs").unwrap();

    // Reset another exercise from the list: it asks first, then keeps a backup.
    course.write_add("a * b");
    press(&mut watch, "l");
    watch.exp_string("filter: all").unwrap();
    press(&mut watch, "\x1b[H");
    press(&mut watch, "x");
    watch.exp_string("Reset exercises/00_basics/add.rs to as shipped?").unwrap();
    press(&mut watch, "n");
    watch.exp_string("1-3 of 3").unwrap();
    assert!(course.read("exercises/00_basics/add.rs").contains("a * b"), "n cancels");
    press(&mut watch, "x");
    watch.exp_string("Press y to reset").unwrap();
    press(&mut watch, "y");
    watch.exp_string("Reset add. Your version is saved as .tensorlings/backups/add-").unwrap();
    assert_eq!(
        course.read("exercises/00_basics/add.rs"),
        course.read(".tensorlings/shipped/00_basics/add.rs")
    );

    // Esc goes back to the verdict, and q then quits.
    press(&mut watch, "\x1b");
    watch.exp_string("typed failed: it does not compile").unwrap();
    press(&mut watch, "q");
    watch.exp_string("Bye!").unwrap();
    watch.exp_eof().unwrap();
    assert!(course.read(".tensorlings/state.toml").contains("current = \"typed\""));
}

/// Writes an executable shell script.
fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_terminal_editor_gets_the_terminal_and_its_save_is_checked() {
    let course = Course::new();
    // A terminal editor as far as watch mode can tell: it records the terminal's mode, waits,
    // reads a line typed at the keyboard, then "saves" the solution.
    let log = course.path("editor.log");
    let editor = course.path("bin/fake-editor");
    write_script(
        &editor,
        &format!(
            "stty -a > '{log}'\necho \"fake editor on $1\"\nsleep 1\nread line\necho \"typed: $line\" >> '{log}'\n\
             cp '{solution}' \"$1\"",
            log = log.display(),
            solution = course.path("solutions/00_basics/add.rs").display()
        ),
    );
    let edit_cmd = editor.display().to_string();
    let mut watch = start_watch_with(&course, &["--edit-cmd", &edit_cmd], &[]);
    // --edit-cmd opens the current exercise when watch mode starts.
    watch.exp_string("fake editor on ").unwrap();
    watch.exp_string("exercises/00_basics/add.rs").unwrap();
    // q and n are the editor's to read, not watch mode's keys, even when typed before it reads
    // them (it sleeps first).
    watch.send_line("qn").unwrap();
    watch.exp_string("add passed: 2 checks passed").unwrap();
    watch.exp_string("Opened exercises/00_basics/add.rs with ").unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("typed: qn"), "{log}");
    assert!(log.contains(" icanon") && !log.contains("-icanon"), "the editor ran in raw mode: {log}");
    // Watch mode has the keys again.
    press(&mut watch, "n");
    watch.exp_string("Current exercise: exercises/00_basics/typed.rs").unwrap();
    press(&mut watch, "q");
    watch.exp_string("Bye!").unwrap();
    watch.exp_eof().unwrap();
    assert_exited_cleanly(&watch);
}

#[test]
fn a_graphical_editor_opens_in_the_background_on_e() {
    let course = Course::new();
    // `code` on PATH is taken for VS Code: started on its own, not waited for.
    let opened = course.path("opened.txt");
    write_script(&course.path("bin/code"), &format!("echo \"$@\" > '{}'\nsleep 30", opened.display()));
    let path = format!("{}:{}", course.path("bin").display(), std::env::var("PATH").unwrap());
    let mut watch = start_watch_with(&course, &[], &[("PATH", &path), ("EDITOR", "code")]);
    watch.exp_string("add failed").unwrap();
    assert!(!opened.exists(), "without --edit-cmd, the editor opens only on e");
    press(&mut watch, "e");
    watch.exp_string("Opened exercises/00_basics/add.rs with code.").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !opened.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let args = std::fs::read_to_string(&opened).unwrap();
    assert!(args.trim_end().ends_with("/exercises/00_basics/add.rs"), "{args}");
    // The editor (still running) did not take the keys.
    press(&mut watch, "q");
    watch.exp_string("Bye!").unwrap();
    watch.exp_eof().unwrap();
    assert_exited_cleanly(&watch);
}

#[test]
fn e_without_an_editor_says_how_to_set_one() {
    let course = Course::new();
    let mut watch = start_watch(&course);
    watch.exp_string("add failed").unwrap();
    press(&mut watch, "e");
    watch.exp_string("No editor is set: start with `tensorlings --edit-cmd CMD`").unwrap();
    press(&mut watch, "q");
    watch.exp_eof().unwrap();
}

#[test]
fn paths_are_hyperlinks_in_a_terminal_with_colors() {
    let course = Course::new();
    let mut watch = start_watch_with(&course, &[], &[("NO_COLOR", ""), ("TERM", "xterm-256color")]);
    let root = course.dir.path().canonicalize().unwrap();
    // OSC 8: ESC ] 8 ; ; URL ESC \ TEXT ESC ] 8 ; ; ESC \
    watch.exp_string("\x1b]8;;file://").unwrap();
    watch.exp_string(&format!("{}/exercises/00_basics/add.rs\x1b\\", root.display())).unwrap();
    watch.exp_string("exercises/00_basics/add.rs\x1b]8;;\x1b\\").unwrap();
    press(&mut watch, "q");
    watch.exp_eof().unwrap();
}

/// The warm host: each way exercise code can take its check down (a segfault, an abort, an
/// endless loop, process state left behind), followed by a correct save, gives the right verdict
/// both times, and the host carries on.
#[test]
fn checks_in_the_warm_host_survive_crashes_hangs_and_leftover_state() {
    let course = Course::new();
    course.edit_info("timeout_secs = 20", "timeout_secs = 3");
    course.edit_info("name = \"add\"\n", "name = \"add\"\nmemory_limit = \"300 MiB\"\n");
    // Watch mode runs the check in a child forked by the host, not in a process of its own.
    course.write_add(
        "println!(\"running in {:?}\", std::env::current_exe().unwrap().file_name().unwrap()); a - b",
    );
    let mut watch = start_watch(&course);
    watch.exp_string("running in \"tensorlings_host\"").unwrap();
    watch.exp_string("add failed: 2 of 2 checks failed").unwrap();
    let path = course.path("exercises/00_basics/add.rs");
    let body = |code: &str| format!("pub fn add(a: i64, b: i64) -> i64 {{\n{code}\n}}\n\nfn main() {{}}\n");
    // Where the check ran is printed first: a verdict from the host, or from a process of its
    // own (`add_check`) where the runner confirms a segfault there (the host's child cannot tell
    // a stack overflow on another thread from one).
    let takedowns = [
        (
            "unsafe { std::ptr::null_mut::<i64>().write_volatile(a) }; a + b",
            "add_check",
            "SIGSEGV, a segmentation fault",
        ),
        ("std::process::abort()", "tensorlings_host", "SIGABRT"),
        ("loop { std::hint::spin_loop(); }", "tensorlings_host", "it was stopped after 3 s"),
        // Too much memory, held: the runner's watch of the child's memory stops it.
        (
            "let held = vec![1u8; 600 << 20]; std::thread::sleep(std::time::Duration::from_secs(2)); a + b + held[0] as i64 - 1",
            "tensorlings_host",
            "it was stopped for using",
        ),
    ];
    for (code, ran_in, verdict) in takedowns {
        let code = format!(
            "println!(\"ran in {{:?}}\", std::env::current_exe().unwrap().file_name().unwrap()); {code}"
        );
        save_by_rename(&path, &body(&code));
        watch.exp_string(&format!("ran in \"{ran_in}\"")).unwrap();
        watch.exp_string(verdict).unwrap();
        save_by_rename(&path, &body("a + b"));
        watch.exp_string("add passed: 2 checks passed").unwrap();
        // Back from the pass to a failure, so that the next verdict is a new one on screen.
        save_by_rename(&path, &body("a - b"));
        watch.exp_string("add failed: 2 of 2 checks failed").unwrap();
    }
    // State that exercise code leaves in its process (here an environment variable) is gone at
    // the next check: each check starts from the host as it was before any check ran.
    save_by_rename(&path, &body("unsafe { std::env::set_var(\"FIXTURE_LEFT_BEHIND\", \"1\") }; a + b"));
    watch.exp_string("add passed: 2 checks passed").unwrap();
    save_by_rename(&path, &body("a - b"));
    watch.exp_string("add failed: 2 of 2 checks failed").unwrap();
    save_by_rename(
        &path,
        &body("if std::env::var_os(\"FIXTURE_LEFT_BEHIND\").is_some() { return 0; } a + b"),
    );
    watch.exp_string("add passed: 2 checks passed").unwrap();
    press(&mut watch, "q");
    watch.exp_eof().unwrap();
    wait_until_none_run_from(&course.path("course/target"));
}

/// `TENSORLINGS_WARM_HOST=0` turns the host off: checks run in processes of their own.
#[test]
fn without_the_warm_host_checks_run_in_their_own_process() {
    let course = Course::new();
    course.write_add(
        "println!(\"running in {:?}\", std::env::current_exe().unwrap().file_name().unwrap()); a - b",
    );
    for off in ["0", "off"] {
        let mut watch = start_watch_with(&course, &[], &[("TENSORLINGS_WARM_HOST", off)]);
        watch.exp_string("running in \"add_check\"").unwrap();
        press(&mut watch, "q");
        watch.exp_eof().unwrap();
    }
}

/// A host that cannot start costs nothing: the checks run in processes of their own, with the
/// same verdicts.
#[test]
fn a_host_that_does_not_start_leaves_checks_to_processes() {
    let course = Course::new();
    course.write("course/host.rs", "fn main() { eprintln!(\"no host today\"); std::process::exit(3) }\n");
    course.write_add(
        "println!(\"running in {:?}\", std::env::current_exe().unwrap().file_name().unwrap()); a - b",
    );
    let mut watch = start_watch(&course);
    watch.exp_string("running in \"add_check\"").unwrap();
    watch.exp_string("add failed: 2 of 2 checks failed").unwrap();
    // Said once: every check is slower.
    watch.exp_string("The warm check host did not start").unwrap();
    save_by_rename(&course.path("exercises/00_basics/add.rs"), &course.read("solutions/00_basics/add.rs"));
    watch.exp_string("add passed: 2 checks passed").unwrap();
    press(&mut watch, "q");
    watch.exp_eof().unwrap();
}

#[test]
fn p_profiles_the_current_exercise_once_it_passes() {
    let course = Course::new();
    course.solve_all();
    // square (the last exercise) declares a profile; add (the first) does not.
    let mut watch = start_watch(&course);
    watch.exp_string("add passed").unwrap();
    press(&mut watch, "p");
    watch.exp_string("`add` declares no profile").unwrap();
    watch.exp_string("these exercises do: square").unwrap();
    press(&mut watch, "n");
    watch.exp_string("typed passed").unwrap();
    press(&mut watch, "n");
    watch.exp_string("square passed").unwrap();
    press(&mut watch, "p");
    watch.exp_string("Profile of square").unwrap();
    watch.exp_string("3.40x slower than the reference at n = 1000").unwrap();
    press(&mut watch, "q");
    assert_exited_cleanly(&watch);
}

/// Watch mode's rebuild after a save (rustc replayed without cargo) gives exercise code the
/// compile-time variables cargo would, whatever the runner's own environment holds.
#[test]
fn a_rebuilt_check_sees_the_compile_time_variables_cargo_sets() {
    let course = Course::new();
    let path = course.path("exercises/00_basics/add.rs");
    let body = |tag: &str| {
        format!(
            "pub fn add(a: i64, b: i64) -> i64 {{\n    // {tag}\n    assert_eq!(env!(\"CARGO_PKG_NAME\"), \"fixture-course\");\n    \
             assert_eq!(option_env!(\"CARGO_PKG_VERSION\"), Some(\"0.1.0\"));\n    a + b\n}}\n\nfn main() {{}}\n"
        )
    };
    course.write("exercises/00_basics/add.rs", &body("first"));
    // As when watch mode is started with `cargo run`: the runner's own package variables.
    let mut watch =
        start_watch_with(&course, &[], &[("CARGO_PKG_NAME", "tensorlings"), ("CARGO_PKG_VERSION", "9.9.9")]);
    watch.exp_string("add passed: 2 checks passed").unwrap();
    for tag in ["second", "third"] {
        save_by_rename(&path, &body(tag).replace("a + b", "a - b"));
        watch.exp_string("add failed: 2 of 2 checks failed").unwrap();
        save_by_rename(&path, &body(tag));
        watch.exp_string("add passed: 2 checks passed").unwrap();
    }
    press(&mut watch, "q");
    watch.exp_eof().unwrap();
}
