//! `tensorlings profile` in words: the table of figures and ratios, the sentence a poor ratio
//! gets, the JSON document for graders, and the refusals.

use std::fmt::Write as _;
use std::time::Duration;

use colored::Colorize;
use serde_json::{Value, json};

use crate::bytes::Bytes;
use crate::profile::{Against, AtSize, Finding, FunctionProfile, Measured, Profile};
use crate::verdict::Status;

/// Why there is nothing to profile, and where there is.
pub fn no_profile(exercise: &str, profiled: &[String]) -> String {
    let which = match profiled {
        [] => "no exercise of this course declares one".to_string(),
        names => format!("these exercises do: {}", names.join(", ")),
    };
    format!(
        "`{exercise}` declares no profile (its checks name no function to time against the reference and the \
         built-in); {which}"
    )
}

/// Said after the verdict of an exercise that does not pass in profile mode. The checks and the
/// profile run in one process, so a crash, a timeout or too much memory may come from the
/// profile's large sizes after the checks passed: that is not "does not pass yet".
pub fn not_passing(exercise: &str, status: Status, invoke: &str) -> String {
    match status {
        Status::Crash | Status::Timeout => format!(
            "`{exercise}` was stopped while it was checked and profiled (the checks and the profile run in one \
             process, the profile's sizes last): nothing was measured. If `{invoke} run {exercise}` passes, \
             the exercise fails only at the profile's larger sizes: look for a crash, a hang or an allocation \
             that grows with n."
        ),
        _ => format!(
            "`{exercise}` does not pass yet, so it was not profiled: a wrong answer is not worth timing. Make it \
             pass (`{invoke} run {exercise}`), then profile it."
        ),
    }
}

/// "1.23 ms", "456 µs", "12.0 s": three significant digits.
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// "3.40x"
pub fn ratio(r: f64) -> String {
    format!("{r:.2}x")
}

/// The table of every function, then the findings and the trace.
pub fn table(profile: &Profile) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} on {}: median of the timed runs, the middle half of them in brackets; memory of one run",
        "Profile of".bold(),
        profile.exercise.bold(),
        profile.device
    );
    for function in &profile.functions {
        out.push('\n');
        out.push_str(&function_table(function));
    }
    let findings: Vec<String> =
        profile.functions.iter().flat_map(|f| f.findings.iter().map(sentence)).collect();
    if !findings.is_empty() {
        out.push('\n');
        for line in findings {
            let _ = writeln!(out, "{} {line}", "!".yellow().bold());
        }
    }
    if let Some(trace) = &profile.trace {
        out.push('\n');
        out.push_str(&trace_line(trace));
    }
    out
}

/// What happened to the trace, and how to open it.
pub fn trace_line(trace: &Result<String, String>) -> String {
    match trace {
        Ok(path) => format!(
            "Trace of one run of your version at the largest size: {path}\nOpen it in https://ui.perfetto.dev \
             (Open trace file) or in Chrome at chrome://tracing (Load).\n"
        ),
        Err(why) => format!("{} the trace could not be written: {why}\n", "error:".red().bold()),
    }
}

fn function_table(function: &FunctionProfile) -> String {
    let builtin_name = function.sizes.iter().find_map(|s| s.builtin.as_ref().map(|(name, _)| name.clone()));
    let has_reference = function.sizes.iter().any(|s| s.reference.is_some());
    let mut header = vec![
        function.parameter.clone(),
        "version".to_string(),
        "median".to_string(),
        "(middle half)".to_string(),
        "peak".to_string(),
        "allocs".to_string(),
    ];
    if has_reference {
        header.push("vs reference".to_string());
    }
    if let Some(name) = &builtin_name {
        header.push(format!("vs {name}"));
    }
    let mut rows = vec![header];
    for at in &function.sizes {
        rows.extend(size_rows(at, has_reference, builtin_name.is_some()));
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = format!("{}\n", function.name.bold());
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::from("  ");
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            // Names left, figures right.
            if c < 2 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
            line.push_str("  ");
        }
        let line = line.trim_end().to_string();
        let _ = writeln!(out, "{}", if i == 0 { line.dimmed().to_string() } else { line });
    }
    out
}

