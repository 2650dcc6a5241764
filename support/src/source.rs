//! What an exercise's code calls, for checks of exercises about one particular API.
//!
//! A check compares results, and a result can be right for the wrong reason: an exercise on
//! einsum solved with `matmul` passes every numeric check without teaching einsum. The check
//! binary has the exercise's text as `EXERCISE_SOURCE` (see [`crate::exercise_modules`]);
//! [`assert_calls`], [`assert_does_not_call`] and [`assert_no_method_calls`] look for a name in
//! its code: comments, string literals and the body of `fn main` (the learner's playground)
//! left out, so a doc comment that mentions `einsum` does not count.

use crate::failure::{CheckResult, Failure};
use crate::lexer::{Token, TokenKind, tokenize};

/// `source` with its comments and the contents of its string and char literals blanked out, so
/// that only code remains: a string keeps its quotes (`""`), a char becomes `' '`. Lines are
/// kept, so positions stay meaningful.
pub fn code_only(source: &str) -> String {
    rebuild(source, None)
}

/// The code of `source` (see [`code_only`]) without the body of its `fn main`, which is the
/// learner's to play with: comparing an answer with `matmul` there is fine.
pub fn exercise_code(source: &str) -> String {
    let tokens = tokenize(source);
    rebuild(source, main_body(&tokens))
}

/// The code tokens of `source` (no comments) outside the body of `fn main`: what the rules
/// below look at.
pub fn exercise_tokens(source: &str) -> Vec<Token<'_>> {
    let tokens = tokenize(source);
    let body = main_body(&tokens);
    tokens
        .into_iter()
        .filter(|t| {
            !t.kind.is_comment() && !body.is_some_and(|(open, close)| t.start > open && t.start < close)
        })
        .collect()
}

/// The byte offsets of the `{` and `}` around the body of the first `fn main`, if any.
fn main_body(tokens: &[Token<'_>]) -> Option<(usize, usize)> {
    let code: Vec<&Token<'_>> = tokens.iter().filter(|t| !t.kind.is_comment()).collect();
    let at = code.windows(2).position(|w| w[0].is_ident("fn") && w[1].is_ident("main"))?;
    let open = at + code[at..].iter().position(|t| t.is_punct("{"))?;
    let mut depth = 0;
    for t in &code[open..] {
        if t.is_punct("{") {
            depth += 1;
        } else if t.is_punct("}") {
            depth -= 1;
            if depth == 0 {
                return Some((code[open].start, t.start));
            }
        }
    }
    None
}

/// The source again, comments and literal contents blanked, and the tokens strictly between
/// the offsets of `skip` (exclusive) reduced to their newlines.
fn rebuild(source: &str, skip: Option<(usize, usize)>) -> String {
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    let newlines = |text: &str| text.chars().filter(|&c| c == '\n').collect::<String>();
    for t in tokenize(source) {
        let gap = &source[at..t.start];
        let skipped = skip.is_some_and(|(open, close)| t.start > open && t.start < close);
        out.push_str(&if skipped { newlines(gap) } else { gap.to_string() });
        let text = match t.kind {
            _ if skipped => newlines(t.text),
            TokenKind::LineComment { .. } | TokenKind::BlockComment { .. } => newlines(t.text),
            TokenKind::Str | TokenKind::RawStr => format!("\"\"{}", newlines(t.text)),
            TokenKind::Char => "' '".to_string(),
            _ => t.text.to_string(),
        };
        out.push_str(&text);
        at = t.end();
    }
    out.push_str(&source[at..]);
    out
}

/// The text of the function `name` in `source` (its signature and body, found by tokens), with
/// every other line blanked: lines keep their numbers, so a rule applied to it names the right
/// line. Empty lines only when there is no such function. For a rule about one function:
/// `assert_calls(&function(EXERCISE_SOURCE, "value_and_grad"), "backward", why)`.
pub fn function(source: &str, name: &str) -> String {
    let tokens = code_tokens_of(source);
    let span = tokens.windows(2).position(|w| w[0].is_ident("fn") && w[1].is_ident(name)).and_then(|at| {
        let open = at + tokens[at..].iter().position(|t| t.is_punct("{"))?;
        let mut depth = 0;
        for t in &tokens[open..] {
            if t.is_punct("{") {
                depth += 1;
            } else if t.is_punct("}") {
                depth -= 1;
                if depth == 0 {
                    return Some((tokens[at].start, t.end()));
                }
            }
        }
        None
    });
    let blank = |text: &str| text.chars().filter(|&c| c == '\n').collect::<String>();
    match span {
        Some((start, end)) => {
            format!("{}{}{}", blank(&source[..start]), &source[start..end], blank(&source[end..]))
        }
        None => blank(source),
    }
}

fn code_tokens_of(source: &str) -> Vec<Token<'_>> {
    tokenize(source).into_iter().filter(|t| !t.kind.is_comment()).collect()
}

