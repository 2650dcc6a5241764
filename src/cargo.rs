//! Builds check binaries of the course package with cargo, and sorts cargo's JSON messages
//! by binary, so one broken exercise never hides another's result.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::course::Course;
use crate::staging::Stage;

/// What the build produced for one binary.
#[derive(Default, Debug)]
pub struct BinBuild {
    pub executable: Option<PathBuf>,
    /// Compiler errors and warnings, rendered as rustc prints them.
    pub diagnostics: String,
    pub has_errors: bool,
}

pub struct BuildOutput {
    pub bins: HashMap<String, BinBuild>,
    /// cargo's own output (build-script failures, linker trouble, lock waits).
    pub stderr: String,
    /// Errors in code that every binary shares (the support library), rendered.
    pub shared_errors: String,
}

impl BuildOutput {
    /// Why `bin` has no executable, for a learner: its own compiler errors, or errors in
    /// shared code, or what cargo said.
    pub fn failure_of(&self, bin: &str) -> String {
        let own = self.bins.get(bin).map(|b| b.diagnostics.as_str()).unwrap_or("");
        if self.bins.get(bin).is_some_and(|b| b.has_errors) {
            return own.to_string();
        }
        if !self.shared_errors.is_empty() {
            return format!("the course's shared code does not compile:\n{}", self.shared_errors);
        }
        let stderr = self.stderr.trim();
        if stderr.is_empty() { format!("cargo built no binary `{bin}`") } else { stderr.to_string() }
    }
}

pub struct Build<'a> {
    pub course: &'a Course,
    pub bins: Vec<String>,
    /// Examples to build with the bins: checks built as libraries for the warm host.
    pub examples: Vec<String>,
    /// Where to build: the staging area (its target dir and exercise files), or `None` for the
    /// learner's `exercises/` in the course's own target dir.
    pub stage: Option<&'a Stage>,
    pub color: bool,
    /// Show a spinner on stderr (when it is a terminal) once a build has run for a second: the
    /// first build of a course compiles tch and libtorch's bindings for minutes, and silence
    /// would look like a hang. A rebuild after a save is done before the spinner would appear.
    pub show_progress: bool,
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    target: Option<Target>,
    message: Option<Diagnostic>,
    executable: Option<PathBuf>,
    /// What a library target produced (a check built for the warm host: its `.so`).
    #[serde(default)]
    filenames: Vec<PathBuf>,
    #[serde(default)]
    fresh: bool,
    package_id: Option<String>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    rendered: Option<String>,
}

impl Build<'_> {
    pub fn run(&self) -> Result<BuildOutput> {
        self.run_with(false).map(|(output, _)| output)
    }

    /// As [`Build::run`], with cargo's `-v`: also returns cargo's stderr as it was, whose
    /// "Running" lines are the exact rustc commands (see `replay`).
    pub fn run_verbose(&self) -> Result<(BuildOutput, String)> {
        self.run_with(true)
    }

    fn run_with(&self, verbose: bool) -> Result<(BuildOutput, String)> {
        // The learner's files are built in place: make cargo see every change of contents (see
        // `freshness`). Staged files get their times from the stage.
        let built: Vec<(&crate::info_file::ExerciseInfo, Option<String>)> = match self.stage {
            Some(_) => Vec::new(),
            None => self
                .course
                .exercises()
                .iter()
                .filter(|e| {
                    self.bins.contains(&crate::course::check_bin(e))
                        || self.examples.contains(&crate::course::hosted_lib(e))
                })
                .map(|e| (e, crate::freshness::before_build(self.course, e)))
                .collect(),
        };
        let result = self.cargo_build(verbose);
        for (exercise, id) in built {
            crate::freshness::after_build(self.course, exercise, id);
        }
        result
    }

    fn cargo_build(&self, verbose: bool) -> Result<(BuildOutput, String)> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        let format = if self.color { "json-diagnostic-rendered-ansi" } else { "json" };
        command
            .arg("build")
            .arg("--manifest-path")
            .arg(self.course.manifest_path())
            .arg(format!("--message-format={format}"))
            .arg("--keep-going")
            .args(verbose.then_some("-v"))
            // The course root, so that its .cargo/config.toml (libtorch's path) applies.
            .current_dir(&self.course.root)
            .env("CARGO_TERM_PROGRESS_WHEN", "never")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for bin in &self.bins {
            command.arg("--bin").arg(bin);
        }
        for example in &self.examples {
            command.arg("--example").arg(example);
        }
        // Both folders, always: the course's build script would otherwise fall back to its own
        // location, which cargo may have recorded for another checkout that shares the target dir.
        command.env("TENSORLINGS_SOLUTIONS_DIR", self.course.root.join("solutions"));
        match self.stage {
            Some(stage) => command
                .env("TENSORLINGS_SUBJECT_DIR", stage.dir())
                .env("CARGO_TARGET_DIR", stage.target_dir()),
            None => command.env("TENSORLINGS_SUBJECT_DIR", self.course.root.join("exercises")),
        };
        // Its own process group: stopping a build must stop the rustc and linker it started too.
        crate::exec::in_own_group(&mut command);
        let mut child =
            command.spawn().context("cannot start cargo: is Rust installed (https://rustup.rs)?")?;
        crate::exec::register(child.id());
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr_reader = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });

        let rewrite = PathRewrite::for_course(self.course);
        let mut bins: HashMap<String, BinBuild> = HashMap::new();
        let mut shared_errors = String::new();
        let mut spinner: Option<ProgressBar> = None;
        let mut compiled = 0;
        let mut told_first_build = false;
        let started = std::time::Instant::now();
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        for line in stdout.lines() {
            let line = line.context("cannot read cargo's output")?;
            let Ok(message) = serde_json::from_str::<Message>(&line) else { continue };
            let Some(target) = message.target else { continue };
            // An example is a check built for the warm host: its messages are sorted the same way.
            let is_bin = target.kind.iter().any(|k| k == "bin" || k == "example");
            match message.reason.as_str() {
                "compiler-message" => {
                    let Some(diagnostic) = message.message else { continue };
                    let Some(rendered) = diagnostic.rendered else { continue };
                    let is_error = diagnostic.level.starts_with("error");
                    let rendered = rewrite.apply(&rendered);
                    if is_bin {
                        let entry = bins.entry(target.name).or_default();
                        entry.diagnostics.push_str(&rendered);
                        entry.has_errors |= is_error;
                    } else if is_error {
                        shared_errors.push_str(&rendered);
                    }
                }
                "compiler-artifact" => {
                    if self.show_progress && !message.fresh {
                        compiled += 1;
                        if spinner.is_none() && started.elapsed() > std::time::Duration::from_secs(1) {
                            spinner = Some(build_spinner());
                        }
                        if let Some(spinner) = &spinner {
                            if !is_bin && !told_first_build {
                                told_first_build = true;
                                spinner.println(FIRST_BUILD);
                            }
                            let package =
                                message.package_id.as_deref().map_or(target.name.as_str(), package_name);
                            spinner.set_message(format!("{compiled} compiled, the last `{package}`"));
                        }
                    }
                    if is_bin {
                        let library =
                            message.filenames.into_iter().find(|f| f.extension().is_some_and(|e| e == "so"));
                        bins.entry(target.name).or_default().executable = message.executable.or(library);
                    }
                }
                _ => {}
            }
        }
        let waited = child.wait();
        crate::exec::unregister(child.id());
        waited.context("cannot wait for cargo")?;
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
        let stderr = stderr_reader.join().unwrap_or_default();
        Ok((BuildOutput { bins, stderr: rewrite.apply(&stderr), shared_errors }, stderr))
    }
}

