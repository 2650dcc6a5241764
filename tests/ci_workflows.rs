//! The ready-made CI workflows in docs/ci/ parse as GitHub Actions workflows, and their
//! tensorlings steps, run as written (with this build standing in for `cargo run --`), do what
//! the README says on the fixture course: a student's results as JSON and JUnit; a class graded
//! in four shards and merged into one gradebook.

mod common;

use std::path::Path;

use common::Course;
use yaml_rust2::{Yaml, YamlLoader};

const RUNNER: &str = "cargo run --quiet --locked --";

fn workflow(name: &str) -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(docs.len(), 1, "{name}: one document");
    let doc = docs.remove(0);
    assert!(doc["name"].as_str().is_some(), "{name}: a name");
    assert!(!doc["on"].is_badvalue(), "{name}: when it runs (`on`)");
    let jobs = doc["jobs"].as_hash().unwrap_or_else(|| panic!("{name}: jobs"));
    for (job, body) in jobs {
        assert!(body["runs-on"].as_str().is_some(), "{name}: job {job:?} has runs-on");
        for step in body["steps"].as_vec().unwrap_or_else(|| panic!("{name}: job {job:?} has steps")) {
            assert!(
                step["uses"].as_str().is_some() != step["run"].as_str().is_some(),
                "{name}: a step uses or runs: {step:?}"
            );
        }
    }
    doc
}

/// The `run` text of the step called `step` in `job`.
fn step<'a>(doc: &'a Yaml, job: &str, step: &str) -> &'a str {
    doc["jobs"][job]["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some(step))
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("no step {step:?} in job {job}"))
}

/// Runs a step's shell text in `dir`, tensorlings standing in for `cargo run`.
fn run(dir: &Path, script: &str, matrix_shard: Option<&str>) {
    assert!(script.contains(RUNNER), "the step runs tensorlings through cargo: {script}");
    let binary = assert_cmd::cargo::cargo_bin("tensorlings");
    let mut script = script.replace(RUNNER, binary.to_str().unwrap());
    if let Some(shard) = matrix_shard {
        script = script.replace("${{ matrix.shard }}", shard);
    }
    assert!(!script.contains("${{"), "an expression left in: {script}");
    let output = std::process::Command::new("bash")
        .args(["-eo", "pipefail", "-c", &script])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("LIBTORCH")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{script}\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_student_workflow_leaves_json_and_junit_results() {
    let doc = workflow("student.yml");
    let course = Course::new();
    course.write_add("a + b");
    for name in ["Check every exercise (JSON)", "Check every exercise (JUnit)"] {
        run(course.dir.path(), step(&doc, "verify", name), None);
    }
    let results: serde_json::Value = serde_json::from_str(&course.read("results.json")).unwrap();
    assert_eq!(results["summary"]["passed"], 1);
    assert!(course.read("results.xml").contains("<testsuite name=\"add\""));
    let uploaded = doc["jobs"]["verify"]["steps"].as_vec().unwrap().iter().any(|s| {
        s["with"]["path"].as_str().is_some_and(|p| p.contains("results.json") && p.contains("results.xml"))
    });
    assert!(uploaded, "both results are kept as artifacts");
}

#[test]
fn the_instructor_workflow_grades_a_class_in_shards_and_merges_them() {
    let doc = workflow("instructor.yml");
    let shards: Vec<String> = doc["jobs"]["grade"]["strategy"]["matrix"]["shard"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|s| s.as_i64().unwrap().to_string())
        .collect();
    assert_eq!(shards, ["1", "2", "3", "4"]);
    let course = Course::new();
    // What the clone step leaves: a folder per student, listed in class.txt.
    let mut listed = String::new();
    for i in 0..6 {
        let student = course.path(&format!("class/student{i}"));
        common::copy_dir(&course.path("exercises"), &student.join("exercises"));
        if i % 2 == 0 {
            std::fs::write(
                student.join("exercises/00_basics/add.rs"),
                course.read("solutions/00_basics/add.rs"),
            )
            .unwrap();
        }
        listed.push_str(&format!("class/student{i}/\n"));
    }
    std::fs::write(course.path("class.txt"), listed).unwrap();
    for shard in &shards {
        run(course.dir.path(), step(&doc, "grade", "Grade this shard"), Some(shard));
    }
    run(course.dir.path(), step(&doc, "gradebook", "Merge the shards"), None);
    let csv = course.read("gradebook/gradebook.csv");
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert!(csv.contains("student0,1,0,0,1,3") && csv.contains("student1,0,0,0,0,3"), "{csv}");
}
