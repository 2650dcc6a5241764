//! Rebuilds a check library after a save by running rustc directly, with the command cargo
//! used for it, while nothing but the learner's file has changed since.
//!
//! Cargo's own part of a rebuild (reading the manifest, fingerprinting every dependency) costs
//! 0.1-0.15 s on a 2-core machine and grows with the number of targets in the course package;
//! rustc alone costs the same for the first exercise of a 60-exercise course as of a 3-exercise
//! one. The recording is made from `cargo build -v`, whose "Running" line is the exact command,
//! and is dropped as soon as any other input changes (the check, the solution, a dependency,
//! the course's manifest or configuration): cargo then builds and records again.
//!
//! Recordings are kept in the course's `.tensorlings/replay/` (see [`Store`]), so that watch mode
//! and each `tensorlings run`, a process of its own, can replay what another one recorded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::course::Course;
use crate::info_file::ExerciseInfo;

/// How cargo ran rustc for one crate, and the inputs that must not change for a replay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recorded {
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    env: Vec<(String, String)>,
    /// Every input but the learner's file, with its modification time when recorded.
    inputs: Vec<(PathBuf, Option<SystemTime>)>,
    /// The library rustc writes.
    output: PathBuf,
    /// The learner's file, the one input allowed to change.
    subject: PathBuf,
}

/// What a replayed build produced.
pub struct Rebuilt {
    /// The library, when rustc succeeded.
    pub library: Option<PathBuf>,
    /// Rendered diagnostics, in rustc's order.
    pub diagnostics: String,
    /// Whether every error points into the learner's file: then it is the learner's to fix, and
    /// the same error cargo would show. Otherwise the replay is in doubt and cargo should build.
    pub errors_are_the_learners: bool,
}

impl Recorded {
    /// The record of the crate `crate_name` from the stderr of `cargo build -v`, or `None` when
    /// cargo did not compile it (it was fresh) or the line cannot be read. `env` is what cargo
    /// sets for rustc that the check may read at compile time; `subject` the learner's file.
    pub fn from_cargo_verbose(
        stderr: &str,
        crate_name: &str,
        cwd: &Path,
        env: Vec<(String, String)>,
        subject: &Path,
        also_watch: &[PathBuf],
    ) -> Option<Recorded> {
        let line = stderr.lines().find_map(|line| {
            let command = line.trim_start().strip_prefix("Running `")?.strip_suffix('`')?;
            command.contains(&format!("--crate-name {crate_name} ")).then_some(command)
        })?;
        let mut words = shlex::split(line)?.into_iter();
        let program = PathBuf::from(words.next()?);
        let args: Vec<String> = words.collect();
        let value_of = |flag: &str| -> Option<&str> {
            let at = args.iter().position(|arg| arg == flag)?;
            args.get(at + 1).map(String::as_str)
        };
        let out_dir = cwd.join(value_of("--out-dir")?);
        let extra = args.iter().find_map(|arg| arg.strip_prefix("extra-filename=")).unwrap_or("");
        let output = out_dir.join(format!("lib{crate_name}{extra}.so"));
        let dep_info = out_dir.join(format!("{crate_name}{extra}.d"));
        let mut inputs: Vec<PathBuf> = dependencies_in(&std::fs::read_to_string(&dep_info).ok()?)
            .into_iter()
            .map(|path| cwd.join(path))
            .collect();
        inputs.extend(args.iter().filter_map(|arg| Some(cwd.join(arg.split_once('=')?.1))).filter(|path| {
            path.extension().is_some_and(|e| e == "rlib" || e == "rmeta" || e == "so") && path.is_file()
        }));
        inputs.extend(also_watch.iter().cloned());
        inputs.push(program.clone());
        let subject = subject.canonicalize().ok()?;
        let inputs = inputs
            .into_iter()
            .filter(|path| path.canonicalize().ok().as_deref() != Some(subject.as_path()))
            .map(|path| {
                let modified = modified(&path);
                (path, modified)
            })
            .collect();
        Some(Recorded { program, args, cwd: cwd.to_path_buf(), env, inputs, output, subject })
    }

    /// The library rustc writes.
    pub fn output(&self) -> &Path {
        &self.output
    }

    /// Whether every input but the learner's file is as it was when recorded.
    pub fn is_current(&self) -> bool {
        self.inputs.iter().all(|(path, when)| modified(path) == *when)
    }

