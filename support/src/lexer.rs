//! A lexer for Rust source, for rules about what code says: which functions it calls, which
//! paths it reaches for. Comments and literals are tokens of their own, so a rule that looks at
//! identifiers and punctuation is not fooled by a comment or a string that mentions a name, and
//! whitespace or a comment between the parts of a path (`super :: solution`,
//! `x.matmul /* */ (y)`) does not hide it.
//!
//! Dependency-free on purpose (std only, nothing from the rest of this crate), so that the
//! runner can include this very file with `#[path = "../support/src/lexer.rs"] mod lexer;` and
//! the support library's source rules and the runner's outside-reach guard read code the same way.
//!
//! - [`tokenize`]: every token of a source text, with its kind, text, byte offset and line.
//! - [`outside_reaches`]: where code reaches outside its own file: `super::` and `crate::`
//!   paths, `include!`-like macros, `#[path = ..]` attributes, and reads of `TENSORLINGS_*`
//!   environment variables (`env!`, `option_env!`, `std::env::var(_os)`).
//!
//! The lexer never fails: an unterminated literal or comment runs to the end of the text, and a
//! character no token starts with becomes a one-character [`TokenKind::Punct`].

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An identifier or keyword, raw ones included (`r#type`): `fn`, `matmul`, `self`.
    Ident,
    /// A lifetime or label: `'a`, `'static`.
    Lifetime,
    /// A character or byte literal: `'x'`, `'"'`, `'\''`, `b'\n'`.
    Char,
    /// A string, byte string or C string literal, escapes processed by nobody: `"a \" b"`,
    /// `b"bytes"`, `c"text"`.
    Str,
    /// A raw string literal: `r"..."`, `r#"..."#`, `br##"..."##`, `cr"..."`.
    RawStr,
    /// A number, with its suffix: `1`, `0x1f`, `1e-3`, `2.5f32`, `1_000i64`.
    Number,
    /// Punctuation. `::` is one token (paths are what the rules look for); every other
    /// punctuation character is a token of its own (`-` `>` for `->`).
    Punct,
    /// A `//` comment to the end of the line; `doc` for `///` and `//!`.
    LineComment {
        /// Whether it is a doc comment (`///` or `//!`, but not `////`).
        doc: bool,
    },
    /// A `/* */` comment, nested ones inside it included; `doc` for `/**` and `/*!`.
    BlockComment {
        /// Whether it is a doc comment (`/**` or `/*!`, but not `/***` or `/**/`).
        doc: bool,
    },
}

impl TokenKind {
    /// Whether the token is a comment (doc comments included).
    pub fn is_comment(self) -> bool {
        matches!(self, TokenKind::LineComment { .. } | TokenKind::BlockComment { .. })
    }

    /// Whether the token is a literal whose contents are data, not code: a string or a char.
    pub fn is_text_literal(self) -> bool {
        matches!(self, TokenKind::Str | TokenKind::RawStr | TokenKind::Char)
    }
}

/// One token: its kind, its text (a slice of the source), where it starts and on which line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// What it is.
    pub kind: TokenKind,
    /// Its text, exactly as in the source (quotes, `r#`, `//` included).
    pub text: &'a str,
    /// Its byte offset in the source.
    pub start: usize,
    /// The 1-based line it starts on.
    pub line: usize,
}

impl Token<'_> {
    /// Whether this is the identifier `name`.
    pub fn is_ident(&self, name: &str) -> bool {
        self.kind == TokenKind::Ident && self.text == name
    }

    /// Whether this is the punctuation `p` (`"::"`, `"."`, `"("`).
    pub fn is_punct(&self, p: &str) -> bool {
        self.kind == TokenKind::Punct && self.text == p
    }

    /// The byte offset just after the token.
    pub fn end(&self) -> usize {
        self.start + self.text.len()
    }

    /// For a string literal (plain or raw, byte or C), its contents without the quotes, the
    /// prefix and the hashes, escapes left as written; `None` for any other token.
    pub fn string_contents(&self) -> Option<&str> {
        match self.kind {
            TokenKind::Str => {
                let open = self.text.find('"')?;
                let inner = &self.text[open + 1..];
                Some(inner.strip_suffix('"').unwrap_or(inner))
            }
            TokenKind::RawStr => {
                let open = self.text.find(['#', '"'])?;
                let hashes = self.text[open..].bytes().take_while(|&b| b == b'#').count();
                let inner = self.text.get(open + hashes + 1..)?;
                let closing = format!("\"{}", "#".repeat(hashes));
                Some(inner.strip_suffix(closing.as_str()).unwrap_or(inner))
            }
            _ => None,
        }
    }
}

