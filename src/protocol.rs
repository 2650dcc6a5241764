//! The check report (docs/check-protocol.md): the one place that reads what a check binary
//! wrote and decides whether to believe it. The support library writes it; the golden file
//! `tests/fixtures/report-golden.json` is written by one and read by the other in tests.
//!
//! Trust: the runner gives each check process a fresh secret on its standard input, which the
//! harness reads before any learner code runs; the report carries the HMAC-SHA256 of its text
//! (with zeros in the MAC's place) under that secret. A report written by learner code cannot
//! carry a valid one.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::verdict::CheckResult;

/// The only `format_version` of a report this runner reads.
pub const FORMAT_VERSION: u32 = 1;

/// A report as the check binary wrote it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub format_version: u32,
    /// The HMAC of the report: checked on the raw text by [`parse`], so unused once parsed.
    #[serde(default, rename = "mac")]
    _mac: Option<String>,
    #[serde(default)]
    pub device: Option<String>,
    /// Why no check could run, when set-up failed.
    #[serde(default)]
    pub error: Option<String>,
    pub checks: Vec<CheckResult>,
    /// Profile mode (`tensorlings profile`): where the Chrome trace was written, or why not.
    #[serde(default)]
    pub trace: Option<String>,
    #[serde(default)]
    pub trace_error: Option<String>,
    /// Profile mode: one row per function, size and version; absent outside profile mode and
    /// when a check failed.
    #[serde(default)]
    pub profiles: Option<Vec<ProfileRow>>,
}

/// What profile mode reported: its rows and the trace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfileSection {
    pub rows: Vec<ProfileRow>,
    /// The trace file written, or why it could not be; `None` when none was asked for.
    pub trace: Option<Result<String, String>>,
}

impl Report {
    /// The profile part of the report, when profile mode ran.
    pub fn take_profile(&mut self) -> Option<ProfileSection> {
        let rows = self.profiles.take()?;
        let trace = match (self.trace.take(), self.trace_error.take()) {
            (Some(path), _) => Some(Ok(path)),
            (None, Some(why)) => Some(Err(why)),
            (None, None) => None,
        };
        Some(ProfileSection { rows, trace })
    }
}

/// Which version of a profiled function a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileVariant {
    Exercise,
    Reference,
    Builtin,
}

/// One version of a profiled function at one size, as the harness measured it: the figures,
/// or the `error` that stopped it (a panic at a size the checks did not try).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRow {
    pub function: String,
    /// The size's name (`n`).
    pub parameter: String,
    pub size: i64,
    pub variant: ProfileVariant,
    /// The built-in's name (`torch.cdist`); empty for the others.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub repeats: u64,
    #[serde(default)]
    pub median_ns: u64,
    #[serde(default)]
    pub q1_ns: u64,
    #[serde(default)]
    pub q3_ns: u64,
    #[serde(default)]
    pub min_ns: u64,
    #[serde(default)]
    pub peak_bytes: u64,
    #[serde(default)]
    pub allocations: u64,
    #[serde(default)]
    pub allocated_bytes: u64,
}

/// Why a report was not believed.
#[derive(Debug, PartialEq)]
pub enum Rejected {
    Unreadable(String),
    OtherVersion(u32),
    /// Not signed with the run's secret: written by something other than the harness.
    Unsigned,
}

/// Where the signature stands in the text, and its length (hex of HMAC-SHA256).
const MAC_FIELD: &str = "\"mac\": \"";
const MAC_HEX_LEN: usize = 64;

/// A fresh secret for one check run.
pub fn new_secret() -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
    Ok(secret)
}

/// Reads a report and, with `secret`, believes it only when it is signed with it.
pub fn parse(text: &str, secret: Option<&[u8]>) -> Result<Report, Rejected> {
    let report: Report = serde_json::from_str(text).map_err(|e| Rejected::Unreadable(e.to_string()))?;
    if report.format_version != FORMAT_VERSION {
        return Err(Rejected::OtherVersion(report.format_version));
    }
    if let Some(secret) = secret
        && !signed_with(text, secret)
    {
        return Err(Rejected::Unsigned);
    }
    Ok(report)
}

