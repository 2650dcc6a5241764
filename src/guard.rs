//! The rule that an exercise uses only its own code, tch and tensorlings_support: the check
//! compiles it beside the reference solution and the harness, which it must not reach. The
//! source is read as tokens by the support library's lexer (the same file, included), so
//! whitespace and comments cannot hide a path and a string or comment never trips the rule.

#[path = "../support/src/lexer.rs"]
#[allow(dead_code)]
pub(crate) mod lexer;

use lexer::Reach;

/// Why an exercise's source reaches outside itself: the line, what it uses, and why that is
/// not allowed; `None` when it does not.
pub fn reaches_outside(source: &str) -> Option<(usize, String, &'static str)> {
    if let Some(found) = lexer::outside_reaches(source).into_iter().next() {
        let (pattern, why) = match found.reach {
            Reach::Path(keyword) => (format!("{keyword}::"), "refers to code outside the exercise"),
            Reach::Include(name) => (format!("{name}!"), "includes another file"),
            Reach::PathAttribute => ("#[path]".to_string(), "includes another file"),
            Reach::EnvRead(name) => (name, "reads tensorlings' own settings"),
        };
        return Some((found.line, pattern, why));
    }
    // Assembly needs no `unsafe` at the item level: `global_asm!` could place a constructor that
    // runs before the harness takes the report's secret.
    let tokens = lexer::code_tokens(source);
    tokens
        .windows(2)
        .find(|pair| (pair[0].is_ident("global_asm") || pair[0].is_ident("asm")) && pair[1].is_punct("!"))
        .map(|pair| {
            (pair[0].line, format!("{}!", pair[0].text), "runs machine code outside the checks' control")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(source: &str) -> Option<(usize, String)> {
        reaches_outside(source).map(|(line, pattern, _)| (line, pattern))
    }

    #[test]
    fn reaching_outside_the_exercise_is_found_in_code_only() {
        assert_eq!(pattern("fn f() -> i64 { super::solution::f() }"), Some((1, "super::".into())));
        assert_eq!(pattern("fn f() -> i64 { super :: solution :: f() }"), Some((1, "super::".into())));
        assert_eq!(pattern("fn f() { include /* */ !(\"x.rs\") }").map(|p| p.1), Some("include!".into()));
        assert_eq!(pattern("// see super::x\nfn f() {}\n"), None);
        assert_eq!(pattern("fn f() -> &'static str { \"crate::x and include!(..)\" }"), None);
        assert_eq!(pattern("fn q() -> char { '\"' }\nfn f() { super::g() }"), Some((2, "super::".into())));
        assert_eq!(pattern("fn a() {}\ninclude!(\"../../solutions/x.rs\");"), Some((2, "include!".into())));
        assert_eq!(pattern("#[path = \"../x.rs\"]\nmod m;"), Some((1, "#[path]".into())));
        assert_eq!(
            pattern("let p = std::env::var(\"TENSORLINGS_REPORT\");"),
            Some((1, "TENSORLINGS_REPORT".into()))
        );
        assert_eq!(
            pattern("std::arch::global_asm!(\".section .init_array\");").map(|p| p.1),
            Some("global_asm!".into())
        );
        assert_eq!(
            pattern("use tch::Tensor;\nuse tensorlings_support::random;\npub(crate) fn f() {}\n"),
            None
        );
    }
}