/// Every token of `source`, in order; whitespace is skipped, comments are kept.
pub fn tokenize(source: &str) -> Vec<Token<'_>> {
    let mut lexer = Lexer { src: source, bytes: source.as_bytes(), pos: 0, line: 1, tokens: Vec::new() };
    lexer.run();
    lexer.tokens
}

/// The tokens of `source` that are code: without comments.
pub fn code_tokens(source: &str) -> Vec<Token<'_>> {
    tokenize(source).into_iter().filter(|t| !t.kind.is_comment()).collect()
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    tokens: Vec<Token<'a>>,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn char_at(&self, at: usize) -> Option<char> {
        self.src.get(at..).and_then(|rest| rest.chars().next())
    }

    fn run(&mut self) {
        while let Some(c) = self.char_at(self.pos) {
            if c.is_whitespace() {
                if c == '\n' {
                    self.line += 1;
                }
                self.pos += c.len_utf8();
                continue;
            }
            let start = self.pos;
            let line = self.line;
            let kind = self.token(c);
            debug_assert!(self.pos > start, "every token consumes input");
            self.line += self.src[start..self.pos].matches('\n').count();
            self.tokens.push(Token { kind, text: &self.src[start..self.pos], start, line });
        }
    }

    /// Lexes the token starting with `c` at `self.pos`, moving past it.
    fn token(&mut self, c: char) -> TokenKind {
        match c {
            '/' if self.peek(1) == Some(b'/') => self.line_comment(),
            '/' if self.peek(1) == Some(b'*') => self.block_comment(),
            '"' => {
                self.pos += 1;
                self.quoted(b'"');
                TokenKind::Str
            }
            '\'' => self.quote_or_lifetime(),
            'b' | 'c' | 'r' => self.prefixed_literal().unwrap_or_else(|| self.ident()),
            c if is_ident_start(c) => self.ident(),
            '0'..='9' => self.number(),
            ':' if self.peek(1) == Some(b':') => {
                self.pos += 2;
                TokenKind::Punct
            }
            c => {
                self.pos += c.len_utf8();
                TokenKind::Punct
            }
        }
    }

    fn line_comment(&mut self) -> TokenKind {
        let rest = &self.src[self.pos..];
        let doc = (rest.starts_with("///") && !rest.starts_with("////")) || rest.starts_with("//!");
        self.pos += rest.find('\n').unwrap_or(rest.len());
        TokenKind::LineComment { doc }
    }

    fn block_comment(&mut self) -> TokenKind {
        let rest = &self.src[self.pos..];
        let doc = (rest.starts_with("/**") && !rest.starts_with("/***") && !rest.starts_with("/**/"))
            || rest.starts_with("/*!");
        self.pos += 2;
        let mut depth = 1;
        while depth > 0 {
            match (self.peek(0), self.peek(1)) {
                (None, _) => break,
                (Some(b'/'), Some(b'*')) => {
                    depth += 1;
                    self.pos += 2;
                }
                (Some(b'*'), Some(b'/')) => {
                    depth -= 1;
                    self.pos += 2;
                }
                _ => self.pos += 1,
            }
        }
        TokenKind::BlockComment { doc }
    }

    /// Moves past the rest of a quoted literal whose opening quote is behind `self.pos`: up to
    /// and including the closing `quote`, a backslash escaping the character after it.
    fn quoted(&mut self, quote: u8) {
        while let Some(b) = self.peek(0) {
            self.pos += 1;
            if b == b'\\' {
                if self.peek(0).is_some() {
                    // The escaped character may be multi-byte: step over the whole of it.
                    self.pos += self.char_at(self.pos).map_or(1, char::len_utf8);
                }
            } else if b == quote {
                return;
            }
        }
    }

    /// `'x'`, `'\''`, `'\u{1F600}'` (a char) or `'a`, `'static` (a lifetime or label).
    fn quote_or_lifetime(&mut self) -> TokenKind {
        let next = self.char_at(self.pos + 1);
        match next {
            Some('\\') => {
                self.pos += 1;
                self.quoted(b'\'');
                TokenKind::Char
            }
            Some(c) if self.char_at(self.pos + 1 + c.len_utf8()) == Some('\'') => {
                // One character and a closing quote: a char literal, whatever the character
                // (`'"'`, `'''` is not valid Rust but is lexed as a char all the same).
                self.pos += 1 + c.len_utf8() + 1;
                TokenKind::Char
            }
            Some(c) if is_ident_start(c) => {
                // `'a` not followed by a quote: a lifetime or a label (`'r#a` too).
                self.pos += 1;
                let _ = self.ident();
                TokenKind::Lifetime
            }
            _ => {
                // A stray quote: lex it as punctuation rather than swallow the rest of the file.
                self.pos += 1;
                TokenKind::Punct
            }
        }
    }

    /// A literal that starts with a prefix: `b'x'`, `b"x"`, `c"x"`, `r"x"`, `r#"x"#`, `br"x"`,
    /// `cr#"x"#`; `None` (nothing consumed) when the letters start an identifier instead.
    fn prefixed_literal(&mut self) -> Option<TokenKind> {
        let rest = &self.bytes[self.pos..];
        let (prefix, raw) = match rest {
            [b'b' | b'c', b'r', ..] => (2, true),
            [b'r', ..] => (1, true),
            [b'b' | b'c', ..] => (1, false),
            _ => return None,
        };
        if raw {
            let hashes = rest[prefix..].iter().take_while(|&&b| b == b'#').count();
            if rest.get(prefix + hashes) != Some(&b'"') {
                return None; // `r#type` (a raw identifier), `br`, `cr`, `r`: identifiers.
            }
            self.pos += prefix + hashes + 1;
            let closing = format!("\"{}", "#".repeat(hashes));
            match self.src[self.pos..].find(closing.as_str()) {
                Some(at) => self.pos += at + closing.len(),
                None => self.pos = self.src.len(),
            }
            return Some(TokenKind::RawStr);
        }
        match rest.get(prefix) {
            Some(b'"') => {
                self.pos += prefix + 1;
                self.quoted(b'"');
                Some(TokenKind::Str)
            }
            Some(b'\'') if rest[0] == b'b' => {
                self.pos += prefix + 1;
                self.quoted(b'\'');
                Some(TokenKind::Char)
            }
            _ => None,
        }
    }

    fn ident(&mut self) -> TokenKind {
        // A raw identifier: `r#type`.
        if self.src[self.pos..].starts_with("r#") && self.char_at(self.pos + 2).is_some_and(is_ident_start) {
            self.pos += 2;
        }
        while let Some(c) = self.char_at(self.pos).filter(|&c| is_ident_continue(c)) {
            self.pos += c.len_utf8();
        }
        TokenKind::Ident
    }

    fn number(&mut self) -> TokenKind {
        let rest = &self.src[self.pos..];
        let radix = ["0x", "0o", "0b", "0X", "0O", "0B"].iter().any(|p| rest.starts_with(p));
        // `t.0.1` is two field accesses, not `t.` and `0.1`.
        let mut fraction_allowed = !radix && !self.tokens.last().is_some_and(|t| t.is_punct("."));
        while let Some(c) = self.char_at(self.pos) {
            let digit_after = |k: usize| self.peek(k).is_some_and(|b| b.is_ascii_digit());
            if !radix && matches!(c, 'e' | 'E') && matches!(self.peek(1), Some(b'+' | b'-')) && digit_after(2)
            {
                self.pos += 2; // `1e-3`: the sign belongs to the exponent.
                fraction_allowed = false;
            } else if c.is_ascii_alphanumeric() || c == '_' {
                self.pos += 1;
            } else if c == '.' && fraction_allowed && digit_after(1) {
                // Only with a digit after it (`1.5`), not in `1..2` or `1.max(2)`.
                self.pos += 1;
                fraction_allowed = false;
            } else {
                break;
            }
        }
        TokenKind::Number
    }
}