    /// The recorded arguments, with rustc's diagnostics rendered in colour or not as `color`
    /// says (the recording keeps the choice of the build that made it).
    fn args(&self, color: bool) -> Vec<String> {
        const ANSI: &str = "diagnostic-rendered-ansi";
        self.args
            .iter()
            .filter_map(|arg| {
                let Some(values) = arg.strip_prefix("--json=") else { return Some(arg.clone()) };
                let mut values: Vec<&str> = values.split(',').filter(|value| *value != ANSI).collect();
                if color {
                    values.insert(0, ANSI);
                }
                (!values.is_empty()).then(|| format!("--json={}", values.join(",")))
            })
            .collect()
    }

    /// Runs rustc as cargo did, with diagnostics in colour when `color`. An error means rustc
    /// could not be run at all.
    pub fn rebuild(&self, color: bool) -> Result<Rebuilt> {
        let mut command = Command::new(&self.program);
        // Cargo's variables as cargo would set them, not the runner's own (a runner started with
        // `cargo run` has the runner package's CARGO_PKG_NAME).
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(|name| name.starts_with("CARGO_") || name == "OUT_DIR") {
                command.env_remove(name);
            }
        }
        let output = command
            .args(self.args(color))
            .current_dir(&self.cwd)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .with_context(|| format!("cannot run {}", self.program.display()))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut diagnostics = String::new();
        let mut errors_are_the_learners = true;
        for line in stderr.lines() {
            let Ok(message) = serde_json::from_str::<Message>(line) else {
                // Not rustc's JSON: something outside the compiler went wrong.
                if !line.trim().is_empty() {
                    errors_are_the_learners = false;
                }
                continue;
            };
            if message.message_type != "diagnostic" {
                continue;
            }
            // rustc's closing counts ("aborting due to 2 previous errors", "1 warning emitted"),
            // which cargo does not pass on either.
            let closing = message.spans.is_empty()
                && (message.message.starts_with("aborting due to") || message.message.ends_with(" emitted"));
            if closing {
                continue;
            }
            if message.level.starts_with("error") {
                let in_subject = !message.spans.is_empty()
                    && message.spans.iter().all(|span| {
                        self.cwd.join(&span.file_name).canonicalize().ok().as_deref()
                            == Some(self.subject.as_path())
                    });
                errors_are_the_learners &= in_subject;
            }
            if let Some(rendered) = message.rendered {
                diagnostics.push_str(&rendered);
            }
        }
        if output.status.success() {
            if !self.output.is_file() {
                bail!("rustc succeeded but wrote no {}", self.output.display());
            }
            return Ok(Rebuilt {
                library: Some(self.output.clone()),
                diagnostics,
                errors_are_the_learners: true,
            });
        }
        Ok(Rebuilt { library: None, diagnostics, errors_are_the_learners })
    }
}

/// The recordings of one course, one file per library in `.tensorlings/replay/`: a cache, so any
/// file that cannot be read or written is as good as none (cargo then builds and records).
pub struct Store {
    dir: PathBuf,
    /// The course's folder: a recording made in another (the course was copied, with its
    /// `.tensorlings/`) names that folder's files, and is not this course's.
    root: PathBuf,
}

/// A recording as stored, with the host program it was made for.
#[derive(Serialize, Deserialize)]
struct Stored {
    format_version: u32,
    course_root: PathBuf,
    host_program: PathBuf,
    recorded: Recorded,
    /// What the library was last replayed from, if it was.
    #[serde(default)]
    built: Option<Built>,
}

/// What a replay built the library from: the learner's file (its git blob id, read before rustc
/// ran) and the library it wrote (its modification time), with rustc's diagnostics.
#[derive(Serialize, Deserialize)]
struct Built {
    subject: String,
    output_modified: Option<SystemTime>,
    diagnostics: String,
    /// Whether the diagnostics are in colour.
    color: bool,
}

/// Bumped whenever [`Stored`] changes shape: an older file is then ignored, not misread.
const STORE_FORMAT: u32 = 1;

impl Store {
    /// The recordings of the course in `root`, kept in its `data_dir`.
    pub fn new(root: &Path, data_dir: &Path) -> Store {
        Store { dir: data_dir.join("replay"), root: root.to_path_buf() }
    }

    fn path(&self, library: &str) -> PathBuf {
        self.dir.join(format!("{library}.json"))
    }