fn size_rows(at: &AtSize, has_reference: bool, has_builtin: bool) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut versions: Vec<(String, &Measured, bool)> = Vec::new();
    if let Some(m) = &at.exercise {
        versions.push(("yours".to_string(), m, true));
    }
    if let Some(m) = &at.reference {
        versions.push(("reference".to_string(), m, false));
    }
    if let Some((name, m)) = &at.builtin {
        versions.push((name.clone(), m, false));
    }
    for (i, (label, measured, is_yours)) in versions.into_iter().enumerate() {
        let mut row = vec![if i == 0 { at.size.to_string() } else { String::new() }, label];
        match measured {
            Ok(f) => {
                row.push(duration(f.median));
                row.push(format!("({} – {})", duration(f.q1), duration(f.q3)));
                row.push(bytes(f.peak_bytes));
                row.push(f.allocations.to_string());
            }
            Err(why) => {
                row.push(format!("failed: {}", first_line(why)));
                row.extend([String::new(), String::new(), String::new()]);
            }
        }
        let show = |r: Option<f64>| {
            if is_yours { r.map(ratio).unwrap_or_else(|| "–".into()) } else { String::new() }
        };
        if has_reference {
            row.push(show(at.ratio_to_reference()));
        }
        if has_builtin {
            row.push(show(at.ratio_to_builtin()));
        }
        rows.push(row);
    }
    rows
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// "3.40x slower than the reference at n = 4096: it makes 7 allocations where the reference
/// makes 2 (64 MiB in all against 16 MiB), and its peak is 48 MiB against 16 MiB."
pub fn sentence(finding: &Finding) -> String {
    let theirs_name = match &finding.against {
        Against::Reference => "the reference".to_string(),
        Against::Builtin(name) => name.clone(),
    };
    let head = format!(
        "{} slower than {theirs_name} at {} = {}",
        ratio(finding.time_ratio),
        finding.parameter,
        finding.size
    );
    let (yours, theirs) = (&finding.yours, &finding.theirs);
    let more_allocations = yours.allocations > theirs.allocations;
    let bigger_peak =
        yours.peak_bytes as f64 >= theirs.peak_bytes as f64 * POOR_MEMORY && yours.peak_bytes > 0;
    let mut why = Vec::new();
    if more_allocations {
        why.push(format!(
            "it makes {} where {theirs_name} makes {} ({} in all against {})",
            allocations(yours.allocations),
            theirs.allocations,
            bytes(yours.allocated_bytes),
            bytes(theirs.allocated_bytes)
        ));
    }
    if bigger_peak {
        why.push(format!("its peak is {} against {}", bytes(yours.peak_bytes), bytes(theirs.peak_bytes)));
    }
    match why.as_slice() {
        [] => format!(
            "{head}, with no more allocations and no higher peak: the time goes into the operations themselves \
             (a loop over elements, a slower op); `--trace FILE` shows which ops take it."
        ),
        [one] => format!("{head}: {one}."),
        [first, second] => format!("{head}: {first}, and {second}."),
        _ => unreachable!("two reasons at most"),
    }
}

/// A peak this many times the other's is worth saying.
const POOR_MEMORY: f64 = 1.5;

fn bytes(n: u64) -> String {
    Bytes(n).to_string()
}

fn allocations(n: u64) -> String {
    format!("{n} allocation{}", if n == 1 { "" } else { "s" })
}

