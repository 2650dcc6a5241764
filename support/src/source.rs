//! What an exercise's code calls, for checks of exercises about one particular API.
//!
//! A check compares results, and a result can be right for the wrong reason: an exercise on
//! einsum solved with `matmul` passes every numeric check without teaching einsum. The check
//! binary has the exercise's text as `EXERCISE_SOURCE` (see [`crate::exercise_modules`]);
//! [`assert_calls`], [`assert_does_not_call`] and [`assert_no_method_calls`] look for a name in
//! its code: comments, string literals and the body of `fn main` (the learner's playground)
//! left out, so a doc comment that mentions `einsum` does not count.

use crate::failure::{CheckResult, Failure};

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

/// The code of `source` (see [`code_only`]) without the body of its `fn main`, which is the
/// learner's to play with: comparing an answer with `matmul` there is fine.
pub fn exercise_code(source: &str) -> String {
    let mut code = code_only(source);
    let Some(start) = find_word(&code, "main").find(|&at| code[..at].trim_end().ends_with("fn")) else {
        return code;
    };
    let Some(open) = code[start..].find('{').map(|i| start + i) else { return code };
    let mut depth = 0;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let end = open + i;
                    // Keep the newlines, so that line numbers stay right.
                    let blank: String = code[open + 1..end].chars().filter(|&c| c == '\n').collect();
                    code.replace_range(open + 1..end, &blank);
                    return code;
                }
            }
            _ => {}
        }
    }
    code
}

