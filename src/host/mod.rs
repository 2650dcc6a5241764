//! The runner's side of the warm check host (the course's `tensorlings_host` program, built on
//! `support/src/host.rs`): hands it one check at a time and limits each check's forked child
//! exactly as `exec` limits a check process. Watch mode starts a host of its own
//! (`session`); `tensorlings run` uses one that outlives it (`shared`).
//!
//! The host is an optimisation, never a requirement: every error here is returned to the
//! caller, which checks the exercise in a process of its own.

mod session;
mod shared;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

// The protocol's encoding is written once, in the support library's host; the runner uses its
// request type and hex helpers (the host's serving half is unused here).
#[path = "../../support/src/host.rs"]
#[allow(dead_code)]
mod wire;

use crate::course::Course;
use crate::exec::{self, Ending, Finished, Limits};
use crate::info_file::ExerciseInfo;
use crate::replay::{Recorded, Store};
use session::WarmHost;
use shared::SharedHost;

/// The name of the host program in the course package (course/host.rs).
pub const HOST_BIN: &str = "tensorlings_host";

/// How long the host may take to start and connect: it loads libtorch, which takes about a
/// second on a slow disk and far less when cached.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a running host may take to say that it started a check (a fork: milliseconds). A
/// host that does not answer in time (stopped, stuck) is given up, and the check runs in a
/// process.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the host says on its socket.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Started(u32),
    Ended(i32),
    Error(String),
}

fn parse_answer(line: &str) -> Result<Answer> {
    let (word, value) = line.trim_end().split_once(' ').ok_or_else(|| anyhow!("the host said {line:?}"))?;
    Ok(match word {
        "started" => Answer::Started(value.parse().with_context(|| format!("the host said {line:?}"))?),
        "ended" => Answer::Ended(value.parse().with_context(|| format!("the host said {line:?}"))?),
        "error" => {
            Answer::Error(String::from_utf8_lossy(&wire::unhex(value).map_err(|e| anyhow!(e))?).into_owned())
        }
        _ => bail!("the host said {line:?}"),
    })
}

/// One check for the host to run: what a check process would get as its environment.
pub struct HostedCheck<'a> {
    pub library: &'a Path,
    pub cwd: &'a Path,
    pub env: Vec<(String, String)>,
    pub unset: Vec<String>,
    pub secret: &'a [u8],
    pub limits: Limits,
    /// A private folder of the check's, for what a host needs to make (output pipes).
    pub scratch: &'a Path,
}

impl HostedCheck<'_> {
    /// The request for this check, before a host adds what is its own (marker, output pipes).
    fn request(&self) -> wire::Request {
        wire::Request {
            lib: self.library.as_os_str().as_encoded_bytes().to_vec(),
            cwd: self.cwd.as_os_str().as_encoded_bytes().to_vec(),
            env: self.env.iter().map(|(k, v)| (k.clone().into_bytes(), v.clone().into_bytes())).collect(),
            unset: self.unset.iter().map(|k| k.clone().into_bytes()).collect(),
            secret: self.secret.to_vec(),
            ..wire::Request::default()
        }
    }
}

/// The runner's end of a host's socket: requests out, answers in (read on a thread, so that a
/// wait for one can time out).
struct Connection {
    requests: UnixStream,
    answers: Receiver<Result<Answer>>,
}

impl Connection {
    fn new(stream: UnixStream) -> Result<Connection> {
        let reader = BufReader::new(stream.try_clone().context("cannot clone the host's socket")?);
        let (sender, answers) = mpsc::channel();
        thread::spawn(move || {
            for line in reader.lines() {
                let answer =
                    line.context("cannot read the host's answer").and_then(|line| parse_answer(&line));
                if sender.send(answer).is_err() {
                    return;
                }
            }
        });
        Ok(Connection { requests: stream, answers })
    }

