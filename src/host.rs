//! The runner's side of the warm check host (the course's `tensorlings_host` program, built on
//! `support/src/host.rs`): starts it, hands it one check at a time and limits each check's
//! forked child exactly as `exec` limits a check process.
//!
//! The host is an optimisation of watch mode, never a requirement: every error here is returned
//! to the caller, which drops the host and checks the exercise in a process of its own.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

// The protocol's encoding is written once, in the support library's host; the runner uses its
// request type and hex helpers (the host's serving half is unused here).
#[path = "../support/src/host.rs"]
#[allow(dead_code)]
mod wire;

use crate::course::Course;
use crate::exec::{self, Captured, Finished, Limits};
use crate::info_file::ExerciseInfo;
use crate::replay::Recorded;

/// The name of the host program in the course package (course/host.rs).
pub const HOST_BIN: &str = "tensorlings_host";

/// How long the host may take to start and connect: it loads libtorch, which takes about a
/// second on a slow disk and far less when cached.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for the end marker once the child has ended: the host writes it before it
/// answers, so only a descendant that left the check's group could delay it.
const MARKER_WAIT: Duration = Duration::from_secs(2);

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
}

/// A running host.
pub struct WarmHost {
    child: Child,
    /// The program it was started from, and when that was built: a rebuilt host replaces it.
    program: (PathBuf, Option<std::time::SystemTime>),
    requests: UnixStream,
    answers: Receiver<Result<Answer>>,
    stdout: Receiver<Vec<u8>>,
    stderr: Receiver<Vec<u8>>,
    // Holds the socket's folder for the host's lifetime.
    _socket_dir: tempfile::TempDir,
}

