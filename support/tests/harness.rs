//! The check harness as a check binary uses it: outcomes, panic messages, per-check state, and
//! (in a child process, since `Checks::run` exits) the report file and the exit status.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use tch::{Device, Kind, Tensor};
use tensorlings_support::check::{Ctx, Outcome, Report, SEED_BASE};
use tensorlings_support::{CheckResult, Checks, Failure, check_that, random};

/// Tests that draw from libtorch's global generator, or change grad mode, take this lock: the
/// generator is shared by the test threads of this binary.
static GLOBAL_STATE: Mutex<()> = Mutex::new(());

fn outcome_of(report: &Report, name: &str) -> (Outcome, String) {
    let check = report.checks.iter().find(|c| c.name == name).expect(name);
    (check.outcome, check.message.clone())
}

#[test]
fn every_outcome_is_reported_and_later_checks_still_run() {
    // Running checks seeds the global generator before each one: not while another test draws.
    let _guard = GLOBAL_STATE.lock().unwrap();
    // Each closure is written on the line that `line!()` reports, so the positions in the
    // messages are known whatever the formatting around them.
    let (not_written, todo_line) = (|_: &Ctx| -> CheckResult { todo!() }, line!());
    let (reshape, torch_line) =
        (|ctx: &Ctx| Tensor::zeros([6], (Kind::Float, ctx.device())).reshape([4, 4]), line!());
    let report = Checks::named("outcomes")
        .check("passes", |_| Ok(()))
        .check("fails", |_| Err(Failure::new("it failed").context("for shape [2]")))
        .check("skips", |_| Err(Failure::skip("needs a GPU")))
        .check("is not written yet", not_written)
        .check("reshapes wrongly", |ctx| {
            let _ = reshape(ctx);
            Ok(())
        })
        .check("checks a condition", |_| {
            let n = 3;
            check_that!(n == 4, "expected 4 columns, got {n}");
            Ok(())
        })
        .check("panics with a message", |_| panic!("index {} out of range", 9))
        .check("passes after all that", |_| Ok(()))
        .execute();

    assert_eq!(report.checks.len(), 8);
    assert_eq!(outcome_of(&report, "passes"), (Outcome::Pass, String::new()));
    assert_eq!(outcome_of(&report, "fails"), (Outcome::Fail, "for shape [2]: it failed".into()));
    assert_eq!(outcome_of(&report, "skips"), (Outcome::Skip, "needs a GPU".into()));
    let (outcome, message) = outcome_of(&report, "is not written yet");
    assert_eq!(outcome, Outcome::Fail);
    let at = format!("not implemented yet: replace the `todo!()` at tests/harness.rs:{todo_line}:");
    assert!(message.starts_with(&at) && message.ends_with(" with your code"), "{message}");
    let (outcome, message) = outcome_of(&report, "reshapes wrongly");
    assert_eq!(outcome, Outcome::Fail);
    // The libtorch error without its C++ backtrace, and the check that called tch (found in the
    // backtrace: the panic itself happens inside tch): its line when the test binary has line
    // tables, else its function (the course's dev profile has `debug = false`).
    let with_lines = format!("(called at tests/harness.rs:{torch_line}:");
    let without_lines =
        "(called in `harness::every_outcome_is_reported_and_later_checks_still_run::{{closure}}`)";
    let (first, called) = message.split_once("\n  ").expect(&message);
    assert_eq!(first, "libtorch error: shape '[4, 4]' is invalid for input of size 6");
    assert!(called.starts_with(&with_lines) || called == without_lines, "{message}");
    assert_eq!(
        outcome_of(&report, "checks a condition"),
        (Outcome::Fail, "expected 4 columns, got 3".into())
    );
    let (outcome, message) = outcome_of(&report, "panics with a message");
    assert_eq!(outcome, Outcome::Fail);
    assert!(message.starts_with("panicked at tests/harness.rs:"), "{message}");
    assert!(message.ends_with(": index 9 out of range"), "{message}");
    assert_eq!(outcome_of(&report, "passes after all that").0, Outcome::Pass);
    assert!(report.any_failed());
}

