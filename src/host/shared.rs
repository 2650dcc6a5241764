//! The shared host that `tensorlings run` uses: one per course (per build of its host program),
//! started detached by the first `run` that finds none, reached through a socket in a private
//! folder, and gone after a while without checks. Each `run` is a new process, so only a host
//! that outlives it can spare the next `run` libtorch's start.
//!
//! Its children do not share the runner's pipes, so each check gets named pipes of its own for
//! its output, made in a private temporary folder, and the runner's whole environment.

use std::ffi::CString;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Connection, HostedCheck, START_TIMEOUT};
use crate::exec::{self, Captured, Finished};

/// Where the shared hosts' sockets are, instead of `$XDG_RUNTIME_DIR/tensorlings` (or
/// `/tmp/tensorlings-UID`).
pub const DIR_VAR: &str = "TENSORLINGS_HOST_DIR";

/// How many seconds a shared host waits for its next check before it exits.
pub const IDLE_VAR: &str = "TENSORLINGS_HOST_IDLE";

/// Ten minutes: a learner who reads an error, edits and runs again finds the host still there,
/// and a forgotten one gives its memory back soon enough.
const DEFAULT_IDLE_SECS: u64 = 600;

/// The environment variables that shape a host process itself (what libtorch, OpenMP and the
/// dynamic loader read when it starts), as name prefixes. A run whose values differ gets a host
/// of its own; every other variable reaches the check through its request.
const HOST_SHAPING_PREFIXES: &[&str] = &[
    "LD_",
    "DYLD_",
    "OMP_",
    "GOMP_",
    "KMP_",
    "MKL_",
    "OPENBLAS_",
    "TORCH_",
    "PYTORCH_",
    "CUDA_",
    "CUBLAS_",
    "CUDNN_",
    "NCCL_",
    "NVIDIA_",
];

/// The shared host of one host program, as this run sees it.
pub struct SharedHost {
    socket: PathBuf,
    log: PathBuf,
    program: PathBuf,
    /// The host this run started, until it is connected to.
    spawned: Option<Child>,
    /// A connection [`Self::start`] made to a running host, kept for the check.
    ready: Option<UnixStream>,
    /// The pid of the host this run connected to.
    peer: Option<u32>,
}

impl SharedHost {
    /// The shared host for `program` (it may not be running yet).
    pub(super) fn for_program(program: &Path) -> Result<SharedHost> {
        let dir = private_dir()?;
        let key = key_of(program, std::env::vars_os(), &resource_limits())?;
        let socket = dir.join(format!("host-{key}.sock"));
        // The limit of a socket's path (108 bytes with its NUL on Linux).
        if socket.as_os_str().len() > 100 {
            bail!("the socket path {} is too long; set {DIR_VAR} to a shorter folder", socket.display());
        }
        Ok(SharedHost {
            log: dir.join(format!("host-{key}.log")),
            socket,
            program: program.to_path_buf(),
            spawned: None,
            ready: None,
            peer: None,
        })
    }

    /// Starts the host unless one answers on its socket; does not wait for it.
    pub(super) fn start(&mut self) -> Result<()> {
        if self.spawned.is_some() || self.ready.is_some() {
            return Ok(());
        }
        // Every connection costs the host a session: this one serves the check.
        if let Ok(stream) = UnixStream::connect(&self.socket) {
            self.ready = Some(stream);
            return Ok(());
        }
        if let Some(dir) = self.socket.parent() {
            sweep_leftovers(dir, &self.socket);
        }
        let idle = idle_secs()?;
        let log = File::create(&self.log).with_context(|| format!("cannot create {}", self.log.display()))?;
        let mut command = Command::new(&self.program);
        command
            .arg("--listen")
            .arg(&self.socket)
            .args(["--idle", &idle.to_string()])
            // Not the course: a host that outlives the run must not keep its folder busy.
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cannot share the host's log")?)
            .stderr(log);
        // SAFETY: setsid is async-signal-safe. A session of its own: the host outlives this run
        // and its terminal, and no key or hang-up meant for them reaches it.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = command.spawn().with_context(|| format!("cannot start {}", self.program.display()))?;
        self.spawned = Some(child);
        Ok(())
    }

    pub(super) fn program(&self) -> &Path {
        &self.program
    }

