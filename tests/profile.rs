//! `tensorlings profile` on the fixture course, whose harness reports fixed profile figures for
//! `square` (no timing here): the refusals, the table and its sentence, JSON, and the trace.

mod common;

use common::Course;
use predicates::prelude::*;

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

#[test]
fn an_exercise_that_does_not_pass_is_not_profiled() {
    let course = Course::new();
    course
        .cmd(&["profile", "square"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("square(3) returned 6, expected 9"))
        .stderr(predicate::str::contains("`square` does not pass yet, so it was not profiled"))
        .stderr(predicate::str::contains("`tensorlings run square`"));
}

#[test]
fn checks_that_cannot_run_are_a_setup_error_not_a_failure() {
    let course = Course::new();
    course.solve_all();
    course
        .cmd(&["profile", "square", "--device", "cuda"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("could not be checked: no CUDA device in the fixture"))
        .stderr(predicate::str::contains("does not pass yet").not());
}

#[test]
fn an_exercise_without_a_profile_names_those_that_have_one() {
    let course = Course::new();
    course.solve_all();
    course
        .cmd(&["profile", "add"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`add` declares no profile"))
        .stderr(predicate::str::contains("these exercises do: square"));
    course.cmd(&["profile", "nope"]).assert().code(2).stderr(predicate::str::contains("nope"));
}

#[test]
fn a_passing_exercise_gets_the_table_with_ratios_and_a_sentence() {
    let course = Course::new();
    course.solve_all();
    let assert = course.cmd(&["profile", "square"]).assert().success();
    let out = stdout_of(&assert);
    assert!(out.contains("Profile of square on"), "{out}");
    for header in ["n", "version", "median", "peak", "allocs", "vs reference", "vs x.square()"] {
        assert!(out.contains(header), "no {header} in:\n{out}");
    }
    let large_yours = out.lines().find(|l| l.trim_start().starts_with("1000")).expect("a row at n = 1000");
    for cell in ["yours", "3.40 ms", "48 MiB", "7", "3.40x", "6.80x"] {
        assert!(large_yours.contains(cell), "no {cell} in {large_yours:?}");
    }
    assert!(out.contains("(3.06 ms – 3.74 ms)"), "the middle half of the runs: {out}");
    assert!(
        out.contains(
            "3.40x slower than the reference at n = 1000: it makes 7 allocations where the reference makes 2 \
             (48 MiB in all against 16 MiB), and its peak is 48 MiB against 16 MiB."
        ),
        "{out}"
    );
    assert!(!out.contains("Trace"), "no trace was asked for: {out}");
}

#[test]
fn json_carries_every_figure_and_ratio() {
    let course = Course::new();
    course.solve_all();
    let assert = course.cmd(&["profile", "square", "--format", "json"]).assert().success();
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(&assert)).expect("one JSON document");
    assert_eq!(doc["exercise"], "square");
    assert_eq!(doc["format_version"], 1);
    let function = &doc["functions"][0];
    assert_eq!((function["name"].as_str(), function["parameter"].as_str()), (Some("square"), Some("n")));
    let large = &function["sizes"][1];
    assert_eq!(large["size"], 1000);
    assert!((large["ratio_to_reference"].as_f64().unwrap() - 3.4).abs() < 1e-9);
    assert!((large["ratio_to_builtin"].as_f64().unwrap() - 6.8).abs() < 1e-9);
    let yours = &large["versions"][0];
    assert_eq!(yours["variant"], "exercise");
    assert_eq!(
        (
            yours["median_ns"].as_u64(),
            yours["q1_ns"].as_u64(),
            yours["q3_ns"].as_u64(),
            yours["repeats"].as_u64()
        ),
        (Some(3_400_000), Some(3_060_000), Some(3_740_000), Some(9))
    );
    assert_eq!((yours["allocations"].as_u64(), yours["peak_bytes"].as_u64()), (Some(7), Some(48 << 20)));
    assert_eq!(large["versions"][2]["name"], "x.square()");
    assert_eq!(function["findings"].as_array().unwrap().len(), 1);
    assert!(doc["trace"].is_null());
}

#[test]
fn trace_writes_the_file_where_asked_and_says_how_to_open_it() {
    let course = Course::new();
    course.solve_all();
    let out_dir = tempfile::tempdir().unwrap();
    let trace = out_dir.path().join("square.json");
    let assert = course.cmd(&["profile", "square", "--trace", trace.to_str().unwrap()]).assert().success();
    let out = stdout_of(&assert);
    assert!(out.contains(&trace.display().to_string()), "{out}");
    assert!(out.contains("https://ui.perfetto.dev") && out.contains("chrome://tracing"), "{out}");
    let events: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert_eq!(events["traceEvents"][0]["name"], "square (yours), n = 1000");
    let missing = out_dir.path().join("no-such-folder/t.json");
    course
        .cmd(&["profile", "square", "--trace", missing.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not exist"));
}

#[test]
fn exercises_from_profiles_another_folder_and_leaves_the_learners_alone() {
    let course = Course::new();
    let before = course.read("exercises/00_basics/square.rs");
    course
        .cmd(&["profile", "square", "--exercises-from", "solutions"])
        .assert()
        .success()
        .stdout(predicate::str::contains("3.40x slower than the reference"));
    assert_eq!(course.read("exercises/00_basics/square.rs"), before);
}
