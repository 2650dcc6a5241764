//! The report format is a contract between this library (the writer) and the runner (the
//! reader): both sides test against one golden file, tests/fixtures/report-golden.json of the
//! runner, so that neither can change the format alone.

use tensorlings_support::check::{CheckReport, Outcome, Report};

#[test]
fn report_matches_the_golden_file() {
    let report = Report {
        device: "cpu".into(),
        error: None,
        checks: vec![
            CheckReport {
                name: "values".into(),
                outcome: Outcome::Pass,
                message: String::new(),
                duration_ms: 12,
            },
            CheckReport {
                name: "a \"quoted\" name".into(),
                outcome: Outcome::Fail,
                message: "line one\nline two\ttabbed \\ backslash é".into(),
                duration_ms: 3,
            },
            CheckReport {
                name: "on CUDA".into(),
                outcome: Outcome::Skip,
                message: "no CUDA device".into(),
                duration_ms: 0,
            },
        ],
    };
    let golden = include_str!("../../tests/fixtures/report-golden.json");
    assert_eq!(report.to_json(), golden);
}