/// Where the tokens of the path `path` (`einsum`, `Cuda::synchronize`) follow each other in
/// `tokens`: the index of the first one, for each occurrence.
fn path_at<'t>(tokens: &'t [Token<'t>], path: &'t str) -> impl Iterator<Item = usize> + 't {
    let segments: Vec<&str> = path.split("::").map(str::trim).collect();
    (0..tokens.len()).filter(move |&i| {
        segments.iter().enumerate().all(|(k, segment)| {
            let ident = tokens.get(i + 2 * k).is_some_and(|t| t.is_ident(segment));
            let sep = k + 1 == segments.len() || tokens.get(i + 2 * k + 1).is_some_and(|t| t.is_punct("::"));
            ident && sep
        })
    })
}

/// Whether the exercise's code (`fn main` left out) uses `name`, an identifier or a path
/// (`Cuda::synchronize`), as whole tokens: whitespace and comments between them do not matter,
/// and a comment or a string that mentions it does not count.
pub fn calls(source: &str, name: &str) -> bool {
    let tokens = exercise_tokens(source);
    path_at(&tokens, name).next().is_some()
}

/// Fails with `why` unless the exercise's code (`fn main` left out) uses `name` (see [`calls`]).
pub fn assert_calls(source: &str, name: &str, why: &str) -> CheckResult {
    if calls(source, name) {
        Ok(())
    } else {
        Err(Failure::new(format!("your code does not use `{name}`: {why}")))
    }
}

/// Fails with `why`, naming the line, if the exercise's code (`fn main` left out) uses the path
/// `path` (`Tensor::cdist`, `timing::`, a module or a function). With a trailing `::` it must be
/// a path segment (followed or preceded by `::`), so a variable named `timing` does not count,
/// but `tensorlings_support::timing::measure` does.
pub fn assert_does_not_call(source: &str, path: &str, why: &str) -> CheckResult {
    let tokens = exercise_tokens(source);
    let trimmed = path.trim_end_matches(':');
    let length = 2 * trimmed.split("::").count() - 1;
    let found = path_at(&tokens, trimmed).find(|&i| {
        !path.ends_with("::")
            || tokens.get(i + length).is_some_and(|t| t.is_punct("::"))
            || i.checked_sub(1).is_some_and(|p| tokens[p].is_punct("::"))
    });
    match found {
        Some(i) => Err(Failure::new(format!("your code uses `{trimmed}` (line {}): {why}", tokens[i].line))),
        None => Ok(()),
    }
}