impl WarmHost {
    /// Starts `program` (the built host) and waits until it has connected.
    pub fn start(program: &Path) -> Result<WarmHost> {
        // A socket's path has at most 107 bytes: under a long TMPDIR, /tmp instead.
        let base = std::env::temp_dir();
        let base = if base.as_os_str().len() > 64 { PathBuf::from("/tmp") } else { base };
        let socket_dir = tempfile::Builder::new()
            .prefix("tensorlings-host")
            .tempdir_in(&base)
            .with_context(|| format!("cannot create a folder for the host's socket in {}", base.display()))?;
        let socket_path = socket_dir.path().join("socket");
        let listener = UnixListener::bind(&socket_path)
            .with_context(|| format!("cannot listen on {}", socket_path.display()))?;
        listener.set_nonblocking(true).context("cannot make the host's socket non-blocking")?;
        let mut command = Command::new(program);
        command.arg(&socket_path).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // Its own group: keys and signals meant for the runner's terminal are not for it.
        exec::in_own_group(&mut command);
        let mut child = command.spawn().with_context(|| format!("cannot start {}", program.display()))?;
        let stdout = chunks(child.stdout.take().expect("stdout is piped"));
        let stderr = chunks(child.stderr.take().expect("stderr is piped"));
        let started = Instant::now();
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).context("cannot accept the host's connection"),
            }
            if let Some(status) = child.try_wait().context("cannot wait for the host")? {
                let said = drain(&stderr);
                bail!("the check host exited with {status} before it was ready: {}", said.trim());
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                bail!("the check host did not start within {} s", START_TIMEOUT.as_secs());
            }
            thread::sleep(Duration::from_millis(5));
        };
        stream.set_nonblocking(false).context("cannot configure the host's socket")?;
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
        let program = (program.to_path_buf(), built_at(program));
        Ok(WarmHost { child, program, requests: stream, answers, stdout, stderr, _socket_dir: socket_dir })
    }

    /// Whether the host process is still there to take a check, and is the build of `program`
    /// that is there now.
    pub fn is_current(&mut self, program: &Path) -> bool {
        matches!(self.child.try_wait(), Ok(None))
            && self.program == (program.to_path_buf(), built_at(program))
    }

    /// Runs one check in a forked child of the host, under `check.limits`. An error means the
    /// host itself failed (not the check): drop it and check in a process instead.
    pub fn run(&mut self, check: &HostedCheck<'_>) -> Result<Finished> {
        // Anything a previous check's stragglers wrote is not this check's output.
        drain(&self.stdout);
        drain(&self.stderr);
        let marker = end_marker()?;
        let request = wire::Request {
            lib: check.library.as_os_str().as_encoded_bytes().to_vec(),
            cwd: check.cwd.as_os_str().as_encoded_bytes().to_vec(),
            env: check.env.iter().map(|(k, v)| (k.clone().into_bytes(), v.clone().into_bytes())).collect(),
            unset: check.unset.iter().map(|k| k.clone().into_bytes()).collect(),
            secret: check.secret.to_vec(),
            marker: marker.clone(),
        };
        let start = Instant::now();
        self.requests.write_all(request.encode().as_bytes()).context("cannot send the check to the host")?;
        let pid = match self.answer(START_TIMEOUT)? {
            Answer::Started(pid) => pid,
            Answer::Error(message) => bail!("the check host could not start the check: {message}"),
            other => bail!("the check host answered {other:?} to a new check"),
        };
        exec::register(pid);
        let answers = &self.answers;
        // `supervise` also waits for the end of a child it killed (to reap it): the host's one
        // `ended` answer may come then, and must not be waited for again.
        let mut ended = false;
        let ending = exec::supervise(pid, start, check.limits, |wait| match answers.recv_timeout(wait) {
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
        let duration = start.elapsed();
        if !ended {
            // The child was killed and not yet reaped: the host answers once it is, after
            // marking its output.
            match self.answer(Duration::from_secs(5))? {
                Answer::Ended(_) => {}
                other => bail!("the check host answered {other:?} after a killed check"),
            }
        }
        let stdout = until_marker(&self.stdout, &marker).context("the host's output ended")?;
        let stderr = until_marker(&self.stderr, &marker).context("the host's error output ended")?;
        Ok(Finished { ending, stdout, stderr, duration })
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
}

impl Drop for WarmHost {
    fn drop(&mut self) {
        // Closing the socket ends a healthy host; a stuck one is killed with its group.
        let _ = self.requests.shutdown(std::net::Shutdown::Both);
        exec::kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

fn built_at(program: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(program).and_then(|m| m.modified()).ok()
}

/// A marker no check can print by chance or by design: it is made per check from the system's
/// random source and never shown to the check.
fn end_marker() -> Result<Vec<u8>> {
    let mut random = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .context("cannot read /dev/urandom")?;
    Ok(format!("tensorlings-check-ended-{}", wire::hex(&random)).into_bytes())
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

/// This check's output: what arrives before the host's `\nMARKER\n`, capped as `exec` caps a
/// process's output. Holds at most the cap plus a marker's length in memory, however much the
/// check printed.
fn until_marker(chunks: &Receiver<Vec<u8>>, marker: &[u8]) -> Result<Captured> {
    let marker = [b"\n".as_slice(), marker, b"\n"].concat();
    let mut captured = exec::empty();
    let mut pending: Vec<u8> = Vec::new();
    let deadline = Instant::now() + MARKER_WAIT;
    loop {
        let chunk = match chunks.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(chunk) => chunk,
            Err(RecvTimeoutError::Timeout) => bail!("no end marker within {} s", MARKER_WAIT.as_secs()),
            Err(RecvTimeoutError::Disconnected) => bail!("the host exited"),
        };
        pending.extend(chunk);
        if let Some(at) = pending.windows(marker.len()).position(|window| window == marker.as_slice()) {
            captured.keep(&pending[..at]);
            return Ok(captured);
        }
        // Everything but a possible start of the marker is output.
        let settled = pending.len().saturating_sub(marker.len() - 1);
        captured.keep(&pending[..settled]);
        pending.drain(..settled);
    }
}

/// The environment variable that turns the warm host off (`0`, `false`, `off` or `no`): every
/// check then runs in a process of its own, as in `verify`.
pub const WARM_HOST_VAR: &str = "TENSORLINGS_WARM_HOST";

/// The warm host of a watch session: started on first use, started again after it dies. A check
/// that the host cannot run is run in a process instead (by the caller), never lost. It also
/// keeps, per check library, the rustc command that rebuilds it (see `replay`).
pub struct Hosting {
    host: Mutex<Option<WarmHost>>,
    /// Set when the host failed to start: this session's checks then run in processes rather
    /// than pay for a failed start each time.
    given_up: std::sync::atomic::AtomicBool,
    /// Why the host did not start, until watch mode has said it (once).
    start_error: Mutex<Option<String>>,
    /// The host program as cargo last built it.
    program: Mutex<Option<PathBuf>>,
    recorded: Mutex<HashMap<String, Recorded>>,
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
    /// Hosting for `course`, when its package has the host program and it is not turned off.
    pub fn for_course(course: &Course) -> Option<Hosting> {
        let turned_off = std::env::var(WARM_HOST_VAR).is_ok_and(|value| {
            matches!(value.trim().to_ascii_lowercase().as_str(), "0" | "false" | "off" | "no")
        });
        if turned_off || !course.has_bin(HOST_BIN) {
            return None;
        }
        Some(Hosting {
            host: Mutex::new(None),
            given_up: std::sync::atomic::AtomicBool::new(false),
            start_error: Mutex::new(None),
            program: Mutex::new(None),
            recorded: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `check` in the host started from `program` (the host as just built), starting the
    /// host first when there is none or it has died. On an error the host is dropped, so the
    /// next check starts a fresh one.
    pub fn run(&self, program: &Path, check: &HostedCheck<'_>) -> Result<Finished> {
        let mut slot = self.started(program)?;
        let result = slot.as_mut().expect("started").run(check);
        if result.is_err() {
            *slot = None;
        }
        result
    }

    /// Starts the host now, if it is not running, so that the next check finds it ready.
    pub fn start(&self, program: &Path) -> Result<()> {
        *locked(&self.program) = Some(program.to_path_buf());
        self.started(program).map(drop)
    }

    /// The host, started from `program` unless the one running is that build.
    fn started(&self, program: &Path) -> Result<std::sync::MutexGuard<'_, Option<WarmHost>>> {
        use std::sync::atomic::Ordering;
        if self.given_up.load(Ordering::Relaxed) {
            bail!("the check host did not start earlier in this session");
        }
        let mut slot = locked(&self.host);
        if !slot.as_mut().is_some_and(|host| host.is_current(program)) {
            *slot = None;
            match WarmHost::start(program) {
                Ok(host) => *slot = Some(host),
                Err(error) => {
                    self.given_up.store(true, Ordering::Relaxed);
                    *locked(&self.start_error) = Some(format!("{error:#}"));
                    return Err(error);
                }
            }
        }
        Ok(slot)
    }

    /// Why the host did not start, the first time this is asked after it failed: watch mode
    /// says it once, since every check is then slower.
    pub fn take_start_error(&self) -> Option<String> {
        locked(&self.start_error).take()
    }

    /// The host program, once cargo has built it in this session.
    pub fn program(&self) -> Option<PathBuf> {
        locked(&self.program).clone()
    }

    /// The rustc command that rebuilds `library`, while it is still valid.
    pub fn recorded(&self, library: &str) -> Option<Recorded> {
        locked(&self.recorded).get(library).filter(|recorded| recorded.is_current()).cloned()
    }

    pub fn forget(&self, library: &str) {
        locked(&self.recorded).remove(library);
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
        *locked(&self.program) = Some(program.to_path_buf());
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
            locked(&self.recorded).insert(library.to_string(), recorded);
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

    fn sent(parts: &[&[u8]]) -> Receiver<Vec<u8>> {
        let (sender, receiver) = mpsc::channel();
        for part in parts {
            sender.send(part.to_vec()).unwrap();
        }
        receiver
    }

    #[test]
    fn output_ends_at_the_marker_even_when_it_is_split() {
        let chunks = sent(&[b"hello\nwor", b"ld\n", b"MA", b"RK\nnext"]);
        let captured = until_marker(&chunks, b"MARK").unwrap();
        assert_eq!(captured.text(), "hello\nworld");
    }

    #[test]
    fn a_flood_is_capped_and_counted() {
        let flood = vec![b'x'; exec::OUTPUT_CAP + 100];
        let chunks = sent(&[&flood, b"\nMARK\n"]);
        let captured = until_marker(&chunks, b"MARK").unwrap();
        assert_eq!((captured.bytes.len(), captured.dropped), (exec::OUTPUT_CAP, 100));
    }

    #[test]
    fn a_missing_marker_is_an_error() {
        let (sender, receiver) = mpsc::channel::<Vec<u8>>();
        sender.send(b"no marker".to_vec()).unwrap();
        drop(sender);
        assert!(until_marker(&receiver, b"MARK").is_err());
    }
}