/// Every figure, for graders: `tensorlings profile --format json`.
pub fn json(profile: &Profile) -> String {
    let functions: Vec<Value> = profile
        .functions
        .iter()
        .map(|function| {
            let sizes: Vec<Value> = function
                .sizes
                .iter()
                .map(|at| {
                    let mut versions = Vec::new();
                    if let Some(m) = &at.exercise {
                        versions.push(version_json("exercise", None, m));
                    }
                    if let Some(m) = &at.reference {
                        versions.push(version_json("reference", None, m));
                    }
                    if let Some((name, m)) = &at.builtin {
                        versions.push(version_json("builtin", Some(name), m));
                    }
                    json!({
                        "size": at.size,
                        "ratio_to_reference": at.ratio_to_reference(),
                        "ratio_to_builtin": at.ratio_to_builtin(),
                        "versions": versions,
                    })
                })
                .collect();
            json!({
                "name": function.name,
                "parameter": function.parameter,
                "sizes": sizes,
                "findings": function.findings.iter().map(sentence).collect::<Vec<_>>(),
            })
        })
        .collect();
    let (trace, trace_error) = match &profile.trace {
        Some(Ok(path)) => (Some(path.as_str()), None),
        Some(Err(why)) => (None, Some(why.as_str())),
        None => (None, None),
    };
    let document = json!({
        "format_version": 1,
        "exercise": profile.exercise,
        "device": profile.device,
        "functions": functions,
        "trace": trace,
        "trace_error": trace_error,
    });
    serde_json::to_string_pretty(&document).expect("a JSON value serializes")
}

fn version_json(variant: &str, name: Option<&String>, measured: &Measured) -> Value {
    match measured {
        Ok(f) => json!({
            "variant": variant,
            "name": name,
            "repeats": f.repeats,
            "median_ns": nanos(f.median),
            "q1_ns": nanos(f.q1),
            "q3_ns": nanos(f.q3),
            "min_ns": nanos(f.min),
            "peak_bytes": f.peak_bytes,
            "allocations": f.allocations,
            "allocated_bytes": f.allocated_bytes,
        }),
        Err(why) => json!({"variant": variant, "name": name, "error": why}),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Figures;

    fn figures(median_us: u64, allocations: u64, peak: u64, allocated: u64) -> Figures {
        let us = Duration::from_micros;
        Figures {
            repeats: 10,
            median: us(median_us),
            q1: us(median_us - 1),
            q3: us(median_us + 1),
            min: us(median_us - 2),
            peak_bytes: peak,
            allocations,
            allocated_bytes: allocated,
        }
    }

    fn finding(yours: Figures, theirs: Figures) -> Finding {
        Finding {
            against: Against::Reference,
            parameter: "n".into(),
            size: 4096,
            time_ratio: yours.median.as_secs_f64() / theirs.median.as_secs_f64(),
            yours,
            theirs,
        }
    }

    #[test]
    fn durations_keep_three_digits() {
        assert_eq!(duration(Duration::from_nanos(950)), "950 ns");
        assert_eq!(duration(Duration::from_nanos(1_234)), "1.23 µs");
        assert_eq!(duration(Duration::from_micros(45_600)), "45.6 ms");
        assert_eq!(duration(Duration::from_millis(123_400)), "123 s");
    }

    #[test]
    fn the_sentence_explains_a_poor_ratio_by_the_figures() {
        let mib = 1 << 20;
        let slow = finding(figures(3400, 7, 48 * mib, 64 * mib), figures(1000, 2, 16 * mib, 16 * mib));
        assert_eq!(
            sentence(&slow),
            "3.40x slower than the reference at n = 4096: it makes 7 allocations where the reference makes 2 \
             (64 MiB in all against 16 MiB), and its peak is 48 MiB against 16 MiB."
        );
        let same_memory = finding(figures(2000, 1, mib, mib), figures(1000, 1, mib, mib));
        assert!(
            sentence(&same_memory).contains("no more allocations and no higher peak"),
            "{}",
            sentence(&same_memory)
        );
    }

    #[test]
    fn refusals_say_what_to_do() {
        assert_eq!(
            no_profile("tensors", &["relu".into(), "mm".into()]),
            "`tensors` declares no profile (its checks name no function to time against the reference and the \
             built-in); these exercises do: relu, mm"
        );
        assert!(not_passing("mm", Status::Fail, "tensorlings").contains("does not pass yet"));
        let crashed = not_passing("mm", Status::Crash, "tensorlings");
        assert!(crashed.contains("was stopped while it was checked and profiled"), "{crashed}");
        assert!(crashed.contains("`tensorlings run mm`"));
    }
}