    /// Connects to the host, starting it first if none answers, and waits for it up to
    /// [`START_TIMEOUT`].
    pub(super) fn connect(&mut self) -> Result<Connection> {
        let stream = self.connected()?;
        self.peer = peer_pid(&stream);
        Connection::new(stream)
    }

    fn connected(&mut self) -> Result<UnixStream> {
        if let Some(stream) = self.ready.take() {
            return Ok(stream);
        }
        let started = Instant::now();
        let mut starts = 0;
        loop {
            if let Some(stream) = self.ready.take() {
                return Ok(stream);
            }
            if let Ok(stream) = UnixStream::connect(&self.socket) {
                // The host is ready: the one this run spawned is no longer this run's concern.
                self.spawned = None;
                return Ok(stream);
            }
            if let Some(child) = &mut self.spawned
                && let Some(status) = child.try_wait().context("cannot wait for the check host")?
            {
                self.spawned = None;
                // Exit 0: another host held the socket and was leaving; start again, once.
                if !status.success() || starts > 1 {
                    let said = std::fs::read_to_string(&self.log).unwrap_or_default();
                    let said = match said.trim() {
                        "" => format!("its log, {}, is empty", self.log.display()),
                        said => said.to_string(),
                    };
                    bail!("the check host exited with {status} before it was ready: {said}");
                }
            }
            if self.spawned.is_none() {
                self.start()?;
                starts += 1;
            }
            if started.elapsed() > START_TIMEOUT {
                bail!("the check host did not start within {} s", START_TIMEOUT.as_secs());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Ends the host this run connected to and removes its socket, after it failed: the next
    /// run starts a fresh one instead of failing the same way.
    pub(super) fn discard(&mut self) {
        if let Some(pid) = self.peer.take() {
            // Only the host of this socket: its command line names it.
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let socket = self.socket.as_os_str().as_bytes();
            if cmdline.windows(socket.len()).any(|window| window == socket) {
                // SAFETY: kill(2) of the host process, checked just above.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        let _ = std::fs::remove_file(&self.socket);
    }

    /// Runs one check in a child of the shared host, on a `connection` from [`Self::connect`],
    /// under `check.limits`. An error means the host failed (not the check): the caller checks
    /// in a process instead.
    pub(super) fn run(&mut self, mut connection: Connection, check: &HostedCheck<'_>) -> Result<Finished> {
        let pipes = OutputPipes::new(check.scratch)?;
        let mut request = check.request();
        // The check gets the runner's environment, as a check process would, not the host's
        // (which is the environment of whichever run started it).
        let mut env: Vec<(Vec<u8>, Vec<u8>)> = std::env::vars_os()
            .filter(|(name, _)| !check.env.iter().any(|(set, _)| set.as_bytes() == name.as_bytes()))
            .filter(|(name, _)| !check.unset.iter().any(|unset| unset.as_bytes() == name.as_bytes()))
            .map(|(name, value)| (name.as_bytes().to_vec(), value.as_bytes().to_vec()))
            .collect();
        env.append(&mut request.env);
        request.env = env;
        request.unset.clear();
        request.clear_env = true;
        request.stdout = pipes.stdout.path.as_os_str().as_bytes().to_vec();
        request.stderr = pipes.stderr.path.as_os_str().as_bytes().to_vec();
        let start = Instant::now();
        let ending = connection.run(&request, check.limits, start)?;
        let duration = start.elapsed();
        let (stdout, stderr) = pipes.finish();
        // Waits for the session to end, so that nothing of this run is left when it returns.
        connection.close();
        Ok(Finished { ending, stdout, stderr, duration })
    }
}

/// The pid of the process listening at the other end of `stream` (SO_PEERCRED), on Linux.
fn peer_pid(stream: &UnixStream) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut credentials = libc::ucred { pid: 0, uid: 0, gid: 0 };
        let mut length = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `length` bytes into `credentials`.
        let read = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&raw mut credentials).cast(),
                &mut length,
            )
        };
        (read == 0 && credentials.pid > 0).then_some(credentials.pid as u32)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        None
    }
}

/// How long a new host waits for its next check, from [`IDLE_VAR`]: at least a second, so that
/// it serves the run that starts it.
fn idle_secs() -> Result<u64> {
    match std::env::var(IDLE_VAR) {
        Err(_) => Ok(DEFAULT_IDLE_SECS),
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(secs) => Ok(secs.max(1)),
            Err(_) => bail!("{IDLE_VAR} must be a whole number of seconds, not `{value}`"),
        },
    }
}

