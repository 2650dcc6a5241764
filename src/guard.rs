//! The rule that an exercise uses only its own code, tch and tensorlings_support: the check
//! compiles it beside the reference solution and the harness, which it must not reach.

/// Code an exercise may not contain: the check compiles it beside the reference solution and
/// the harness, which these would reach. Each with why, for the message.
const OUTSIDE_REACH: &[(&str, &str)] = &[
    ("super::", "refers to code outside the exercise"),
    ("crate::", "refers to code outside the exercise"),
    ("include!", "includes another file"),
    ("include_str!", "includes another file"),
    ("include_bytes!", "includes another file"),
    ("#[path", "includes another file"),
    ("TENSORLINGS_", "reads tensorlings' own settings"),
];

/// Why an exercise's source reaches outside itself, with the line, or `None`. Comments are
/// skipped, so a learner's note that mentions `super::` is fine.
pub fn reaches_outside(source: &str) -> Option<(usize, &'static str, &'static str)> {
    source.lines().enumerate().find_map(|(index, line)| {
        let code = line.split("//").next().unwrap_or("");
        OUTSIDE_REACH
            .iter()
            .find(|(pattern, _)| code.contains(pattern))
            .map(|&(pattern, why)| (index + 1, pattern, why))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaching_outside_the_exercise_is_found_outside_comments() {
        assert_eq!(
            reaches_outside("fn f() -> i64 { super::solution::f() }"),
            Some((1, "super::", "refers to code outside the exercise"))
        );
        assert_eq!(reaches_outside("// see super::x\nfn f() {}\n").map(|r| r.0), None);
        assert_eq!(reaches_outside("fn a() {}\ninclude!(\"../../solutions/x.rs\");").map(|r| r.0), Some(2));
        assert!(reaches_outside("let p = std::env::var(\"TENSORLINGS_REPORT\");").is_some());
        assert_eq!(reaches_outside("use tch::Tensor;\nuse tensorlings_support::random;\n"), None);
    }
}
