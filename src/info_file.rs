//! `info.toml`: the course's table of contents, hints and settings, parsed and validated.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::bytes::Bytes;

/// The only `format_version` this runner understands.
pub const FORMAT_VERSION: u32 = 1;

/// Used when neither the exercise nor the course sets a timeout.
const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// A check process that links libtorch holds about 100 MiB before it does anything.
const MIN_MEMORY_LIMIT: Bytes = Bytes(64 << 20);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoFile {
    pub format_version: u32,
    pub welcome_message: String,
    pub final_message: String,
    #[serde(default)]
    pub course: CourseSettings,
    #[serde(default)]
    pub sections: Vec<Section>,
    pub exercises: Vec<ExerciseInfo>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CourseSettings {
    /// Folder (relative to the course root) of the Cargo package that builds the checks.
    pub package: String,
    /// libtorch version the course needs; `None` for a course that does not use libtorch.
    pub libtorch: Option<String>,
    /// Timeout of one check run, unless an exercise sets its own.
    pub timeout_secs: u64,
    /// How many wrong answers (wrong/DIR/NAME.toml) `dev check` requires of every exercise.
    pub min_wrong_answers: usize,
    /// Memory a check process may use, unless an exercise sets its own; `None`: half of the
    /// machine's memory.
    pub memory_limit: Option<Bytes>,
}

impl Default for CourseSettings {
    fn default() -> Self {
        Self {
            package: "course".into(),
            libtorch: None,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            min_wrong_answers: 0,
            memory_limit: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The folder below `exercises/` that holds the section.
    pub dir: String,
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseInfo {
    pub name: String,
    pub dir: String,
    pub hint: String,
    /// Overrides the course's timeout for this exercise's check run.
    pub timeout_secs: Option<u64>,
    /// Run alone (after the parallel batch) in `verify`: for checks that time or measure.
    #[serde(default)]
    pub exclusive: bool,
    /// Overrides the course's memory limit for this exercise's check run.
    pub memory_limit: Option<Bytes>,
    /// What a pass is worth in `grade`'s gradebook.
    #[serde(default = "one_point")]
    pub points: u32,
}

fn one_point() -> u32 {
    1
}

impl ExerciseInfo {
    /// Path of the exercise below `exercises/` or `solutions/`, e.g. `00_intro/tensors.rs`.
    pub fn rel_path(&self) -> String {
        format!("{}/{}.rs", self.dir, self.name)
    }
}

impl InfoFile {
    /// Reads and validates `path`; every error names the file and, where it can, the
    /// exercise and the field.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{} is not a valid course file", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let info: InfoFile = toml::from_str(text).map_err(|e| describe_toml_error(text, e))?;
        info.validate()?;
        Ok(info)
    }

    fn validate(&self) -> Result<()> {
        if self.format_version != FORMAT_VERSION {
            bail!(
                "format_version is {}, but this tensorlings understands {FORMAT_VERSION}: update tensorlings (git pull) or the course",
                self.format_version
            );
        }
        if self.exercises.is_empty() {
            bail!("there are no [[exercises]]");
        }
        if self.course.timeout_secs == 0 {
            bail!("[course] timeout_secs must be at least 1");
        }
        if self.course.memory_limit.is_some_and(|limit| limit < MIN_MEMORY_LIMIT) {
            bail!(
                "[course] memory_limit must be at least {MIN_MEMORY_LIMIT}: libtorch alone needs that much"
            );
        }
        let mut section_dirs = HashSet::new();
        for section in &self.sections {
            if !section_dirs.insert(section.dir.as_str()) {
                bail!("[[sections]] has dir \"{}\" twice: each section folder needs one entry", section.dir);
            }
        }
        let mut names = HashSet::new();
        for (index, exercise) in self.exercises.iter().enumerate() {
            let which = if exercise.name.is_empty() {
                format!("exercise #{}", index + 1)
            } else {
                format!("exercise `{}`", exercise.name)
            };
            if !is_identifier(&exercise.name) {
                bail!(
                    "{which}: field `name` must be a non-empty identifier of lowercase letters, digits and `_` (it names binaries and files)"
                );
            }
            if !names.insert(exercise.name.as_str()) {
                bail!("{which}: field `name` is used by an earlier exercise too");
            }
            if exercise.dir.is_empty() || exercise.dir.contains(['/', '\\']) || exercise.dir.starts_with('.')
            {
                bail!("{which}: field `dir` must be one folder name below exercises/, like \"00_intro\"");
            }
            if exercise.hint.trim().is_empty() {
                bail!("{which}: field `hint` is empty: every exercise needs a hint");
            }
            if exercise.timeout_secs == Some(0) {
                bail!("{which}: field `timeout_secs` must be at least 1");
            }
            if exercise.memory_limit.is_some_and(|limit| limit < MIN_MEMORY_LIMIT) {
                bail!(
                    "{which}: field `memory_limit` must be at least {MIN_MEMORY_LIMIT}: libtorch alone needs that much"
                );
            }
            if !self.sections.is_empty() && !self.sections.iter().any(|s| s.dir == exercise.dir) {
                bail!("{which}: field `dir` is \"{}\", but no [[sections]] entry has that dir", exercise.dir);
            }
        }
        Ok(())
    }

    pub fn timeout(&self, exercise: &ExerciseInfo) -> Duration {
        Duration::from_secs(exercise.timeout_secs.unwrap_or(self.course.timeout_secs))
    }

    /// The memory `exercise`'s check process may use before it is stopped.
    pub fn memory_limit(&self, exercise: &ExerciseInfo) -> Bytes {
        exercise.memory_limit.or(self.course.memory_limit).unwrap_or_else(Bytes::half_of_machine)
    }

    /// The title of a section folder: its [[sections]] title, else the folder name.
    pub fn section_title<'a>(&'a self, dir: &'a str) -> &'a str {
        self.sections.iter().find(|s| s.dir == dir).map_or(dir, |s| s.title.as_str())
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.exercises.iter().position(|e| e.name == name)
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// toml's error says the line; add which exercise that line belongs to, since a course file
/// holds dozens of `[[exercises]]` tables that all look alike.
fn describe_toml_error(text: &str, error: toml::de::Error) -> anyhow::Error {
    let mut message = error.message().to_string();
    if let Some(span) = error.span() {
        let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
        let _ = write!(message, " (line {line}");
        if let Some(name) = enclosing_exercise(text, span.start) {
            let _ = write!(message, ", in exercise `{name}`");
        }
        message.push(')');
    }
    anyhow::anyhow!(message)
}

/// The `name` of the `[[exercises]]` table that contains byte `offset`, if any. An error about
/// a missing field points at the table's header itself, so the header may start at `offset`.
fn enclosing_exercise(text: &str, offset: usize) -> Option<String> {
    let header = "[[exercises]]";
    let start = text[..(offset + header.len()).min(text.len())].rfind(header)?;
    let rest = &text[start..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 1);
    rest[..end].lines().find_map(|line| {
        let value = line.trim().strip_prefix("name")?.trim().strip_prefix('=')?.trim();
        Some(value.trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
format_version = 1
welcome_message = "hi"
final_message = "bye"

[[sections]]
dir = "00_intro"
title = "Intro"

[[exercises]]
name = "first"
dir = "00_intro"
hint = "look"

[[exercises]]
name = "second"
dir = "00_intro"
hint = "look again"
timeout_secs = 5
exclusive = true
"#;

    fn error_of(text: &str) -> String {
        format!("{:#}", InfoFile::parse(text).unwrap_err())
    }

    #[test]
    fn parses_a_valid_file_with_defaults() {
        let info = InfoFile::parse(VALID).unwrap();
        assert_eq!(info.exercises.len(), 2);
        assert_eq!(info.course.package, "course");
        assert_eq!(info.timeout(&info.exercises[0]), Duration::from_secs(60));
        assert_eq!(info.timeout(&info.exercises[1]), Duration::from_secs(5));
        assert!(info.exercises[1].exclusive);
        assert_eq!(info.section_title("00_intro"), "Intro");
        assert_eq!(info.exercises[0].rel_path(), "00_intro/first.rs");
    }

    #[test]
    fn a_type_error_names_the_exercise_and_line() {
        let text = VALID.replace("timeout_secs = 5", "timeout_secs = \"five\"");
        let message = error_of(&text);
        assert!(message.contains("exercise `second`"), "{message}");
        assert!(message.contains("line 19"), "{message}");
    }

    #[test]
    fn an_unknown_field_is_named() {
        let message = error_of(&VALID.replace("hint = \"look\"", "hint = \"look\"\nhnt = 1"));
        assert!(message.contains("hnt") && message.contains("exercise `first`"), "{message}");
    }

    #[test]
    fn a_missing_field_names_its_own_exercise() {
        let message = error_of(&VALID.replace("hint = \"look\"\n", ""));
        assert!(message.contains("missing field `hint`"), "{message}");
        assert!(message.contains("in exercise `first`"), "{message}");
        let message = error_of(&VALID.replace("hint = \"look again\"\n", ""));
        assert!(message.contains("in exercise `second`"), "{message}");
    }

    #[test]
    fn an_empty_hint_is_rejected() {
        let message = error_of(&VALID.replace("\"look\"", "\"  \""));
        assert!(message.contains("exercise `first`: field `hint` is empty"), "{message}");
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let message = error_of(&VALID.replace("\"second\"", "\"first\""));
        assert!(message.contains("used by an earlier exercise"), "{message}");
    }

    #[test]
    fn bad_names_and_dirs_are_rejected() {
        assert!(error_of(&VALID.replace("\"second\"", "\"Second\"")).contains("field `name`"));
        assert!(error_of(&VALID.replace("\"second\"", "\"a-b\"")).contains("field `name`"));
        let message = error_of(
            &VALID.replace("dir = \"00_intro\"\nhint = \"look\"", "dir = \"../x\"\nhint = \"look\""),
        );
        assert!(message.contains("field `dir`"), "{message}");
    }

    #[test]
    fn a_dir_without_section_is_rejected() {
        let message =
            error_of(&VALID.replace(
                "dir = \"00_intro\"\nhint = \"look again\"",
                "dir = \"01_x\"\nhint = \"look again\"",
            ));
        assert!(message.contains("no [[sections]] entry"), "{message}");
    }

    #[test]
    fn a_newer_format_is_rejected_with_advice() {
        let message = error_of(&VALID.replace("format_version = 1", "format_version = 2"));
        assert!(message.contains("update tensorlings"), "{message}");
    }

    #[test]
    fn a_section_listed_twice_is_rejected() {
        let text = VALID.replace(
            "[[exercises]]\nname = \"first\"",
            "[[sections]]\ndir = \"00_intro\"\ntitle = \"Again\"\n\n[[exercises]]\nname = \"first\"",
        );
        assert!(error_of(&text).contains("has dir \"00_intro\" twice"), "{}", error_of(&text));
    }

    #[test]
    fn memory_limits_are_sizes_per_exercise_or_course() {
        let info = InfoFile::parse(
            &VALID.replace("exclusive = true", "exclusive = true\nmemory_limit = \"512 MiB\""),
        )
        .unwrap();
        assert_eq!(info.memory_limit(&info.exercises[1]), Bytes(512 << 20));
        assert_eq!(info.memory_limit(&info.exercises[0]), Bytes::half_of_machine());
        let message =
            error_of(&VALID.replace("exclusive = true", "exclusive = true\nmemory_limit = \"8 GB\""));
        assert!(message.contains("unknown unit `GB`") && message.contains("exercise `second`"), "{message}");
        let message =
            error_of(&VALID.replace("exclusive = true", "exclusive = true\nmemory_limit = \"1 MiB\""));
        assert!(
            message.contains("exercise `second`: field `memory_limit` must be at least 64 MiB"),
            "{message}"
        );
    }

    #[test]
    fn zero_timeouts_are_rejected() {
        let message = error_of(&VALID.replace("timeout_secs = 5", "timeout_secs = 0"));
        assert!(message.contains("timeout_secs"), "{message}");
    }
}