/// Where `name` occurs in `code` as a whole word (`einsum` in `Tensor::einsum(`, not in
/// `my_einsum_helper`).
fn find_word<'a>(code: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(name).map(|(start, _)| start).filter(move |&start| {
        let before = code[..start].chars().next_back();
        let after = code[start + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// Whether the exercise's code (`fn main` left out) uses `name` as a whole word.
pub fn calls(source: &str, name: &str) -> bool {
    find_word(&exercise_code(source), name).next().is_some()
}

/// Fails with `why` unless the exercise's code (`fn main` left out) uses `name`.
pub fn assert_calls(source: &str, name: &str, why: &str) -> CheckResult {
    if calls(source, name) {
        Ok(())
    } else {
        Err(Failure::new(format!("your code does not use `{name}`: {why}")))
    }
}

/// Fails with `why`, naming the line, if the exercise's code (`fn main` left out) uses the path
/// `path` (`Tensor::cdist`, `timing::`, a module or a function): as a whole path, so a variable
/// named `timing` does not count, but `tensorlings_support::timing::measure` does.
pub fn assert_does_not_call(source: &str, path: &str, why: &str) -> CheckResult {
    let code = exercise_code(source);
    let is_path = |c: char| c.is_alphanumeric() || c == '_';
    let trimmed = path.trim_end_matches(':');
    let found = code.match_indices(trimmed).map(|(start, _)| start).find(|&start| {
        let before = code[..start].chars().next_back();
        let rest = &code[start + trimmed.len()..];
        let whole_start = !before.is_some_and(is_path);
        let whole_end = !rest.chars().next().is_some_and(is_path);
        // `timing::` asks for a path segment: something must follow, or precede with `::`.
        let as_path = !path.ends_with("::") || rest.starts_with("::") || code[..start].ends_with("::");
        whole_start && whole_end && as_path
    });
    match found {
        Some(at) => {
            Err(Failure::new(format!("your code uses `{trimmed}` (line {}): {why}", line_of(&code, at))))
        }
        None => Ok(()),
    }
}

/// Fails with `why`, naming the call and its line, if the exercise's code (`fn main` left out)
/// calls any of `methods` as a method or an associated function (`a.matmul(b)`,
/// `Tensor::bmm(a, b)`): for an exercise that must not take a shortcut. A function of the
/// exercise's own with that name (`pub fn matmul`, called as `matmul(a, b)`) does not count.
pub fn assert_no_method_calls(source: &str, methods: &[&str], why: &str) -> CheckResult {
    let code = exercise_code(source);
    for method in methods {
        for at in find_word(&code, method) {
            let before = code[..at].trim_end();
            let called = code[at + method.len()..].trim_start().starts_with('(');
            if called && (before.ends_with('.') || before.ends_with("::")) {
                let sep = if before.ends_with('.') { "." } else { "::" };
                return Err(Failure::new(format!(
                    "your code calls `{sep}{method}(..)` (line {}): {why}",
                    line_of(&code, at)
                )));
            }
        }
    }
    Ok(())
}

/// [`assert_calls`] `name`, then [`assert_no_method_calls`] of the shortcuts around it, with the
/// same `why`: for an exercise about one API, "written with einsum, not with matmul":
/// `assert_written_with(EXERCISE_SOURCE, "einsum", &["matmul", "mm", "bmm"], "this section is
/// about einsum: ...")`.
pub fn assert_written_with(source: &str, name: &str, shortcuts: &[&str], why: &str) -> CheckResult {
    assert_calls(source, name, why)?;
    assert_no_method_calls(source, shortcuts, why)
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
        assert_eq!(forbidden.message(), "your code uses `matmul` (line 1): use einsum");
        assert!(assert_calls("fn f() { Tensor::einsum() }", "einsum", "").is_ok());
    }

    #[test]
    fn method_calls_are_found_and_the_exercises_own_functions_are_not() {
        let methods = ["matmul", "bmm"];
        let path_call = assert_no_method_calls("fn f() { Tensor::bmm(&a, &b) }", &methods, "use einsum");
        assert_eq!(path_call.unwrap_err().message(), "your code calls `::bmm(..)` (line 1): use einsum");
        let method_call =
            assert_no_method_calls("fn f() {\n    a\n    .matmul (&b) }", &methods, "use einsum");
        assert_eq!(method_call.unwrap_err().message(), "your code calls `.matmul(..)` (line 3): use einsum");
        let own = "pub fn matmul(a: &Tensor) -> Tensor { a.shallow_clone() }\nfn main() { matmul(&x); }";
        assert!(assert_no_method_calls(own, &methods, "").is_ok());
        assert!(assert_no_method_calls("// a.matmul(b)\nfn f() {}", &methods, "").is_ok());
    }

    #[test]
    fn written_with_needs_the_api_and_none_of_the_shortcuts() {
        let why = "use einsum";
        assert!(
            assert_written_with("fn f() { Tensor::einsum(e, &[a], None) }", "einsum", &["mm"], why).is_ok()
        );
        let shortcut =
            assert_written_with("fn f() { Tensor::einsum(e, &[a], None).mm(b) }", "einsum", &["mm"], why);
        assert_eq!(shortcut.unwrap_err().message(), "your code calls `.mm(..)` (line 1): use einsum");
        let missing = assert_written_with("fn f() { a.sum() }", "einsum", &["mm"], why);
        assert_eq!(missing.unwrap_err().message(), "your code does not use `einsum`: use einsum");
    }

    #[test]
    fn main_is_the_learners_playground() {
        let source = "pub fn f(a: &Tensor) -> Tensor {\n    a.einsum_like()\n}\n\nfn main() {\n    let a = x.matmul(&y);\n    Tensor::einsum(\"i->i\", &[a], None::<i64>);\n}\n";
        assert!(assert_no_method_calls(source, &["matmul"], "").is_ok());
        assert!(!calls(source, "einsum"), "einsum only in main does not count");
        let code = exercise_code(source);
        assert_eq!(code.lines().count(), source.lines().count());
        assert!(code.contains("fn main() {") && !code.contains("matmul"), "{code}");
    }

    #[test]
    fn a_forbidden_path_is_not_a_variable_of_the_same_name() {
        let why = "write it yourself";
        let variable = "fn f() {\n    let timing = start.elapsed();\n    timing.as_secs_f64()\n}";
        assert!(assert_does_not_call(variable, "timing::", why).is_ok());
        for used in [
            "use tensorlings_support::timing;\nfn f() { timing::measure(d, 1, 1, || ()) }",
            "use tensorlings_support::timing::measure;",
            "fn f() { tensorlings_support::timing::measure(d, 1, 1, || ()) }",
        ] {
            let failure = assert_does_not_call(used, "timing::", why).unwrap_err();
            assert!(failure.message().starts_with("your code uses `timing` (line 1)"), "{used}: {failure:?}");
        }
        let cdist = assert_does_not_call("fn f() {\n    Tensor::cdist(&x, &y, 2.0, None)\n}", "cdist", why);
        assert_eq!(cdist.unwrap_err().message(), "your code uses `cdist` (line 2): write it yourself");
    }
}