// ---------------------------------------------------------------------------------------------
// Reaching outside the file

/// A way code reaches outside its own file, found by [`outside_reaches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// A path through `super` or `crate` (`super::solution::f`, `crate :: x`, and the alias
    /// `use crate as root;`): in a check binary, where the exercise is a module next to the
    /// reference solution, these lead to it. Holds the keyword, `"super"` or `"crate"`.
    /// Visibilities (`pub(crate)`, `pub(super)`) and a macro's `$crate` are not reported.
    Path(String),
    /// A macro that reads another file: `include!`, `include_str!` or `include_bytes!`. Holds
    /// its name.
    Include(String),
    /// A `path = ..` in an attribute (`#[path = "..."] mod m;`, also inside `cfg_attr`), which
    /// makes a module of another file.
    PathAttribute,
    /// A read of a `TENSORLINGS_*` environment variable named by a string literal: `env!`,
    /// `option_env!`, or a call of `var` or `var_os` through an `env` path
    /// (`std::env::var("..")`, `env::var_os("..")`). Holds the variable's name. A name built at
    /// run time or with `concat!` is not seen.
    EnvRead(String),
}

/// One [`Reach`] and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What was found.
    pub reach: Reach,
    /// Its 1-based line.
    pub line: usize,
}

/// Every place where `source` reaches outside its own file ([`Reach`]), in order. Comments and
/// literals never count; whitespace and comments between the parts of a path do not hide it.
pub fn outside_reaches(source: &str) -> Vec<Found> {
    let tokens = code_tokens(source);
    let mut found = Vec::new();
    // Where the attribute that is open at each `[` began, to know whether `path =` is in one.
    let mut brackets: Vec<bool> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let next = |k: usize| tokens.get(i + k);
        let prev = i.checked_sub(1).and_then(|p| tokens.get(p));
        let in_attribute = brackets.iter().any(|&attribute| attribute);
        if t.is_punct("[") {
            let attribute = prev.is_some_and(|p| p.is_punct("#"))
                || (prev.is_some_and(|p| p.is_punct("!"))
                    && i.checked_sub(2).and_then(|p| tokens.get(p)).is_some_and(|p| p.is_punct("#")));
            brackets.push(attribute);
        } else if t.is_punct("]") {
            brackets.pop();
        }
        let reach = if (t.is_ident("super") || t.is_ident("crate"))
            && next(1).is_some_and(|n| n.is_punct("::") || n.is_ident("as"))
            && !prev.is_some_and(|p| p.is_punct("$"))
        {
            Some(Reach::Path(t.text.to_string()))
        } else if ["include", "include_str", "include_bytes"].contains(&t.text)
            && t.kind == TokenKind::Ident
            && next(1).is_some_and(|n| n.is_punct("!"))
            && !prev.is_some_and(|p| p.is_punct(".") || p.is_punct("::") && !is_std_path(&tokens, i))
        {
            Some(Reach::Include(t.text.to_string()))
        } else if t.is_ident("path") && in_attribute && next(1).is_some_and(|n| n.is_punct("=")) {
            Some(Reach::PathAttribute)
        } else if (t.is_ident("env") || t.is_ident("option_env")) && next(1).is_some_and(|n| n.is_punct("!"))
        {
            // `env!("NAME")`, `env! { "NAME" }`: the first literal inside.
            tensorlings_name(next(3)).map(Reach::EnvRead)
        } else if (t.is_ident("var") || t.is_ident("var_os"))
            && prev.is_some_and(|p| p.is_punct("::"))
            && i.checked_sub(2).and_then(|p| tokens.get(p)).is_some_and(|e| e.is_ident("env"))
            && next(1).is_some_and(|n| n.is_punct("("))
        {
            tensorlings_name(next(2)).map(Reach::EnvRead)
        } else {
            None
        };
        if let Some(reach) = reach {
            found.push(Found { reach, line: t.line });
        }
    }
    found
}