/// The resource limits of this process (`ulimit`), which a host passes on to its checks: a run
/// under other limits needs a host of its own.
fn resource_limits() -> Vec<(u64, u64)> {
    [
        libc::RLIMIT_CPU,
        libc::RLIMIT_FSIZE,
        libc::RLIMIT_DATA,
        libc::RLIMIT_STACK,
        libc::RLIMIT_CORE,
        libc::RLIMIT_RSS,
        libc::RLIMIT_NPROC,
        libc::RLIMIT_NOFILE,
        libc::RLIMIT_MEMLOCK,
        libc::RLIMIT_AS,
    ]
    .into_iter()
    .map(|resource| {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes one rlimit.
        unsafe { libc::getrlimit(resource, &mut limit) };
        // rlim_t is u64 here, not on every platform.
        #[allow(clippy::unnecessary_cast)]
        (limit.rlim_cur as u64, limit.rlim_max as u64)
    })
    .collect()
}

/// The private folder of the shared hosts' sockets: created with mode 0700, and refused when
/// another user owns it or can enter it (anyone who can reach a socket can run code as its host).
fn private_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os(DIR_VAR) {
        // Absolute: the host works in `/`.
        Some(dir) if !dir.is_empty() => {
            std::path::absolute(&dir).with_context(|| format!("{DIR_VAR}: cannot make {dir:?} absolute"))?
        }
        _ => match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(runtime) if !runtime.is_empty() && runtime.len() < 48 => {
                PathBuf::from(runtime).join("tensorlings")
            }
            // SAFETY: getuid cannot fail.
            _ => PathBuf::from(format!("/tmp/tensorlings-{}", unsafe { libc::getuid() })),
        },
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let metadata =
        std::fs::symlink_metadata(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    if !metadata.is_dir() || metadata.uid() != uid || metadata.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} is not a folder that only you can enter: make it yours with mode 0700 (`chmod 700 {}`), or set {DIR_VAR}",
            dir.display(),
            dir.display()
        );
    }
    Ok(dir)
}

/// Removes what hosts that have ended left in `dir` (a socket nobody listens on after a kill,
/// the lock, the log), except the files of `keep`, whose host is about to start. A host holds its
/// lock for as long as it runs, so a lock that can be taken has no host.
fn sweep_leftovers(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let lock_path = entry.path();
        let Some(stem) =
            lock_path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".sock.lock"))
        else {
            continue;
        };
        let socket = dir.join(format!("{stem}.sock"));
        if !stem.starts_with("host-") || socket == keep {
            continue;
        }
        let Ok(lock) = File::options().write(true).open(&lock_path) else { continue };
        if lock.try_lock().is_ok() {
            for leftover in [socket, dir.join(format!("{stem}.log")), lock_path] {
                let _ = std::fs::remove_file(leftover);
            }
        }
    }
}

/// The name of a host: its program (path and build), the variables that shape a host process and
/// the resource limits it passes on.
fn key_of(
    program: &Path,
    env: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    limits: &[(u64, u64)],
) -> Result<String> {
    let metadata =
        std::fs::metadata(program).with_context(|| format!("cannot read {}", program.display()))?;
    let mut hasher = sha1_smol::Sha1::new();
    hasher.update(program.as_os_str().as_bytes());
    hasher.update(
        format!("\0{}\0{}\0{}\0", metadata.len(), metadata.mtime(), metadata.mtime_nsec()).as_bytes(),
    );
    let mut shaping: Vec<_> = env
        .filter(|(name, _)| {
            let name = name.to_string_lossy();
            HOST_SHAPING_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        })
        .collect();
    shaping.sort();
    for (name, value) in shaping {
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
        hasher.update(b"\0");
    }
    for (soft, hard) in limits {
        hasher.update(format!("{soft}/{hard}\0").as_bytes());
    }
    Ok(hasher.digest().to_string()[..16].to_string())
}

/// A named pipe the check writes to and the runner reads.
struct NamedPipe {
    path: PathBuf,
    captured: Receiver<Captured>,
    /// A write end the runner holds until the check has ended: without it, the reader would see
    /// the end of the pipe before the child has opened it.
    keeper: File,
}

