//! Profile mode end to end through the harness: the rows it adds to the report, and the Chrome
//! trace it writes, read back as JSON with the learner's ops, their input shapes and the range
//! around each run. One test in this binary: it sets the process's environment.

use std::path::PathBuf;

use tensorlings_support::prelude::*;
use tensorlings_support::profile::{self, Variant};

fn trace_path() -> PathBuf {
    std::env::temp_dir().join(format!("tensorlings-trace-{}.json", std::process::id()))
}

#[test]
fn profile_mode_measures_after_passing_checks_and_writes_a_chrome_trace() {
    let path = trace_path();
    // SAFETY: the only test of this binary, so no other thread reads the environment.
    unsafe {
        std::env::set_var(profile::PROFILE_VAR, "1");
        std::env::set_var(profile::TRACE_VAR, &path);
    }
    let report = Checks::named("matmul")
        .check("passes", |_| Ok(()))
        .profile("matmul", profile::sizes("n", [8, 48]), |n, device| {
            let (a, b) = (randn(&[n, n], Kind::Float, device), randn(&[n, n], Kind::Float, device));
            ProfileCase::new(vec![a, b])
                .exercise(|x| x[0].mm(&x[1]))
                .reference(|x| x[0].matmul(&x[1]))
                .builtin("torch.mm", |x| x[0].mm(&x[1]))
        })
        .execute();
    let profiles = report.profiles.expect("profile mode ran");
    assert_eq!(profiles.rows.len(), 6, "two sizes, three versions");
    let yours = &profiles.rows[3];
    assert_eq!((yours.size, yours.variant), (48, Variant::Exercise));
    let figures = yours.result.as_ref().unwrap();
    // One 48 x 48 float32 result: 9216 bytes, where the device is the CPU.
    if report.device == "cpu" {
        assert_eq!((figures.allocations, figures.peak_bytes), (1, 48 * 48 * 4));
    }
    assert_eq!(profiles.trace, Some(Ok(path.clone())));

    let text = std::fs::read_to_string(&path).expect("the trace was written");
    let trace: serde_json::Value = serde_json::from_str(&text).expect("the trace is JSON");
    let events = trace["traceEvents"].as_array().expect("a Chrome trace has traceEvents");
    let named = |name: &str| events.iter().filter(move |e| e["name"] == name).collect::<Vec<_>>();
    let range = named("matmul (yours), n = 48");
    assert_eq!(range.len(), 1, "one range around the traced run");
    let mm = named("aten::mm");
    assert!(!mm.is_empty(), "the learner's op is in the trace");
    let dims = &mm[0]["args"]["Input Dims"];
    assert_eq!(dims, &serde_json::json!([[48, 48], [48, 48]]), "with its input shapes: {}", mm[0]);
    assert!(mm[0]["dur"].as_f64().is_some(), "and its duration");
    assert!(events.iter().any(|e| e["name"] == "[memory]"), "memory events are recorded (profile_memory)");
    // Only the learner's version at the largest size is traced: the small size is not there.
    assert!(named("matmul (yours), n = 8").is_empty());
    std::fs::remove_file(&path).unwrap();
}
