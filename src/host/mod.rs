//! The runner's side of the warm check host (the course's `tensorlings_host` program, built on
//! `support/src/host.rs`): hands it one check at a time and limits each check's forked child
//! exactly as `exec` limits a check process. Watch mode starts a host of its own
//! (`session`); `tensorlings run` uses one that outlives it (`shared`).
//!
//! The host is an optimisation, never a requirement: every error here is returned to the
//! caller, which checks the exercise in a process of its own.

mod session;
mod shared;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
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
use crate::replay::Store;
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
    /// Why the host failed (it did not start, or a shared one stopped answering), until it has
    /// been said (once).
    error: Mutex<Option<String>>,
    recordings: Store,
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
            error: Mutex::new(None),
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

    /// Starts the shared host, without waiting, unless it is running: it then loads libtorch
    /// while the check library is built. (Watch mode starts its own host when it starts.)
    pub fn start_in_background(&self, program: &Path) {
        if let Kind::Shared(_) = self.kind {
            let _ = self.start(program);
        }
    }

    fn refuse_if_given_up(&self) -> Result<()> {
        if self.given_up.load(Ordering::Relaxed) {
            bail!("the check host did not start earlier in this session");
        }
        Ok(())
    }

    fn give_up(&self, error: &anyhow::Error) {
        self.given_up.store(true, Ordering::Relaxed);
        *locked(&self.error) = Some(format!("{error:#}"));
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

    /// Why the host failed, the first time this is asked after it failed: it is said once,
    /// since every check is then slower.
    pub fn take_error(&self) -> Option<String> {
        locked(&self.error).take()
    }

    /// The rustc recordings of the course's check libraries (see `replay`).
    pub fn recordings(&self) -> &Store {
        &self.recordings
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