#[test]
fn each_check_starts_from_its_own_seed_with_grad_mode_on_and_its_threads() {
    let _guard = GLOBAL_STATE.lock().unwrap();
    let drawn = std::cell::RefCell::new(Vec::new());
    let threads = std::cell::Cell::new(0);
    let report = Checks::named("state")
        .check("draws", |ctx| {
            check_that!(ctx.seed() == SEED_BASE, "seed {}", ctx.seed());
            drawn.borrow_mut().push(random::randn(&[4], Kind::Float, Device::Cpu));
            // Leaks a no-grad guard and changes the thread count...
            std::mem::forget(tch::no_grad_guard());
            threads.set(tch::get_num_threads());
            tch::set_num_threads(threads.get() + 1);
            Ok(())
        })
        .check("draws again", |ctx| {
            check_that!(ctx.seed() == SEED_BASE + 1, "seed {}", ctx.seed());
            drawn.borrow_mut().push(random::randn(&[4], Kind::Float, Device::Cpu));
            // ...but not in the next one.
            let leaf = Tensor::ones([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            check_that!((&leaf * 2.0).requires_grad(), "grad mode is off");
            check_that!(tch::get_num_threads() == threads.get(), "{} threads", tch::get_num_threads());
            Ok(())
        })
        .execute();
    assert!(!report.any_failed(), "{report:?}");
    let drawn = drawn.into_inner();
    random::seed(SEED_BASE);
    assert!(random::randn(&[4], Kind::Float, Device::Cpu).equal(&drawn[0]));
    random::seed(SEED_BASE + 1);
    assert!(random::randn(&[4], Kind::Float, Device::Cpu).equal(&drawn[1]));
    assert!(!drawn[0].equal(&drawn[1]));
}

#[test]
fn panics_outside_checks_are_left_to_the_default_hook() {
    // After the harness installed its hook, an ordinary panic outside a check is reported as
    // Rust reports it, on stderr: what the hook does is seen in a child's output, not guessed
    // from what catch_unwind returns (which is the same whatever the hook prints).
    let child = run_child("panic-after-checks", &[], None);
    assert_eq!(child.code, Some(101), "stderr:\n{}", child.stderr);
    assert!(child.stderr.contains("panicked at") && child.stderr.contains("plain panic"), "{}", child.stderr);
}

// ---------------------------------------------------------------------------------------------
// `Checks::run` exits, so it runs in a child: this test binary again, with only
// `child_process_entry` selected and an environment variable saying which scenario to play.

const SCENARIO: &str = "TENSORLINGS_HARNESS_SCENARIO";

/// Not a test: the body of the child process. Ignored so that a normal run does not count it.
#[test]
#[ignore = "run by the child-process tests"]
fn child_process_entry() {
    let Ok(scenario) = std::env::var(SCENARIO) else {
        return;
    };
    if scenario == "panic-after-checks" {
        let _ = Checks::named("hook").check("passes", |_| Ok(())).execute();
        panic!("plain panic");
    }
    let checks = Checks::named(scenario.clone()).check("passes", |_| Ok(()));
    let checks = match scenario.as_str() {
        "pass" => checks.check("skips without a GPU", |_| {
            tensorlings_support::device::cuda_or_skip()?;
            Ok(())
        }),
        "fail" => checks.check("fails", |_| Err(Failure::new("it failed\non two lines"))),
        _ => checks,
    };
    checks.run()
}

struct Child {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    report: Option<String>,
}

fn run_child(scenario: &str, env: &[(&str, &str)], report: Option<PathBuf>) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(exe);
    command
        .args(["child_process_entry", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, scenario)
        .env_remove("TENSORLINGS_DEVICE")
        .env_remove("TENSORLINGS_THREADS")
        .env_remove("TENSORLINGS_REPORT");
    if let Some(path) = &report {
        command.env("TENSORLINGS_REPORT", path);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    Child {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report: report.and_then(|p| std::fs::read_to_string(p).ok()),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tensorlings-harness-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Replaces every `"duration_ms": N` with `"duration_ms": 0`, the one part that varies.
fn without_durations(json: &str) -> String {
    let mut out = String::new();
    let mut rest = json;
    while let Some(at) = rest.find("\"duration_ms\": ") {
        let (head, tail) = rest.split_at(at + "\"duration_ms\": ".len());
        out.push_str(head);
        out.push('0');
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

#[test]
fn a_failing_run_writes_the_report_and_exits_1() {
    let dir = temp_dir("fail");
    let child = run_child("fail", &[("TENSORLINGS_DEVICE", "cpu")], Some(dir.join("report.json")));
    assert_eq!(child.code, Some(1), "stdout:\n{}\nstderr:\n{}", child.stdout, child.stderr);
    assert_eq!(
        without_durations(child.report.as_deref().expect("no report")),
        r#"{
  "format_version": 1,
  "mac": "0000000000000000000000000000000000000000000000000000000000000000",
  "device": "cpu",
  "checks": [
    {"name": "passes", "outcome": "pass", "message": "", "duration_ms": 0},
    {"name": "fails", "outcome": "fail", "message": "it failed\non two lines", "duration_ms": 0}
  ]
}
"#
    );
    // Under the runner the harness prints nothing: the runner renders the report.
    assert!(!child.stdout.contains("tensorlings: checking"), "{}", child.stdout);
    // Only the report is left in the directory: the temporary file was renamed.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();

    // Run by hand (no report file), it prints a line per check for a person.
    let child = run_child("fail", &[("TENSORLINGS_DEVICE", "cpu")], None);
    assert_eq!(child.code, Some(1), "stdout:\n{}\nstderr:\n{}", child.stdout, child.stderr);
    assert!(child.stdout.contains("tensorlings: checking `fail` on cpu\n"), "{}", child.stdout);
    assert!(child.stdout.contains("  ✓ passes\n"), "{}", child.stdout);
    assert!(child.stdout.contains("  ✗ fails\n      it failed\n      on two lines\n"), "{}", child.stdout);
    assert!(child.stdout.contains("2 checks: 1 passed, 1 failed, 0 skipped"), "{}", child.stdout);
}

#[test]
fn a_passing_run_exits_0_and_a_gpu_check_skips_without_a_gpu() {
    let dir = temp_dir("pass");
    let child = run_child(
        "pass",
        &[("TENSORLINGS_DEVICE", "cpu"), ("TENSORLINGS_THREADS", "1")],
        Some(dir.join("report.json")),
    );
    assert_eq!(child.code, Some(0), "stdout:\n{}\nstderr:\n{}", child.stdout, child.stderr);
    let report = child.report.expect("no report");
    assert!(
        report.contains(
            r#"{"name": "skips without a GPU", "outcome": "skip", "message": "the checks run with --device cpu: this check runs only on a GPU""#
        ),
        "{report}"
    );
    // With `auto` the CUDA check runs where there is a GPU and skips elsewhere.
    let child = run_child("pass", &[], Some(dir.join("auto.json")));
    assert_eq!(child.code, Some(0), "stdout:\n{}\nstderr:\n{}", child.stdout, child.stderr);
    let report = child.report.expect("no report");
    let expected = if tch::Cuda::is_available() {
        r#"{"name": "skips without a GPU", "outcome": "pass""#
    } else {
        r#"{"name": "skips without a GPU", "outcome": "skip", "message": "no CUDA device: this check runs only on a GPU""#
    };
    assert!(report.contains(expected), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_device_is_reported_once_as_the_error_and_runs_no_check() {
    let dir = temp_dir("device");
    let child = run_child("fail", &[("TENSORLINGS_DEVICE", "gpu")], Some(dir.join("report.json")));
    assert_eq!(child.code, Some(1));
    let report = without_durations(&child.report.expect("no report"));
    assert_eq!(
        report,
        "{\n  \"format_version\": 1,\n  \"mac\": \"0000000000000000000000000000000000000000000000000000000000000000\",\n  \"device\": \"none\",\n  \"error\": \"TENSORLINGS_DEVICE is `gpu`, but it must be `cpu`, `cuda` or `auto`\",\n  \"checks\": []\n}\n"
    );

    let child = run_child("pass", &[("TENSORLINGS_THREADS", "many")], Some(dir.join("t.json")));
    assert_eq!(child.code, Some(1));
    assert!(
        child
            .report
            .expect("no report")
            .contains("TENSORLINGS_THREADS is `many`, but it must be a whole number of at least 1")
    );

    if !tch::Cuda::is_available() {
        let child = run_child("pass", &[("TENSORLINGS_DEVICE", "cuda")], Some(dir.join("c.json")));
        assert_eq!(child.code, Some(1));
        assert!(
            child
                .report
                .expect("no report")
                .contains("CUDA was requested with --device cuda, but no CUDA device is available")
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unwritable_report_path_fails_the_run() {
    let dir = temp_dir("unwritable");
    let child = run_child("pass", &[], Some(dir.join("missing").join("report.json")));
    assert_eq!(child.code, Some(1));
    assert!(child.stderr.contains("tensorlings: could not write the report to"), "{}", child.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_a_report_path_the_run_only_prints() {
    let child = run_child("pass", &[("TENSORLINGS_DEVICE", "cpu")], None);
    assert_eq!(child.code, Some(0), "stdout:\n{}\nstderr:\n{}", child.stdout, child.stderr);
    assert!(child.stdout.contains("  ✓ passes\n"), "{}", child.stdout);
}