/// Fails with `why`, naming the call and its line, if the exercise's code (`fn main` left out)
/// calls any of `methods` as a method or an associated function (`a.matmul(b)`,
/// `Tensor::bmm(a, b)`, `a . matmul /* */ (b)`, `a.sum::<f64>()`): for an exercise that must not
/// take a shortcut. A function of the exercise's own with that name (`pub fn matmul`, called as
/// `matmul(a, b)`) does not count.
pub fn assert_no_method_calls(source: &str, methods: &[&str], why: &str) -> CheckResult {
    let tokens = exercise_tokens(source);
    for method in methods {
        for (i, t) in tokens.iter().enumerate() {
            let Some(before) = i.checked_sub(1).map(|p| &tokens[p]) else { continue };
            let sep = if before.is_punct(".") {
                "."
            } else if before.is_punct("::") {
                "::"
            } else {
                continue;
            };
            if t.is_ident(method) && is_called(&tokens[i + 1..]) {
                return Err(Failure::new(format!(
                    "your code calls `{sep}{method}(..)` (line {}): {why}",
                    t.line
                )));
            }
        }
    }
    Ok(())
}

/// Whether `rest` starts with a call's parentheses, after a turbofish if there is one.
fn is_called(rest: &[Token<'_>]) -> bool {
    match rest {
        [open, ..] if open.is_punct("(") => true,
        [colons, lt, ..] if colons.is_punct("::") && lt.is_punct("<") => {
            let mut depth = 0;
            for (k, t) in rest[1..].iter().enumerate() {
                if t.is_punct("<") {
                    depth += 1;
                } else if t.is_punct(">") {
                    depth -= 1;
                    if depth == 0 {
                        return rest.get(k + 2).is_some_and(|t| t.is_punct("("));
                    }
                }
            }
            false
        }
        _ => false,
    }
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
    fn a_char_literal_does_not_hide_the_code_after_it() {
        let source = "fn f(s: &str) -> bool { let q = '\"'; a.matmul(&b); s.contains('\\'') }";
        assert!(calls(source, "matmul"), "{}", code_only(source));
        assert!(assert_no_method_calls(source, &["matmul"], "use einsum").is_err());
        assert!(calls("fn f<'a>(x: &'a T) { x.matmul(y) }", "matmul"));
        assert!(calls("fn f() { let b = b'\\''; x.matmul(y) }", "matmul"));
    }

    #[test]
    fn raw_strings_are_not_code() {
        assert!(!calls("fn f() { let s = r#\"a \" einsum\"#; }", "einsum"));
        assert!(calls("fn f() { let s = r#\"a \" b\"#; Tensor::einsum(e, &[a], None) }", "einsum"));
        assert!(assert_does_not_call("fn f() { let s = \"cdist\"; }", "cdist", "").is_ok());
    }

    #[test]
    fn spacing_and_comments_do_not_hide_a_call() {
        let methods = ["matmul"];
        for source in [
            "fn f() { x . matmul (y) }",
            "fn f() { x.matmul /* hidden */ (y) }",
            "fn f() { x.\n    // a comment\n    matmul(y) }",
            "fn f() { x.matmul::<T>(y) }",
            "fn f() { Tensor :: matmul(&x, &y) }",
        ] {
            assert!(assert_no_method_calls(source, &methods, "").is_err(), "{source}");
        }
        assert!(calls("fn f() { tch :: Cuda :: /* */ synchronize(0) }", "Cuda::synchronize"));
        assert!(!calls("fn f() { Cuda::is_available() }", "Cuda::synchronize"));
        let used =
            assert_does_not_call("fn f() {\n  tensorlings_support :: timing :: measure() }", "timing::", "");
        assert_eq!(used.unwrap_err().message(), "your code uses `timing` (line 2): ");
    }

    #[test]
    fn a_rule_can_look_at_one_function() {
        let source = "fn a() {\n    x.backward();\n}\nfn b() -> T {\n    let s = \"{\";\n    y.sum()\n}\n";
        assert!(calls(&function(source, "a"), "backward"));
        assert!(!calls(&function(source, "b"), "backward"));
        assert!(calls(&function(source, "b"), "sum"));
        assert_eq!(function(source, "b").lines().count(), source.lines().count());
        let forbidden = assert_does_not_call(&function(source, "b"), "sum", "no").unwrap_err();
        assert_eq!(forbidden.message(), "your code uses `sum` (line 6): no");
        assert!(!calls(&function(source, "c"), "sum"));
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
