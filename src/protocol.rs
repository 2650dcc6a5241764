//! The check report (docs/check-protocol.md): the one place that reads what a check binary
//! wrote and decides whether to believe it. The support library writes it; the golden file
//! `tests/fixtures/report-golden.json` is written by one and read by the other in tests.

use serde::Deserialize;

use crate::verdict::CheckResult;

/// The only `format_version` of a report this runner reads.
pub const FORMAT_VERSION: u32 = 1;

/// A report as the check binary wrote it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub format_version: u32,
    #[serde(default)]
    pub device: Option<String>,
    /// Why no check could run, when set-up failed.
    #[serde(default)]
    pub error: Option<String>,
    pub checks: Vec<CheckResult>,
}

/// Why a report was not believed.
#[derive(Debug, PartialEq)]
pub enum Rejected {
    Unreadable(String),
    OtherVersion(u32),
}

pub fn parse(text: &str) -> Result<Report, Rejected> {
    let report: Report = serde_json::from_str(text).map_err(|e| Rejected::Unreadable(e.to_string()))?;
    if report.format_version != FORMAT_VERSION {
        return Err(Rejected::OtherVersion(report.format_version));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::CheckOutcome;

    /// The report the support library writes for a known set of checks (its test
    /// `report_matches_the_golden_file` writes the same text): if either side changes the
    /// format, one of the two tests fails.
    const GOLDEN: &str = include_str!("../tests/fixtures/report-golden.json");

    #[test]
    fn reads_the_golden_report_of_the_support_library() {
        let report = parse(GOLDEN).unwrap();
        assert_eq!(report.device.as_deref(), Some("cpu"));
        assert_eq!(report.error, None);
        let outcomes: Vec<CheckOutcome> = report.checks.iter().map(|c| c.outcome).collect();
        assert_eq!(outcomes, [CheckOutcome::Pass, CheckOutcome::Fail, CheckOutcome::Skip]);
        assert_eq!(report.checks[1].name, "a \"quoted\" name");
        assert_eq!(report.checks[1].message, "line one\nline two\ttabbed \\ backslash é");
        assert_eq!(report.checks[0].duration_ms, 12);
    }

    #[test]
    fn rejects_other_versions_and_garbage() {
        assert_eq!(parse(r#"{"format_version": 2, "checks": []}"#).unwrap_err(), Rejected::OtherVersion(2));
        assert!(matches!(parse("{not json").unwrap_err(), Rejected::Unreadable(_)));
        assert!(matches!(
            parse(r#"{"format_version": 1, "checks": [], "verdict": "pass"}"#).unwrap_err(),
            Rejected::Unreadable(_)
        ));
    }
}
