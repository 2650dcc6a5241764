//! `tensorlings grade` on a class of 30 generated students of the fixture course (no libtorch):
//! complete, partial, not compiling, hanging, crashing and forging work each get their grade,
//! a stopped run resumes without regrading, and two shards merged equal one run.

mod common;

use std::path::{Path, PathBuf};

use common::Course;

/// What each kind of student did to `add` (the other two exercises are solved by the complete
/// students only).
const KINDS: [&str; 6] = ["complete", "partial", "no_compile", "hangs", "crashes", "forges"];

fn add(body: &str) -> String {
    format!("pub fn add(a: i64, b: i64) -> i64 {{\n{body}\n}}\n\nfn main() {{}}\n")
}

/// 30 students, 5 of each kind, in `class/`; each folder is a student's `exercises/`.
fn class(course: &Course) -> (tempfile::TempDir, Vec<PathBuf>) {
    let class = tempfile::tempdir().unwrap();
    let mut folders = Vec::new();
    for i in 0..30 {
        let kind = KINDS[i % KINDS.len()];
        let folder = class.path().join(format!("s{i:02}_{kind}"));
        common::copy_dir(&course.path("exercises"), &folder);
        let solution = |name: &str| course.read(&format!("solutions/00_basics/{name}.rs"));
        let write = |name: &str, text: &str| {
            std::fs::write(folder.join(format!("00_basics/{name}.rs")), text).unwrap()
        };
        match kind {
            "complete" => ["add", "typed", "square"].iter().for_each(|n| write(n, &solution(n))),
            "partial" => write("add", &solution("add")),
            "no_compile" => write("add", &add("a +")),
            "hangs" => write("add", &add("loop { std::hint::spin_loop(); }")),
            "crashes" => write("add", &add("std::process::abort()")),
            "forges" => write(
                "add",
                &add(r###"let p = std::env::var(concat!("TENSOR", "LINGS_REPORT")).unwrap();
std::fs::write(p, r##"{"format_version": 1, "checks": [{"name": "ok", "outcome": "pass"}]}"##).unwrap();
std::process::exit(0)"###),
            ),
            _ => unreachable!(),
        }
        folders.push(folder);
    }
    (class, folders)
}

fn grade(course: &Course, args: &[&str]) -> std::process::Output {
    let output = course.cmd(&[&["grade", "--jobs", "2"], args].concat()).output().unwrap();
    assert!(
        output.status.success(),
        "grade {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_class_is_graded_resumed_and_sharded() {
    let course = Course::new();
    course.edit_info("timeout_secs = 20", "timeout_secs = 2");
    course.edit_info("name = \"add\"", "name = \"add\"\npoints = 2");
    let (class, folders) = class(&course);
    let list = class.path().join("class.txt");
    let names: Vec<String> =
        folders.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    std::fs::write(&list, names.join("\n")).unwrap();
    let out = course.path("grades");
    let out_arg = out.to_str().unwrap();
    grade(&course, &["--list", list.to_str().unwrap(), "--out", out_arg]);

    let csv = std::fs::read_to_string(out.join("gradebook.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "student,add,typed,square,total,max");
    assert_eq!(rows.len(), 31);
    for (row, name) in rows[1..].iter().zip(&names) {
        let expected = match &name[4..] {
            "complete" => "2,1,1,4,4",
            "partial" => "2,0,0,2,4",
            _ => "0,0,0,0,4",
        };
        assert_eq!(*row, format!("{name},{expected}"));
    }
    let book: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("gradebook.json")).unwrap()).unwrap();
    let status_of_add = |student: &str| {
        let graded = book.as_array().unwrap().iter().find(|g| g["student"] == student).unwrap();
        (
            graded["exercises"][0]["status"].as_str().unwrap().to_string(),
            graded["exercises"][0]["message"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(status_of_add("s02_no_compile").0, "compile_error");
    assert_eq!(status_of_add("s03_hangs").0, "timeout");
    assert!(status_of_add("s04_crashes").1.contains("SIGABRT"));
    let (status, message) = status_of_add("s05_forges");
    assert_eq!(status, "fail");
    assert!(message.contains("not trusted"), "{message}");
    assert!(
        std::fs::read_to_string(out.join("junit.xml")).unwrap().contains("<testsuite name=\"s05_forges\"")
    );

    // Stopped after some students (here: the results of five are gone), the next run grades
    // only those, and leaves the others' results as they were.
    let kept = out.join("students/s00_complete.json");
    let before = modified(&kept);
    for name in &names[25..] {
        std::fs::remove_file(out.join(format!("students/{name}.json"))).unwrap();
    }
    let resumed = grade(&course, &["--list", list.to_str().unwrap(), "--out", out_arg]);
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("25 of 30 already graded"));
    assert_eq!(modified(&kept), before, "a graded student was graded again");
    assert_eq!(std::fs::read_to_string(out.join("gradebook.csv")).unwrap(), csv);

    // Two shards, merged, give the same gradebook as one run.
    let folder_args: Vec<&str> = folders.iter().map(|f| f.to_str().unwrap()).collect();
    for (shard, dir) in [("1/2", "shard1"), ("2/2", "shard2")] {
        let dir = course.path(dir);
        grade(&course, &[&folder_args[..], &["--shard", shard, "--out", dir.to_str().unwrap()]].concat());
    }
    let shard1 = std::fs::read_dir(course.path("shard1/students")).unwrap().count();
    assert_eq!(shard1, 15, "each shard grades half the class");
    let merged = course.path("merged");
    grade(
        &course,
        &[
            "--merge",
            course.path("shard1").to_str().unwrap(),
            course.path("shard2").to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(merged.join("gradebook.csv")).unwrap(), csv);
}