/// Whether the MAC in `text` is the HMAC of `text` (zeros in its place) under `secret`. Inside
/// JSON strings a quote is escaped, so the first raw `"mac": "` is the field itself.
fn signed_with(text: &str, secret: &[u8]) -> bool {
    let Some(start) = text.find(MAC_FIELD).map(|i| i + MAC_FIELD.len()) else { return false };
    let Some(given) = text.get(start..start + MAC_HEX_LEN) else { return false };
    let Some(given) = decode_hex(given) else { return false };
    let mut unsigned = text.to_string();
    unsigned.replace_range(start..start + MAC_HEX_LEN, &"0".repeat(MAC_HEX_LEN));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(unsigned.as_bytes());
    // verify_slice compares in constant time.
    mac.verify_slice(&given).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::CheckOutcome;

    /// The report the support library writes for a known set of checks (its test
    /// `report_matches_the_golden_file` writes the same text): if either side changes the
    /// format, one of the two tests fails.
    const GOLDEN: &str = include_str!("../tests/fixtures/report-golden.json");

    fn sign(text: &str, secret: &[u8]) -> String {
        let start = text.find(MAC_FIELD).unwrap() + MAC_FIELD.len();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(text.as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let mut signed = text.to_string();
        signed.replace_range(start..start + MAC_HEX_LEN, &hex);
        signed
    }

    #[test]
    fn a_report_is_believed_only_with_the_runs_signature() {
        let secret = new_secret().unwrap();
        let signed = sign(GOLDEN, &secret);
        assert!(parse(&signed, Some(&secret)).is_ok());
        assert_eq!(parse(GOLDEN, Some(&secret)).unwrap_err(), Rejected::Unsigned, "zeros are no signature");
        assert_eq!(parse(&signed, Some(&new_secret().unwrap())).unwrap_err(), Rejected::Unsigned);
        // One changed character of the content breaks it.
        let tampered = signed.replacen("\"fail\"", "\"pass\"", 1);
        assert_eq!(parse(&tampered, Some(&secret)).unwrap_err(), Rejected::Unsigned);
        // A forger's report without the field at all.
        let forged = r#"{"format_version": 1, "checks": [{"name": "all good", "outcome": "pass"}]}"#;
        assert_eq!(parse(forged, Some(&secret)).unwrap_err(), Rejected::Unsigned);
    }

    #[test]
    fn reads_the_golden_report_of_the_support_library() {
        let report = parse(GOLDEN, None).unwrap();
        assert_eq!(report.device.as_deref(), Some("cpu"));
        assert_eq!(report.error, None);
        let outcomes: Vec<CheckOutcome> = report.checks.iter().map(|c| c.outcome).collect();
        assert_eq!(outcomes, [CheckOutcome::Pass, CheckOutcome::Fail, CheckOutcome::Skip]);
        assert_eq!(report.checks[1].name, "a \"quoted\" name");
        assert_eq!(report.checks[1].message, "line one\nline two\ttabbed \\ backslash é");
        assert_eq!(report.checks[0].duration_ms, 12);
        assert_eq!(report.trace.as_deref(), Some("/tmp/trace.json"));
        let rows = report.profiles.expect("the golden report has profiles");
        let variants: Vec<ProfileVariant> = rows.iter().map(|r| r.variant).collect();
        assert_eq!(variants, [ProfileVariant::Exercise, ProfileVariant::Builtin, ProfileVariant::Reference]);
        assert_eq!(
            (rows[0].function.as_str(), rows[0].parameter.as_str(), rows[0].size),
            ("pairwise_distances", "n", 2048)
        );
        assert_eq!(
            (rows[0].median_ns, rows[0].q1_ns, rows[0].q3_ns, rows[0].repeats),
            (20_400_000, 19_800_000, 21_000_000, 12)
        );
        assert_eq!((rows[0].peak_bytes, rows[0].allocations), (50_331_648, 5));
        assert_eq!(rows[1].name, "torch.cdist");
        assert_eq!(rows[2].error.as_deref(), Some("libtorch error: \"out of memory\""));
    }

    #[test]
    fn rejects_other_versions_and_garbage() {
        assert_eq!(
            parse(r#"{"format_version": 2, "checks": []}"#, None).unwrap_err(),
            Rejected::OtherVersion(2)
        );
        assert!(matches!(parse("{not json", None).unwrap_err(), Rejected::Unreadable(_)));
        assert!(matches!(
            parse(r#"{"format_version": 1, "checks": [], "verdict": "pass"}"#, None).unwrap_err(),
            Rejected::Unreadable(_)
        ));
    }
}