impl NamedPipe {
    fn new(path: PathBuf) -> Result<NamedPipe> {
        let name = CString::new(path.as_os_str().as_bytes()).context("a NUL byte in a temporary path")?;
        // SAFETY: a valid C string.
        if unsafe { libc::mkfifo(name.as_ptr(), 0o600) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("cannot make {}", path.display()));
        }
        // Opening the read end without O_NONBLOCK would wait for a writer.
        let reader = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let keeper = File::options()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        blocking(&reader)?;
        Ok(NamedPipe { path, captured: exec::capture(reader), keeper })
    }

    /// What the check wrote, once it has ended.
    fn finish(self) -> Captured {
        drop(self.keeper);
        // As for a check process: a process that left the check's group could hold the pipe.
        self.captured.recv_timeout(Duration::from_secs(2)).unwrap_or_else(|_| exec::empty())
    }
}

fn blocking(file: &File) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own.
    let cleared = unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
    };
    if !cleared {
        return Err(std::io::Error::last_os_error()).context("cannot configure a named pipe");
    }
    Ok(())
}

/// The check's standard output and error, as named pipes (mode 0600) in the check's own
/// temporary folder.
struct OutputPipes {
    stdout: NamedPipe,
    stderr: NamedPipe,
}

impl OutputPipes {
    fn new(dir: &Path) -> Result<OutputPipes> {
        Ok(OutputPipes {
            stdout: NamedPipe::new(dir.join("stdout"))?,
            stderr: NamedPipe::new(dir.join("stderr"))?,
        })
    }

    fn finish(self) -> (Captured, Captured) {
        (self.stdout.finish(), self.stderr.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (OsString, OsString)> {
        pairs.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn a_host_is_named_by_its_program_and_the_variables_that_shape_it() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("tensorlings_host");
        std::fs::write(&program, "v1").unwrap();
        let key = |pairs: &[(&str, &str)]| key_of(&program, vars(pairs), &[(8 << 20, u64::MAX)]).unwrap();
        let base = key(&[("OMP_NUM_THREADS", "2"), ("TERM", "xterm")]);
        assert_eq!(base.len(), 16);
        // A variable a check reads through its request does not need a host of its own.
        assert_eq!(base, key(&[("TERM", "dumb"), ("OMP_NUM_THREADS", "2"), ("RUST_BACKTRACE", "1")]));
        assert_ne!(base, key(&[("OMP_NUM_THREADS", "1"), ("TERM", "xterm")]));
        assert_ne!(base, key(&[("OMP_NUM_THREADS", "2"), ("LD_PRELOAD", "/x.so")]));
        // So do other resource limits (`ulimit -s`), which the checks inherit from the host.
        let limits = [(200 << 20, u64::MAX)];
        assert_ne!(
            base,
            key_of(&program, vars(&[("OMP_NUM_THREADS", "2"), ("TERM", "xterm")]), &limits).unwrap()
        );
        // A rebuilt program is another host.
        std::fs::write(&program, "version 2").unwrap();
        assert_ne!(base, key(&[("OMP_NUM_THREADS", "2"), ("TERM", "xterm")]));
    }

    #[test]
    fn the_files_of_ended_hosts_are_swept_but_not_those_of_a_running_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| dir.path().join(name);
        for name in
            ["host-a.sock", "host-a.sock.lock", "host-a.log", "host-b.sock", "host-b.sock.lock", "host-b.log"]
        {
            std::fs::write(file(name), "").unwrap();
        }
        for name in ["host-c.sock.lock", "host-c.log", "notes.txt"] {
            std::fs::write(file(name), "").unwrap();
        }
        // b's host is running: it holds its lock.
        let held = File::options().write(true).open(file("host-b.sock.lock")).unwrap();
        held.lock().unwrap();
        sweep_leftovers(dir.path(), &file("host-c.sock"));
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["host-b.log", "host-b.sock", "host-b.sock.lock", "host-c.log", "host-c.sock.lock", "notes.txt"]
        );
    }

    #[test]
    fn a_named_pipe_carries_what_a_writer_wrote_and_ends_when_the_runner_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let pipes = OutputPipes::new(dir.path()).unwrap();
        let mut writer = File::options().write(true).open(&pipes.stdout.path).unwrap();
        std::io::Write::write_all(&mut writer, b"from the check\n").unwrap();
        drop(writer);
        let (stdout, stderr) = pipes.finish();
        assert_eq!(stdout.text(), "from the check\n");
        assert_eq!(stderr.text(), "");
    }
}