/// Whether the identifier at `i` is reached through `std::` or `core::` (`std::include!`), which
/// is the same macro.
fn is_std_path(tokens: &[Token<'_>], i: usize) -> bool {
    i >= 2 && (tokens[i - 2].is_ident("std") || tokens[i - 2].is_ident("core"))
}

/// The variable name in a string literal token, when it names a `TENSORLINGS_` variable.
fn tensorlings_name(token: Option<&Token<'_>>) -> Option<String> {
    let name = token?.string_contents()?;
    name.starts_with("TENSORLINGS_").then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<(TokenKind, &str)> {
        tokenize(source).into_iter().map(|t| (t.kind, t.text)).collect()
    }

    use TokenKind::*;

    #[test]
    fn identifiers_and_punctuation() {
        assert_eq!(
            kinds("x.matmul(&y)"),
            vec![
                (Ident, "x"),
                (Punct, "."),
                (Ident, "matmul"),
                (Punct, "("),
                (Punct, "&"),
                (Ident, "y"),
                (Punct, ")")
            ]
        );
        assert_eq!(kinds("a::b"), vec![(Ident, "a"), (Punct, "::"), (Ident, "b")]);
        assert_eq!(kinds("r#type é_x"), vec![(Ident, "r#type"), (Ident, "é_x")]);
        assert_eq!(kinds("a->b"), vec![(Ident, "a"), (Punct, "-"), (Punct, ">"), (Ident, "b")]);
    }

    #[test]
    fn char_literals_and_lifetimes() {
        assert_eq!(kinds(r#"'"' x"#), vec![(Char, r#"'"'"#), (Ident, "x")]);
        assert_eq!(kinds(r"'\'' x"), vec![(Char, r"'\''"), (Ident, "x")]);
        assert_eq!(kinds(r"'\u{1F600}' 'é'"), vec![(Char, r"'\u{1F600}'"), (Char, "'é'")]);
        assert_eq!(kinds("&'a str"), vec![(Punct, "&"), (Lifetime, "'a"), (Ident, "str")]);
        assert_eq!(kinds("'static"), vec![(Lifetime, "'static")]);
        assert_eq!(kinds("'outer: loop"), vec![(Lifetime, "'outer"), (Punct, ":"), (Ident, "loop")]);
        assert_eq!(kinds("'a'"), vec![(Char, "'a'")]);
    }

    #[test]
    fn byte_literals() {
        assert_eq!(kinds(r"b'\'' b'x' bx"), vec![(Char, r"b'\''"), (Char, "b'x'"), (Ident, "bx")]);
        assert_eq!(kinds(r#"b"a\"b" c"c""#), vec![(Str, r#"b"a\"b""#), (Str, r#"c"c""#)]);
    }

    #[test]
    fn strings_with_escapes_and_newlines() {
        assert_eq!(kinds(r#""a \" matmul" x"#), vec![(Str, r#""a \" matmul""#), (Ident, "x")]);
        assert_eq!(kinds(r#""\\" x"#), vec![(Str, r#""\\""#), (Ident, "x")]);
        let tokens = tokenize("\"a\nb\" x");
        assert_eq!((tokens[1].text, tokens[1].line), ("x", 2));
    }

    #[test]
    fn raw_strings() {
        assert_eq!(
            kinds(r###"r#"a "quoted" b"# x"###),
            vec![(RawStr, r###"r#"a "quoted" b"#"###), (Ident, "x")]
        );
        assert_eq!(kinds(r#"br"\" x"#), vec![(RawStr, r#"br"\""#), (Ident, "x")]);
        assert_eq!(kinds(r####"r##"a"#b"## y"####), vec![(RawStr, r####"r##"a"#b"##"####), (Ident, "y")]);
        assert_eq!(kinds(r#"cr"c" r x"#), vec![(RawStr, r#"cr"c""#), (Ident, "r"), (Ident, "x")]);
        let t = &tokenize(r###"r#"in "side""#"###)[0];
        assert_eq!(t.string_contents(), Some(r#"in "side""#));
        assert_eq!(tokenize(r#""plain""#)[0].string_contents(), Some("plain"));
    }

    #[test]
    fn comments_nest_and_doc_comments_are_marked() {
        assert_eq!(
            kinds("a /* x /* y */ z */ b"),
            vec![(Ident, "a"), (BlockComment { doc: false }, "/* x /* y */ z */"), (Ident, "b")]
        );
        assert_eq!(
            kinds("/// d\n//! i\n//// n\n// c"),
            vec![
                (LineComment { doc: true }, "/// d"),
                (LineComment { doc: true }, "//! i"),
                (LineComment { doc: false }, "//// n"),
                (LineComment { doc: false }, "// c"),
            ]
        );
        assert_eq!(
            kinds("/** d */ /*! i */ /**/ /*** n */").iter().map(|k| k.0).collect::<Vec<_>>(),
            vec![
                BlockComment { doc: true },
                BlockComment { doc: true },
                BlockComment { doc: false },
                BlockComment { doc: false },
            ]
        );
        let tokens = tokenize("/* a\nb */ x");
        assert_eq!((tokens[1].text, tokens[1].line), ("x", 2));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            kinds("1.5e-3f32 0x1F 1_000i64"),
            vec![(Number, "1.5e-3f32"), (Number, "0x1F"), (Number, "1_000i64")]
        );
        assert_eq!(kinds("0..n"), vec![(Number, "0"), (Punct, "."), (Punct, "."), (Ident, "n")]);
        assert_eq!(kinds("1.max(2)")[..3], [(Number, "1"), (Punct, "."), (Ident, "max")]);
        assert_eq!(
            kinds("t.0.1"),
            vec![(Ident, "t"), (Punct, "."), (Number, "0"), (Punct, "."), (Number, "1")]
        );
        assert_eq!(kinds("1e5-x")[..2], [(Number, "1e5"), (Punct, "-")]);
        assert_eq!(kinds("0x1e-2")[..2], [(Number, "0x1e"), (Punct, "-")]);
    }

    #[test]
    fn unterminated_literals_run_to_the_end() {
        assert_eq!(kinds("x \"open"), vec![(Ident, "x"), (Str, "\"open")]);
        assert_eq!(kinds("x /* open"), vec![(Ident, "x"), (BlockComment { doc: false }, "/* open")]);
        assert_eq!(kinds("x r#\"open"), vec![(Ident, "x"), (RawStr, "r#\"open")]);
        assert_eq!(kinds("' x"), vec![(Punct, "'"), (Ident, "x")]);
    }

    fn reaches(source: &str) -> Vec<Reach> {
        outside_reaches(source).into_iter().map(|f| f.reach).collect()
    }

    #[test]
    fn paths_through_super_and_crate_are_found_whatever_the_spacing() {
        let found = outside_reaches("fn f() {\n    super :: solution::f()\n}");
        assert_eq!(found, vec![Found { reach: Reach::Path("super".into()), line: 2 }]);
        assert_eq!(reaches("use crate/* hidden */::solution;"), vec![Reach::Path("crate".into())]);
        assert_eq!(reaches("use super::*;"), vec![Reach::Path("super".into())]);
        assert_eq!(reaches("use crate as root;"), vec![Reach::Path("crate".into())]);
        assert!(reaches("macro_rules! m { () => { $crate::f() } }").is_empty());
        assert!(reaches("pub(crate) fn f() {} pub(super) struct S; pub(in self) fn g() {}").is_empty());
        assert!(
            reaches("// super::solution\nlet s = \"crate::x\"; let c = 'c'; /* include!(..) */").is_empty()
        );
    }

    #[test]
    fn file_inclusions_are_found() {
        assert_eq!(reaches("include ! (\"../solution.rs\");"), vec![Reach::Include("include".into())]);
        assert_eq!(
            reaches("const S: &str = include_str!(\"x\");"),
            vec![Reach::Include("include_str".into())]
        );
        assert_eq!(reaches("std::include_bytes!(\"x\")"), vec![Reach::Include("include_bytes".into())]);
        assert!(reaches("fn include() {} x.include(); let include = 1;").is_empty());
        assert_eq!(reaches("#[path = \"../../solutions/x.rs\"]\nmod s;"), vec![Reach::PathAttribute]);
        assert_eq!(reaches("#[cfg_attr(all(), path = \"x.rs\")] mod s;"), vec![Reach::PathAttribute]);
        assert_eq!(reaches("#![path = \"x\"]"), vec![Reach::PathAttribute]);
        assert!(reaches("let path = 1; f(path = 2); let v = [path == 1];").is_empty());
    }

    #[test]
    fn tensorlings_variables_read_by_name_are_found() {
        let source = r#"
            const A: &str = env!("TENSORLINGS_SOLUTIONS_DIR");
            let b = option_env!("TENSORLINGS_SUBJECT_DIR");
            let c = std::env::var("TENSORLINGS_REPORT");
            let d = env :: var_os(r"TENSORLINGS_DEVICE");
            let e = std::env::var("HOME");
            let f = "TENSORLINGS_REPORT";
            let g = env!("CARGO_PKG_NAME");
        "#;
        let names: Vec<Reach> = ["SOLUTIONS_DIR", "SUBJECT_DIR", "REPORT", "DEVICE"]
            .iter()
            .map(|n| Reach::EnvRead(format!("TENSORLINGS_{n}")))
            .collect();
        assert_eq!(reaches(source), names);
        assert_eq!(outside_reaches(source)[3].line, 5);
    }
}