    fn read(&self, library: &str) -> Option<Stored> {
        let text = std::fs::read_to_string(self.path(library)).ok()?;
        let stored: Stored = serde_json::from_str(&text).ok()?;
        let usable = stored.format_version == STORE_FORMAT
            && stored.course_root == self.root
            && stored.host_program.is_file()
            && stored.recorded.is_current();
        usable.then_some(stored)
    }

    /// The host program and the recording for `library`, while the recording is current and
    /// the program is still there.
    pub fn load(&self, library: &str) -> Option<(PathBuf, Recorded)> {
        self.read(library).map(|stored| (stored.host_program, stored.recorded))
    }

    /// Keeps `recorded` for `library`.
    pub fn save(&self, library: &str, host_program: &Path, recorded: &Recorded) {
        let stored = Stored {
            format_version: STORE_FORMAT,
            course_root: self.root.clone(),
            host_program: host_program.to_path_buf(),
            recorded: recorded.clone(),
            built: None,
        };
        self.write(library, &stored);
    }

    /// The diagnostics of the last replay of `library`, when it was built from `subject` (the
    /// learner's file as it is now) and its library has not been written since: building it
    /// again would make the same library.
    pub fn built_from(&self, library: &str, subject: &[u8], color: bool) -> Option<String> {
        let stored = self.read(library)?;
        let built = stored.built?;
        let current = built.subject == crate::shipped::blob_id(subject)
            && built.color == color
            && built.output_modified.is_some()
            && modified(&stored.recorded.output) == built.output_modified;
        current.then_some(built.diagnostics)
    }

    /// Notes that a replay of `library` built it from `subject` (read before rustc ran).
    pub fn mark_built(&self, library: &str, subject: &[u8], diagnostics: &str, color: bool) {
        let Some(mut stored) = self.read(library) else { return };
        stored.built = Some(Built {
            subject: crate::shipped::blob_id(subject),
            output_modified: modified(&stored.recorded.output),
            diagnostics: diagnostics.to_string(),
            color,
        });
        self.write(library, &stored);
    }

    /// Writes `stored` whole, then renames it into place, so that a reader never sees half of
    /// it.
    fn write(&self, library: &str, stored: &Stored) {
        let Ok(text) = serde_json::to_string(stored) else { return };
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let Ok(mut file) = tempfile::NamedTempFile::new_in(&self.dir) else { return };
        if std::io::Write::write_all(&mut file, text.as_bytes()).is_ok() {
            let _ = file.persist(self.path(library));
        }
    }

    pub fn forget(&self, library: &str) {
        let _ = std::fs::remove_file(self.path(library));
    }

    /// Records, from the stderr of `cargo build -v`, how `library` (the check library of
    /// `exercise`) was compiled, when cargo compiled it in that build, for the host `program`.
    pub fn remember(
        &self,
        course: &Course,
        exercise: &ExerciseInfo,
        library: &str,
        program: &Path,
        cargo_log: &str,
    ) {
        let root = &course.root;
        let mut env = cargo_compile_time_env(course, library);
        env.push(("TENSORLINGS_SUBJECT_DIR".to_string(), root.join("exercises").display().to_string()));
        env.push(("TENSORLINGS_SOLUTIONS_DIR".to_string(), root.join("solutions").display().to_string()));
        let mut also_watch = vec![
            course.manifest_path(),
            course.package_dir().join("Cargo.lock"),
            root.join(".cargo").join("config.toml"),
            course.package_dir().join("build.rs"),
        ];
        // The support library's sources: cargo would rebuild it after an edit (a `git pull`
        // mid-session), and its rlib, which the recording watches, changes only then.
        files_below(&root.join("support"), &mut also_watch);
        let subject = course.exercise_path(exercise);
        let package_dir = course.package_dir();
        if let Some(recorded) =
            Recorded::from_cargo_verbose(cargo_log, library, &package_dir, env, &subject, &also_watch)
        {
            self.save(library, program, &recorded);
        }
    }
}

