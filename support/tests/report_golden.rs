//! The report format is a contract between this library (the writer) and the runner (the
//! reader): both sides test against one golden file, tests/fixtures/report-golden.json of the
//! runner, so that neither can change the format alone.

use std::path::PathBuf;

use tensorlings_support::check::{CheckReport, Outcome, Report};
use tensorlings_support::profile::{Figures, Measured, Profiles, Variant};

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
        // What `tensorlings profile` adds: rows of figures, one that failed, and the trace.
        profiles: Some(Profiles {
            rows: vec![
                Measured {
                    function: "pairwise_distances".into(),
                    parameter: "n".into(),
                    size: 2048,
                    variant: Variant::Exercise,
                    name: String::new(),
                    result: Ok(Figures {
                        repeats: 12,
                        median_ns: 20_400_000,
                        q1_ns: 19_800_000,
                        q3_ns: 21_000_000,
                        min_ns: 19_500_000,
                        peak_bytes: 50_331_648,
                        allocations: 5,
                        allocated_bytes: 67_108_864,
                    }),
                },
                Measured {
                    function: "pairwise_distances".into(),
                    parameter: "n".into(),
                    size: 2048,
                    variant: Variant::Builtin,
                    name: "torch.cdist".into(),
                    result: Ok(Figures {
                        repeats: 40,
                        median_ns: 6_000_000,
                        q1_ns: 5_900_000,
                        q3_ns: 6_200_000,
                        min_ns: 5_800_000,
                        peak_bytes: 16_777_216,
                        allocations: 1,
                        allocated_bytes: 16_777_216,
                    }),
                },
                Measured {
                    function: "pairwise_distances".into(),
                    parameter: "n".into(),
                    size: 2048,
                    variant: Variant::Reference,
                    name: String::new(),
                    result: Err("libtorch error: \"out of memory\"".into()),
                },
            ],
            trace: Some(Ok(PathBuf::from("/tmp/trace.json"))),
        }),
    };
    let golden = include_str!("../../tests/fixtures/report-golden.json");
    assert_eq!(report.to_json(), golden);
}