    /// Sends `request`, then watches the child it starts under `limits` (from `start`) until
    /// the host says it has ended.
    fn run(&mut self, request: &wire::Request, limits: Limits, start: Instant) -> Result<Ending> {
        self.requests.write_all(request.encode().as_bytes()).context("cannot send the check to the host")?;
        let pid = match self.answer(ANSWER_TIMEOUT)? {
            Answer::Started(pid) => pid,
            Answer::Error(message) => bail!("the check host could not start the check: {message}"),
            other => bail!("the check host answered {other:?} to a new check"),
        };
        exec::register(pid);
        let answers = &self.answers;
        // `supervise` also waits for the end of a child it killed (to reap it): the host's one
        // `ended` answer may come then, and must not be waited for again.
        let mut ended = false;
        let ending = exec::supervise(pid, start, limits, |wait| match answers.recv_timeout(wait) {
            Ok(Ok(Answer::Ended(status))) => {
                ended = true;
                Some(Ok(ExitStatus::from_raw(status)))
            }
            Ok(Ok(other)) => Some(Err(anyhow!("the check host answered {other:?} while a check ran"))),
            Ok(Err(e)) => Some(Err(e)),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Err(anyhow!("the check host closed its socket"))),
        });
        exec::unregister(pid);
        let ending = ending?;
        if !ended {
            // The child was killed and not yet reaped: the host answers once it is.
            match self.answer(Duration::from_secs(5))? {
                Answer::Ended(_) => {}
                other => bail!("the check host answered {other:?} after a killed check"),
            }
        }
        Ok(ending)
    }

    fn answer(&self, within: Duration) -> Result<Answer> {
        match self.answers.recv_timeout(within) {
            Ok(answer) => answer,
            Err(RecvTimeoutError::Timeout) => {
                bail!("the check host did not answer within {} s", within.as_secs())
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the check host closed its socket"),
        }
    }

    /// Ends the connection at once.
    fn shut(&self) {
        let _ = self.requests.shutdown(std::net::Shutdown::Both);
    }

    /// Ends the connection and waits (briefly) until the host's side has closed too: the host
    /// has then finished with everything this connection asked for.
    fn close(self) {
        let _ = self.requests.shutdown(std::net::Shutdown::Write);
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            match self.answers.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(_) => continue,
                Err(_) => return,
            }
        }
    }
}

fn built_at(program: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(program).and_then(|m| m.modified()).ok()
}