const FIRST_BUILD: &str = "Compiling the course's dependencies (tch and libtorch's C++ bindings): a few minutes, once. Later builds take under a second.";

/// `torch-sys` of `registry+https://github.com/rust-lang/crates.io-index#torch-sys@0.26.0`
/// (and of the older `torch-sys 0.26.0 (registry+...)` form).
fn package_name(package_id: &str) -> &str {
    match package_id.rsplit_once('#') {
        Some((_, name_version)) => name_version.split('@').next().unwrap_or(name_version),
        None => package_id.split(' ').next().unwrap_or(package_id),
    }
}

fn build_spinner() -> ProgressBar {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} Building ({elapsed}): {msg}").expect("the template is valid"),
    );
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

/// rustc names files relative to the course package (`../exercises/x.rs`), and files that
/// check binaries `include!` by their absolute path; learners think in paths relative to the
/// course root (`exercises/x.rs`), where they run tensorlings.
pub struct PathRewrite {
    prefix: String,
    root: String,
}

impl PathRewrite {
    pub fn for_course(course: &Course) -> Self {
        let depth = Path::new(&course.info.course.package).components().count();
        Self { prefix: "../".repeat(depth), root: format!("{}/", course.root.display()) }
    }

    pub fn apply(&self, text: &str) -> String {
        ["exercises/", "solutions/", "checks/"].iter().fold(text.to_string(), |text, dir| {
            text.replace(&format!("{}{dir}", self.root), dir)
                // A check reached from a hosted library's root (`course/hosted/NAME.rs`).
                .replace(&format!("hosted/../{}{dir}", self.prefix), dir)
                .replace(&format!("{}{dir}", self.prefix), dir)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_paths_relative_to_the_package() {
        let rewrite = PathRewrite { prefix: "../".into(), root: "/home/me/course/".into() };
        assert_eq!(rewrite.apply(" --> /home/me/course/exercises/a.rs:1:1"), " --> exercises/a.rs:1:1");
        assert_eq!(
            rewrite.apply(" --> ../exercises/00_intro/a.rs:3:5 and ../src/x.rs"),
            " --> exercises/00_intro/a.rs:3:5 and ../src/x.rs"
        );
        assert_eq!(
            rewrite.apply(" --> hosted/../../checks/00_intro/a.rs:19:1"),
            " --> checks/00_intro/a.rs:19:1"
        );
    }

    #[test]
    fn package_names_come_from_package_ids() {
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#torch-sys@0.26.0"),
            "torch-sys"
        );
        assert_eq!(
            package_name("path+file:///work/support#tensorlings-support@0.1.0"),
            "tensorlings-support"
        );
        assert_eq!(package_name("tch 0.26.0 (registry+https://github.com/rust-lang/crates.io-index)"), "tch");
    }

    #[test]
    fn failure_prefers_own_errors_then_shared_then_stderr() {
        let mut output =
            BuildOutput { bins: HashMap::new(), stderr: "cargo said".into(), shared_errors: String::new() };
        assert_eq!(output.failure_of("a_check"), "cargo said");
        output.shared_errors = "support broke".into();
        assert!(output.failure_of("a_check").contains("support broke"));
        output.bins.insert(
            "a_check".into(),
            BinBuild { executable: None, diagnostics: "error[E0308]".into(), has_errors: true },
        );
        assert_eq!(output.failure_of("a_check"), "error[E0308]");
    }
}