/// The variables cargo sets for rustc that a crate can read at compile time (`env!`,
/// `option_env!`), as cargo would set them for `library` of the course package. `OUT_DIR` is
/// left out: the course's build script makes none that a check reads.
fn cargo_compile_time_env(course: &Course, library: &str) -> Vec<(String, String)> {
    let manifest = std::fs::read_to_string(course.manifest_path())
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .unwrap_or_default();
    let package = manifest.get("package").and_then(|p| p.as_table()).cloned().unwrap_or_default();
    let field = |key: &str| match package.get(key) {
        Some(toml::Value::String(text)) => text.clone(),
        Some(toml::Value::Array(items)) => {
            items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join(":")
        }
        _ => String::new(),
    };
    let version = field("version");
    let (numbers, pre) = version.split_once('-').unwrap_or((&version, ""));
    let mut parts = numbers.split('.').map(str::to_string);
    let mut env: Vec<(String, String)> = vec![
        ("CARGO", std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())),
        ("CARGO_MANIFEST_DIR", course.package_dir().display().to_string()),
        ("CARGO_MANIFEST_PATH", course.manifest_path().display().to_string()),
        ("CARGO_CRATE_NAME", library.to_string()),
        ("CARGO_PRIMARY_PACKAGE", "1".to_string()),
        ("CARGO_PKG_NAME", field("name")),
        ("CARGO_PKG_VERSION", version.clone()),
        ("CARGO_PKG_VERSION_MAJOR", parts.next().unwrap_or_default()),
        ("CARGO_PKG_VERSION_MINOR", parts.next().unwrap_or_default()),
        ("CARGO_PKG_VERSION_PATCH", parts.next().unwrap_or_default()),
        ("CARGO_PKG_VERSION_PRE", pre.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (var, key) in [
        ("CARGO_PKG_AUTHORS", "authors"),
        ("CARGO_PKG_DESCRIPTION", "description"),
        ("CARGO_PKG_HOMEPAGE", "homepage"),
        ("CARGO_PKG_REPOSITORY", "repository"),
        ("CARGO_PKG_LICENSE", "license"),
        ("CARGO_PKG_LICENSE_FILE", "license-file"),
        ("CARGO_PKG_RUST_VERSION", "rust-version"),
        ("CARGO_PKG_README", "readme"),
    ] {
        env.push((var.to_string(), field(key)));
    }
    env
}

/// Every file below `dir` (but its `target`), added to `files`.
fn files_below(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if entry.file_name() != "target" {
                files_below(&path, files);
            }
        } else {
            files.push(path);
        }
    }
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "$message_type")]
    message_type: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    message: String,
    rendered: Option<String>,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Deserialize)]