/// Reads `stream` on a thread, sending what arrives as it arrives.
fn chunks(mut stream: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = stream.read(&mut buffer) {
            if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    receiver
}

fn drain(chunks: &Receiver<Vec<u8>>) -> String {
    let mut text = Vec::new();
    while let Ok(chunk) = chunks.try_recv() {
        text.extend(chunk);
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The environment variable that says where the warm host is used: `0`, `false`, `off` or
/// `no`: nowhere (every check runs in a process of its own, as in `verify`); `watch`: in watch
/// mode only (no host outlives a `tensorlings run`); anything else, or unset: in watch mode and
/// in `run`.
pub const WARM_HOST_VAR: &str = "TENSORLINGS_WARM_HOST";

/// Where the warm host may be used, from [`WARM_HOST_VAR`].
#[derive(Debug, PartialEq, Eq)]
enum Policy {
    Nowhere,
    WatchOnly,
    Everywhere,
}

impl Policy {
    fn from_env() -> Policy {
        match std::env::var(WARM_HOST_VAR).unwrap_or_default().trim().to_ascii_lowercase().as_str() {
            "0" | "false" | "off" | "no" => Policy::Nowhere,
            "watch" => Policy::WatchOnly,
            _ => Policy::Everywhere,
        }
    }
}

/// Which host the checks go to.
enum Kind {
    /// Watch mode's own host, started on first use and again after it dies.
    Session(Mutex<Option<WarmHost>>),
    /// The shared host of `tensorlings run`.
    Shared(Mutex<Option<SharedHost>>),
}

/// The warm host of a watch session or a `run`. A check that the host cannot run is run in a
/// process instead (by the caller), never lost. It also keeps, per check library, the rustc
/// command that rebuilds it (see `replay`).
pub struct Hosting {
    kind: Kind,
    /// Set when the host failed to start: this session's checks then run in processes rather
    /// than pay for a failed start each time.
    given_up: AtomicBool,
    /// Why the host did not start, until it has been said (once).
    start_error: Mutex<Option<String>>,
    recordings: Store,
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

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hosting {
    /// Watch mode's hosting for `course`, when its package has the host program and the host is
    /// not turned off.
    pub fn for_course(course: &Course) -> Option<Hosting> {
        (Policy::from_env() != Policy::Nowhere && course.has_bin(HOST_BIN))
            .then(|| Hosting::new(course, Kind::Session(Mutex::new(None))))
    }

    /// `tensorlings run`'s hosting for `course`: the shared host, unless it is turned off for
    /// `run` (see [`WARM_HOST_VAR`]).
    pub fn shared_for_course(course: &Course) -> Option<Hosting> {
        (Policy::from_env() == Policy::Everywhere && course.has_bin(HOST_BIN))
            .then(|| Hosting::new(course, Kind::Shared(Mutex::new(None))))
    }

    fn new(course: &Course, kind: Kind) -> Hosting {
        Hosting {
            kind,
            given_up: AtomicBool::new(false),
            start_error: Mutex::new(None),
            recordings: Store::new(&course.root, &course.data_dir()),
        }
    }

    /// Runs `check` in the host started from `program` (the host as just built), starting the
    /// host first when there is none or it has died. On an error the host is dropped, so the
    /// next check starts a fresh one.
    pub fn run(&self, program: &Path, check: &HostedCheck<'_>) -> Result<Finished> {
        self.refuse_if_given_up()?;
        match &self.kind {
            Kind::Session(slot) => {
                let mut slot = self.session_started(slot, program)?;
                let result = slot.as_mut().expect("started").run(check);
                if result.is_err() {
                    *slot = None;
                }
                result
            }
            Kind::Shared(slot) => {
                let mut slot = self.shared_for(slot, program)?;
                let host = slot.as_mut().expect("made");
                let connection = host.connect().inspect_err(|error| self.give_up(error))?;
                host.run(connection, check).inspect_err(|error| {
                    // A host that failed mid-check (stopped, stuck, killed) would fail the
                    // next run too: it goes, and the next run starts a fresh one.
                    host.discard();
                    self.give_up(error);
                })
            }
        }
    }

    /// Starts the host now, if it is not running, so that the next check finds it ready. Watch
    /// mode's host is started here and waited for (call it on a thread); the shared host is
    /// started in the background, without waiting.
    pub fn start(&self, program: &Path) -> Result<()> {
        self.refuse_if_given_up()?;
        match &self.kind {
            Kind::Session(slot) => self.session_started(slot, program).map(drop),
            Kind::Shared(slot) => {
                let mut slot = self.shared_for(slot, program)?;
                slot.as_mut().expect("made").start().inspect_err(|error| self.give_up(error))
            }
        }
    }

    /// Whether this is `run`'s shared host, which [`Self::start`] starts without waiting.
    pub fn is_shared(&self) -> bool {
        matches!(self.kind, Kind::Shared(_))
    }

    fn refuse_if_given_up(&self) -> Result<()> {
        if self.given_up.load(Ordering::Relaxed) {
            bail!("the check host did not start earlier in this session");
        }
        Ok(())
    }

    fn give_up(&self, error: &anyhow::Error) {
        self.given_up.store(true, Ordering::Relaxed);
        *locked(&self.start_error) = Some(format!("{error:#}"));
    }

    /// Watch mode's host, started from `program` unless the one running is that build.
    fn session_started<'a>(
        &self,
        slot: &'a Mutex<Option<WarmHost>>,
        program: &Path,
    ) -> Result<std::sync::MutexGuard<'a, Option<WarmHost>>> {
        let mut slot = locked(slot);
        if !slot.as_mut().is_some_and(|host| host.is_current(program)) {
            *slot = None;
            match WarmHost::start(program) {
                Ok(host) => *slot = Some(host),
                Err(error) => {
                    self.give_up(&error);
                    return Err(error);
                }
            }
        }
        Ok(slot)
    }

    /// The shared host of `program`.
    fn shared_for<'a>(
        &self,
        slot: &'a Mutex<Option<SharedHost>>,
        program: &Path,
    ) -> Result<std::sync::MutexGuard<'a, Option<SharedHost>>> {
        let mut slot = locked(slot);
        if slot.as_ref().is_none_or(|host| host.program() != program) {
            match SharedHost::for_program(program) {
                Ok(host) => *slot = Some(host),
                Err(error) => {
                    self.give_up(&error);
                    return Err(error);
                }
            }
        }
        Ok(slot)
    }

    /// Why the host did not start, the first time this is asked after it failed: it is said
    /// once, since every check is then slower.
    pub fn take_start_error(&self) -> Option<String> {
        locked(&self.start_error).take()
    }

    /// The host program and the rustc command that rebuilds `library`, while that is still
    /// valid.
    pub fn recorded(&self, library: &str) -> Option<(PathBuf, Recorded)> {
        self.recordings.load(library)
    }

    pub fn forget(&self, library: &str) {
        self.recordings.forget(library);
    }

    /// See [`Store::built_from`].
    pub fn built_from(&self, library: &str, subject: &[u8], color: bool) -> Option<String> {
        self.recordings.built_from(library, subject, color)
    }

    /// See [`Store::mark_built`].
    pub fn mark_built(&self, library: &str, subject: &[u8], diagnostics: &str, color: bool) {
        self.recordings.mark_built(library, subject, diagnostics, color);
    }

    /// Records, from cargo's verbose output, how `library` was compiled (when cargo compiled it
    /// in this build), and the host program.
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
            self.recordings.save(library, program, &recorded);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read() {
        assert_eq!(parse_answer("started 42\n").unwrap(), Answer::Started(42));
        assert_eq!(parse_answer("ended 256").unwrap(), Answer::Ended(256));
        assert_eq!(parse_answer("error 6869").unwrap(), Answer::Error("hi".into()));
        assert!(parse_answer("hello").is_err());
        assert!(parse_answer("started x").is_err());
    }
}
