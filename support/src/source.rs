//! What an exercise's code calls, for checks of exercises about one particular API.
//!
//! A check compares results, and a result can be right for the wrong reason: an exercise on
//! einsum solved with `matmul` passes every numeric check without teaching einsum. The check
//! binary has the exercise's text as `EXERCISE_SOURCE` (see [`crate::exercise_modules`]);
//! [`assert_calls`], [`assert_does_not_call`] and [`assert_no_method_calls`] look for a name in its code, comments and
//! string literals left out, so a doc comment that mentions `einsum` does not count.

use crate::check::{CheckResult, Failure};

/// `source` with its comments and the contents of its string and char literals blanked out, so
/// that only code remains. Lines are kept, so positions stay meaningful.
pub fn code_only(source: &str) -> String {
    let mut code = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                // A line comment (doc comments included) runs to the end of the line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                // Block comments nest in Rust.
                let mut depth = 1;
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        code.push('\n');
                    }
                    match (previous, c) {
                        ('/', '*') => (depth, previous) = (depth + 1, ' '),
                        ('*', '/') => {
                            depth -= 1;
                            previous = ' ';
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => previous = c,
                    }
                }
            }
            '"' => {
                code.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '\n' {
                        code.push('\n');
                    }
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                code.push('"');
            }
            _ => code.push(c),
        }
    }
    code
}

/// Whether `name` occurs in the code of `source` as a whole word (`einsum` matches
/// `Tensor::einsum(` but not `my_einsum_helper`).
pub fn calls(source: &str, name: &str) -> bool {
    let code = code_only(source);
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(name).any(|(start, _)| {
        let before = code[..start].chars().next_back();
        let after = code[start + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// Fails with `why` unless the exercise's code uses `name`.
pub fn assert_calls(source: &str, name: &str, why: &str) -> CheckResult {
    if calls(source, name) {
        Ok(())
    } else {
        Err(Failure::new(format!("your code does not use `{name}`: {why}")))
    }
}

/// Fails with `why` if the exercise's code uses `name`.
pub fn assert_does_not_call(source: &str, name: &str, why: &str) -> CheckResult {
    if calls(source, name) { Err(Failure::new(format!("your code uses `{name}`: {why}"))) } else { Ok(()) }
}

/// Fails with `why`, naming the call, if the exercise's code calls any of `methods` as a method
/// or an associated function (`a.matmul(b)`, `Tensor::bmm(a, b)`): for an exercise that must not
/// take a shortcut. A function of the exercise's own with that name (`pub fn matmul` called as
/// `matmul(a, b)`) does not count.
pub fn assert_no_method_calls(source: &str, methods: &[&str], why: &str) -> CheckResult {
    let code: String = code_only(source).split_whitespace().collect();
    for method in methods {
        for call in [format!(".{method}("), format!("::{method}(")] {
            if code.contains(&call) {
                return Err(Failure::new(format!("your code calls `{call}..)`: {why}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_strings_are_not_code() {
        let source = "/// Uses einsum.\nfn f() { // einsum here\n  let s = \"einsum\"; /* einsum /* nested */ einsum */ g() }\n";
        assert!(!calls(source, "einsum"), "{}", code_only(source));
        assert_eq!(code_only(source).lines().count(), source.lines().count());
    }

    #[test]
    fn a_call_is_found_as_a_whole_word() {
        assert!(calls(
            "fn f(a: &Tensor) -> Tensor { Tensor::einsum(\"ij->ji\", &[a], None::<i64>) }",
            "einsum"
        ));
        assert!(!calls("fn f() { my_einsum_helper() }", "einsum"));
        assert!(!calls("fn f() { einsum2() }", "einsum"));
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string() {
        assert!(calls(r#"fn f() { let s = "a \" b"; a.matmul(&b) }"#, "matmul"));
        assert!(!calls(r#"fn f() { let s = "a \" matmul"; }"#, "matmul"));
    }

    #[test]
    fn the_failures_name_what_is_missing_or_forbidden() {
        let missing =
            assert_calls("fn f() { a.matmul(&b) }", "einsum", "write it with Tensor::einsum").unwrap_err();
        assert_eq!(missing.message(), "your code does not use `einsum`: write it with Tensor::einsum");
        let forbidden = assert_does_not_call("fn f() { a.matmul(&b) }", "matmul", "use einsum").unwrap_err();
        assert_eq!(forbidden.message(), "your code uses `matmul`: use einsum");
        assert!(assert_calls("fn f() { Tensor::einsum() }", "einsum", "").is_ok());
    }

    #[test]
    fn method_calls_are_found_and_the_exercises_own_functions_are_not() {
        let methods = ["matmul", "bmm"];
        let path_call = assert_no_method_calls("fn f() { Tensor::bmm(&a, &b) }", &methods, "use einsum");
        assert_eq!(path_call.unwrap_err().message(), "your code calls `::bmm(..)`: use einsum");
        let method_call = assert_no_method_calls("fn f() { a\n    .matmul (&b) }", &methods, "use einsum");
        assert_eq!(method_call.unwrap_err().message(), "your code calls `.matmul(..)`: use einsum");
        let own = "pub fn matmul(a: &Tensor) -> Tensor { a.shallow_clone() }\nfn main() { matmul(&x); }";
        assert!(assert_no_method_calls(own, &methods, "").is_ok());
        assert!(assert_no_method_calls("// a.matmul(b)\nfn f() {}", &methods, "").is_ok());
    }
}