struct Span {
    file_name: String,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The prerequisites of the first rule of a Makefile-style dep-info file, as rustc writes it
/// (spaces in paths escaped with a backslash).
fn dependencies_in(dep_info: &str) -> Vec<String> {
    let Some(first) = dep_info.lines().find(|line| line.contains(": ")) else { return Vec::new() };
    let Some((_, prerequisites)) = first.split_once(": ") else { return Vec::new() };
    let mut paths = Vec::new();
    let mut current = String::new();
    let mut chars = prerequisites.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    paths.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        paths.push(current);
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_renders_diagnostics_in_colour_only_when_asked() {
        let recorded = |json: &str| Recorded {
            program: PathBuf::from("rustc"),
            args: vec!["--error-format=json".into(), json.into(), "--crate-type".into(), "cdylib".into()],
            cwd: PathBuf::new(),
            env: Vec::new(),
            inputs: Vec::new(),
            output: PathBuf::new(),
            subject: PathBuf::new(),
        };
        let colored = recorded("--json=diagnostic-rendered-ansi,artifacts,future-incompat");
        assert_eq!(colored.args(false)[1], "--json=artifacts,future-incompat");
        assert_eq!(colored.args(true)[1], "--json=diagnostic-rendered-ansi,artifacts,future-incompat");
        let plain = recorded("--json=artifacts");
        assert_eq!(plain.args(true)[1], "--json=diagnostic-rendered-ansi,artifacts");
        assert_eq!(plain.args(false)[1..], ["--json=artifacts", "--crate-type", "cdylib"]);
        let only_ansi = recorded("--json=diagnostic-rendered-ansi");
        assert_eq!(only_ansi.args(false), ["--error-format=json", "--crate-type", "cdylib"]);
    }

    #[test]
    fn dep_info_prerequisites_are_read_with_escaped_spaces() {
        let text = "/t/libx.so: ../checks/a.rs /home/my\\ course/exercises/a.rs\n\n../checks/a.rs:\n";
        assert_eq!(dependencies_in(text), ["../checks/a.rs", "/home/my course/exercises/a.rs"]);
        assert!(dependencies_in("").is_empty());
    }

    /// A recording from a real `cargo build -v` line, replayed with a stand-in compiler.
    #[test]
    fn a_recording_is_current_until_an_input_other_than_the_learners_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let out = root.join("examples");
        std::fs::create_dir_all(&out).unwrap();
        let check = root.join("check.rs");
        let subject = root.join("exercise.rs");
        let rlib = root.join("libdep-1.rlib");
        for path in [&check, &subject, &rlib] {
            std::fs::write(path, "").unwrap();
        }
        std::fs::write(
            out.join("x_hosted-abc.d"),
            format!(
                "{}: {} {}\n",
                out.join("libx_hosted-abc.so").display(),
                check.display(),
                subject.display()
            ),
        )
        .unwrap();
        let stderr = format!(
            "   Compiling course\n     Running `/bin/true --crate-name x_hosted --edition=2024 check.rs --crate-type cdylib -C extra-filename=-abc --out-dir {} --extern dep={}`\n",
            out.display(),
            rlib.display()
        );
        let support_source = root.join("support.rs");
        std::fs::write(&support_source, "").unwrap();
        let watched = [support_source.clone()];
        let record = || {
            Recorded::from_cargo_verbose(&stderr, "x_hosted", root, Vec::new(), &subject, &watched).unwrap()
        };
        let recorded = record();
        assert_eq!(recorded.output, out.join("libx_hosted-abc.so"));
        assert!(recorded.is_current());
        // The learner's file may change...
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&subject, "changed").unwrap();
        assert!(recorded.is_current());
        // ...nothing else may: a source cargo would rebuild a dependency from, or a dependency.
        std::fs::write(&support_source, "edited").unwrap();
        assert!(!recorded.is_current());
        let recorded = record();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&rlib, "rebuilt").unwrap();
        assert!(!recorded.is_current());
        assert!(Recorded::from_cargo_verbose(&stderr, "y_hosted", root, Vec::new(), &subject, &[]).is_none());

        // Kept on disk, it is current (and usable) just as long.
        let recorded = record();
        let store = Store::new(root, &root.join(".tensorlings"));
        let program = root.join("tensorlings_host");
        std::fs::write(&program, "").unwrap();
        assert!(store.load("x_hosted").is_none());
        store.save("x_hosted", &program, &recorded);
        let (loaded_program, loaded) = store.load("x_hosted").unwrap();
        assert_eq!((loaded_program, loaded.output), (program.clone(), recorded.output.clone()));
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&check, "edited").unwrap();
        assert!(store.load("x_hosted").is_none());
        // A damaged file is no recording, not an error.
        std::fs::write(root.join(".tensorlings/replay/x_hosted.json"), "{ not json").unwrap();
        assert!(store.load("x_hosted").is_none());
        store.save("x_hosted", &program, &record());
        assert!(store.load("x_hosted").is_some());
        // A copy of the course, with its `.tensorlings/`, does not use the original's.
        let copy = tempfile::tempdir().unwrap();
        let copied = copy.path().join(".tensorlings/replay");
        std::fs::create_dir_all(&copied).unwrap();
        std::fs::copy(root.join(".tensorlings/replay/x_hosted.json"), copied.join("x_hosted.json")).unwrap();
        assert!(Store::new(copy.path(), &copy.path().join(".tensorlings")).load("x_hosted").is_none());
        store.forget("x_hosted");
        assert!(store.load("x_hosted").is_none());

        // A replay's result is reused only for the same contents of the learner's file, and
        // while its library is the one it wrote.
        store.save("x_hosted", &program, &record());
        assert_eq!(store.built_from("x_hosted", b"v1", false), None);
        std::fs::write(&recorded.output, "library").unwrap();
        store.mark_built("x_hosted", b"v1", "warning: unused", false);
        assert_eq!(store.built_from("x_hosted", b"v1", false).as_deref(), Some("warning: unused"));
        assert_eq!(store.built_from("x_hosted", b"v2", false), None);
        // Its diagnostics were plain: a run in colour builds again.
        assert_eq!(store.built_from("x_hosted", b"v1", true), None);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&recorded.output, "built by cargo since").unwrap();
        assert_eq!(store.built_from("x_hosted", b"v1", false), None);
        // A new recording (cargo built) forgets it.
        store.mark_built("x_hosted", b"v1", "", false);
        store.save("x_hosted", &program, &record());
        assert_eq!(store.built_from("x_hosted", b"v1", false), None);
    }
}
