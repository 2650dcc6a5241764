//! The warm check host: a process that already holds libtorch and forks a child per check, which
//! loads the freshly built check library and runs it (docs/check-protocol.md, "The warm host").
//!
//! Starting a process that links libtorch costs 0.25-0.4 s, most of a save's feedback time. The
//! host pays it once; each check then costs a `fork` and a `dlopen` of a small library (a few
//! ms). Because every check runs in its own forked child, a check is as isolated as in its own
//! process: a crash, a hang, an abort or state left behind (grad mode, seeds, a tensor kept in a
//! static) dies with the child, no library is ever loaded into the host itself, and the runner
//! limits the child (timeout, memory, output) exactly as it limits a check process.
//!
//! The host must stay single-threaded and must not run libtorch operators (a thread pool created
//! before `fork` would not exist in the child). It depends on std alone, so that the test
//! fixture course can build it without libtorch.
//!
//! The host runs in one of two ways (see [`main_with_args`]):
//! - **a session's host** (`tensorlings_host SOCKET`): watch mode starts it and listens on SOCKET;
//!   the host connects, serves that one connection and exits when the runner closes it;
//! - **a shared host** (`tensorlings_host --listen SOCKET --idle SECS`): `tensorlings run` starts
//!   it, detached, the first time it finds none. It listens on SOCKET, forks a session per
//!   connection (so concurrent runs do not wait for each other) and exits once it has served no
//!   connection for SECS seconds, or when its program was rebuilt.
//!
//! Protocol, on the socket. The runner writes one request per check, a line each: `lib HEX`,
//! `cwd HEX`, `env HEXNAME HEXVALUE`, `unset HEXNAME`, `secret HEX`, `marker HEX`, and, from a
//! runner that does not share the host's output pipes, `stdout HEXPATH`, `stderr HEXPATH` (named
//! pipes the child writes to) and `clearenv` (the child starts from an empty environment, so that
//! it gets the runner's, not the host's), then `run`. The host answers `started PID`, then, when
//! the child has ended, writes the marker to its standard output and standard error (which the
//! children of a session's host share) and answers `ended STATUS` (the raw wait status).
//! `error HEX` answers a request it cannot carry out. End of input ends the session; a runner
//! that goes away during a check takes the check with it.

use std::ffi::{CString, OsStr, OsString, c_char, c_int, c_void};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The entry point a check library exports: it runs the checks and returns the exit code.
pub const ENTRY_SYMBOL: &str = "tensorlings_hosted_check";

/// The exit code of a child that could not load its check library (as a shell's for a command
/// it cannot run): the runner tells it apart from a check's own codes.
pub const LOAD_FAILED: i32 = 127;

mod sys {
    use std::ffi::{c_char, c_int, c_short, c_void};

    #[repr(C)]
    pub struct PollFd {
        pub fd: c_int,
        pub events: c_short,
        pub revents: c_short,
    }

    #[link(name = "dl")]
    unsafe extern "C" {
        pub fn fork() -> c_int;
        pub fn setpgid(pid: c_int, pgid: c_int) -> c_int;
        pub fn dup2(old: c_int, new: c_int) -> c_int;
        pub fn close(fd: c_int) -> c_int;
        pub fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
        pub fn kill(pid: c_int, signal: c_int) -> c_int;
        pub fn _exit(code: c_int) -> !;
        pub fn dlopen(file: *const c_char, mode: c_int) -> *mut c_void;
        pub fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void;
        pub fn dlerror() -> *const c_char;
        pub fn poll(fds: *mut PollFd, count: NFds, timeout_ms: c_int) -> c_int;
        pub fn recv(fd: c_int, buffer: *mut c_void, length: usize, flags: c_int) -> isize;
    }

    #[cfg(target_os = "linux")]
    pub type NFds = std::ffi::c_ulong;
    #[cfg(not(target_os = "linux"))]
    pub type NFds = std::ffi::c_uint;

    pub const RTLD_NOW: c_int = 2;
    pub const SIGKILL: c_int = 9;
    pub const WNOHANG: c_int = 1;
    pub const POLLIN: c_short = 1;
    pub const MSG_PEEK: c_int = 2;
}

/// One check to run, as the runner asked for it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub lib: Vec<u8>,
    pub cwd: Vec<u8>,
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
    pub unset: Vec<Vec<u8>>,
    pub secret: Vec<u8>,
    pub marker: Vec<u8>,
    /// Named pipes for the child's standard output and error; empty: the host's own.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Whether the child starts from an empty environment (before `env` and `unset`).
    pub clear_env: bool,
}

impl Request {
    /// The request as lines of the protocol, ending with `run`.
    pub fn encode(&self) -> String {
        let mut text = format!("lib {}\ncwd {}\n", hex(&self.lib), hex(&self.cwd));
        for (name, value) in &self.env {
            text.push_str(&format!("env {} {}\n", hex(name), hex(value)));
        }
        for name in &self.unset {
            text.push_str(&format!("unset {}\n", hex(name)));
        }
        if !self.stdout.is_empty() {
            text.push_str(&format!("stdout {}\n", hex(&self.stdout)));
        }
        if !self.stderr.is_empty() {
            text.push_str(&format!("stderr {}\n", hex(&self.stderr)));
        }
        if self.clear_env {
            text.push_str("clearenv\n");
        }
        text.push_str(&format!("secret {}\nmarker {}\nrun\n", hex(&self.secret), hex(&self.marker)));
        text
    }

    /// Reads lines up to `run`. `Ok(None)` at the end of input before any line.
    pub fn read(input: &mut impl BufRead) -> Result<Option<Request>, String> {
        let mut request = Request::default();
        let mut any = false;
        loop {
            let mut line = String::new();
            match input.read_line(&mut line) {
                Ok(0) if !any => return Ok(None),
                Ok(0) => return Err("the request ended before `run`".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("cannot read the request: {e}")),
            }
            any = true;
            // Split on single spaces: an empty value is an empty word.
            let mut words = line.trim_end_matches(['\n', '\r']).split(' ');
            let keyword = words.next().unwrap_or("");
            let mut field = || -> Result<Vec<u8>, String> {
                unhex(words.next().ok_or_else(|| format!("`{keyword}` lacks a value"))?)
            };
            match keyword {
                "lib" => request.lib = field()?,
                "cwd" => request.cwd = field()?,
                "env" => {
                    let name = field()?;
                    request.env.push((name, field()?));
                }
                "unset" => request.unset.push(field()?),
                "secret" => request.secret = field()?,
                "marker" => request.marker = field()?,
                "stdout" => request.stdout = field()?,
                "stderr" => request.stderr = field()?,
                "clearenv" => request.clear_env = true,
                "run" => return Ok(Some(request)),
                other => return Err(format!("unknown request line `{other}`")),
            }
        }
    }
}

/// Lower-case hex of `bytes`: paths and values of any content fit on one line.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string, as [`hex`] writes it.
pub fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd-length hex `{text}`"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| format!("bad hex `{text}`")))
        .collect()
}

/// The host's `main` once libtorch is loaded: a session's host (`SOCKET`) or a shared host
/// (`--listen SOCKET --idle SECS`), as the runner starts it.
pub fn main_with_args() -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [socket] if !socket.starts_with('-') => serve(socket),
        ["--listen", socket, "--idle", secs] => match secs.parse::<u64>() {
            Ok(secs) => listen(Path::new(socket), Duration::from_secs(secs)),
            Err(_) => usage(&format!("--idle takes whole seconds, not `{secs}`")),
        },
        _ => usage("unexpected arguments"),
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "tensorlings_host: {problem}. The tensorlings runner starts this program, as \
         `tensorlings_host SOCKET` (watch mode) or `tensorlings_host --listen SOCKET --idle SECS` \
         (`tensorlings run`)"
    );
    std::process::exit(2)
}

/// Serves requests on the socket at `path` until the runner closes it, then exits. Call it from
/// `main` once libtorch is loaded (the host binary links it, and touches it without starting
/// threads).
pub fn serve(path: &str) -> ! {
    let served =
        UnixStream::connect(path).map_err(|e| format!("cannot connect to {path}: {e}")).and_then(serve_on);
    std::process::exit(exit_code(served))
}

/// 0, or 1 once the host's error is told on its standard error (the runner shows it).
fn exit_code(result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("tensorlings host: {message}");
            1
        }
    }
}

/// The shared host: listens on `socket`, forks a session per connection, and exits once no
/// session has run for `idle`, once its own program has been rebuilt (a newer host then serves
/// under another socket name), or once its socket file is removed. At most one host listens on
/// a socket: it holds a lock on `SOCKET.lock` for its lifetime, and a second one started for
/// the same socket exits as soon as the first answers (or after 5 s, if the first never lets go).
pub fn listen(socket: &Path, idle: Duration) -> ! {
    std::process::exit(exit_code(listen_until_idle(socket, idle)))
}

fn listen_until_idle(socket: &Path, idle: Duration) -> Result<(), String> {
    let mut lock_path = socket.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", Path::new(&lock_path).display()))?;
    // Another host holds the lock: it serves the socket, or is about to exit (it removes the
    // socket first). Wait out the second case only.
    let waiting = Instant::now();
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                if UnixStream::connect(socket).is_ok() || waiting.elapsed() > Duration::from_secs(5) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", socket.display()));
            }
        }
    }
    // A socket file left by a host that was killed: nobody listens on it any more.
    let _ = std::fs::remove_file(socket);
    let listener =
        UnixListener::bind(socket).map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    // The socket file as bound: once it is gone or replaced, no runner can reach this host.
    let bound = socket_identity(socket);
    let program = std::env::current_exe().ok();
    let built = program.as_deref().and_then(modified);
    let mut sessions = 0usize;
    let mut last_seen = Instant::now();
    loop {
        loop {
            let mut status: c_int = 0;
            // SAFETY: reaps our own children, the sessions.
            let pid = unsafe { sys::waitpid(-1, &mut status, sys::WNOHANG) };
            if pid <= 0 {
                break;
            }
            sessions = sessions.saturating_sub(1);
            last_seen = Instant::now();
        }
        if socket_identity(socket) != bound {
            // Someone removed the socket: a new host will be started under the same name, and
            // this one must give it the lock.
            return Ok(());
        }
        let rebuilt = program.as_deref().is_some_and(|program| modified(program) != built);
        if rebuilt || (sessions == 0 && last_seen.elapsed() >= idle) {
            // No new connection from here on; sessions still running finish on their own.
            let _ = std::fs::remove_file(socket);
            return Ok(());
        }
        let wait =
            idle.saturating_sub(last_seen.elapsed()).clamp(Duration::from_millis(10), Duration::from_secs(1));
        if !readable(listener.as_raw_fd(), wait) {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else { continue };
        last_seen = Instant::now();
        // SAFETY: the host is single-threaded (see the module's documentation).
        let pid = unsafe { sys::fork() };
        if pid == 0 {
            // The session: it must not hold the listener (or the lock, which would outlive the
            // host in a check that escaped its group).
            drop(listener);
            drop(lock);
            let code = exit_code(serve_on(stream));
            // SAFETY: ends the session without the host's exit handlers (see `child_runs`).
            unsafe { sys::_exit(code) }
        }
        if pid > 0 {
            sessions += 1;
        }
    }
}

/// The device and inode of the file at `path`, if there is one.
fn socket_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether `fd` has something to read (or has reached its end) within `wait`.
fn readable(fd: c_int, wait: Duration) -> bool {
    let mut poll = sys::PollFd { fd, events: sys::POLLIN, revents: 0 };
    let timeout_ms = c_int::try_from(wait.as_millis()).unwrap_or(c_int::MAX);
    // SAFETY: one valid pollfd.
    unsafe { sys::poll(&mut poll, 1, timeout_ms) > 0 && poll.revents != 0 }
}

fn serve_on(stream: UnixStream) -> Result<(), String> {
    let mut replies = stream.try_clone().map_err(|e| format!("cannot clone the socket: {e}"))?;
    let control = [stream.as_raw_fd(), replies.as_raw_fd()];
    let mut requests = BufReader::new(stream);
    while let Some(request) = Request::read(&mut requests)? {
        let reply = match run_child(&request, &control, &mut replies) {
            Ok(status) => {
                // The child and everything it started are gone: what they wrote is in the pipes,
                // and the marker tells the runner where this check's output ends. (A child with
                // pipes of its own needs none.)
                if !request.marker.is_empty() {
                    let marker = [b"\n".as_slice(), &request.marker, b"\n"].concat();
                    let mut stdout = std::io::stdout().lock();
                    let _ = stdout.write_all(&marker).and_then(|_| stdout.flush());
                    let _ = std::io::stderr().lock().write_all(&marker);
                }
                format!("ended {status}\n")
            }
            Err(message) => format!("error {}\n", hex(message.as_bytes())),
        };
        replies.write_all(reply.as_bytes()).map_err(|e| format!("cannot answer the runner: {e}"))?;
    }
    Ok(())
}

/// Whether the runner has closed its end of the socket (it exited, or was killed, during a
/// check), waiting up to `wait` for a sign of it.
fn runner_gone(socket: &UnixStream, wait: Duration) -> bool {
    if !readable(socket.as_raw_fd(), wait) {
        return false;
    }
    let mut byte = 0u8;
    // SAFETY: peeks one byte into `byte`; poll said it would not block.
    let peeked = unsafe { sys::recv(socket.as_raw_fd(), (&raw mut byte).cast(), 1, sys::MSG_PEEK) };
    match peeked {
        ..=0 => true,
        // A request sent before this one was answered (no runner does that): not a hang-up.
        _ => {
            std::thread::sleep(wait);
            false
        }
    }
}

/// Forks the child that runs `request`, answers `started PID` on `replies`, and returns the
/// child's wait status. `control` are the socket's descriptors, which the child must not hold.
fn run_child(request: &Request, control: &[c_int], replies: &mut UnixStream) -> Result<c_int, String> {
    let to_c =
        |bytes: &[u8]| CString::new(bytes.to_vec()).map_err(|_| "a NUL byte in the request".to_string());
    let lib = to_c(&request.lib)?;
    // Made before the fork, so that the child allocates nothing before it runs the check.
    let setting = Setting {
        cwd: os(&request.cwd),
        env: request.env.iter().map(|(name, value)| (os(name), os(value))).collect(),
        unset: request.unset.iter().map(|name| os(name)).collect(),
        clear_env: request.clear_env,
        stdout: (!request.stdout.is_empty()).then(|| PathBuf::from(os(&request.stdout))),
        stderr: (!request.stderr.is_empty()).then(|| PathBuf::from(os(&request.stderr))),
    };
    let (secret_reader, mut secret_writer) =
        std::io::pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    secret_writer.write_all(&request.secret).map_err(|e| format!("cannot write the secret: {e}"))?;
    drop(secret_writer);

    // SAFETY: the host is single-threaded (see the module's documentation), so the child may run
    // any code after the fork.
    let pid = unsafe { sys::fork() };
    if pid < 0 {
        return Err(format!("cannot fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: in the child, before any check code; the descriptors are ours. Learner code
        // must not reach the socket, where it could answer in the host's name.
        unsafe {
            sys::setpgid(0, 0);
            for &fd in control {
                sys::close(fd);
            }
            sys::dup2(secret_reader.as_raw_fd(), 0);
        }
        drop(secret_reader);
        child_runs(&lib, &setting)
    }
    drop(secret_reader);
    // Both sides set the group, so the runner never sees a pid whose group does not exist yet.
    // SAFETY: plain system calls on our own child.
    unsafe { sys::setpgid(pid, pid) };
    if let Err(e) = replies.write_all(format!("started {pid}\n").as_bytes()) {
        // SAFETY: as above.
        unsafe { sys::kill(-pid, sys::SIGKILL) };
        return Err(format!("cannot answer the runner: {e}"));
    }
    let mut status: c_int = 0;
    let mut abandoned = false;
    loop {
        // SAFETY: waits for our own child.
        let waited = unsafe { sys::waitpid(pid, &mut status, sys::WNOHANG) };
        if waited == pid {
            break;
        }
        if waited < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("cannot wait for the check: {error}"));
            }
        }
        // A runner that went away cannot stop its check any more: the host does, rather than
        // leave it running (or stuck opening an output pipe nobody reads) for good.
        if !abandoned && runner_gone(replies, Duration::from_millis(1)) {
            abandoned = true;
            // SAFETY: the group is the child's own.
            unsafe { sys::kill(-pid, sys::SIGKILL) };
        } else if abandoned {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Whatever the check started and left running goes with it, as when the runner ends a
    // check process's group.
    // SAFETY: the group is the child's own.
    unsafe { sys::kill(-pid, sys::SIGKILL) };
    Ok(status)
}

/// Where and how the child runs its check: what the request asked for.
struct Setting {
    cwd: OsString,
    env: Vec<(OsString, OsString)>,
    unset: Vec<OsString>,
    clear_env: bool,
    stdout: Option<PathBuf>,
    stderr: Option<PathBuf>,
}

fn os(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

/// In the forked child: the check's output pipes, working folder and environment, then its
/// library's entry.
fn child_runs(lib: &CString, setting: &Setting) -> ! {
    // Standard error first, so that a failure to open standard output is told to the runner.
    for (path, fd) in [(&setting.stderr, 2), (&setting.stdout, 1)] {
        let Some(path) = path else { continue };
        // The runner opened the pipe for reading before it sent the request: this does not block.
        match std::fs::File::options().write(true).open(path) {
            // SAFETY: makes the pipe the child's own descriptor `fd`; the original is closed when
            // `pipe` is dropped.
            Ok(pipe) => unsafe {
                sys::dup2(pipe.as_raw_fd(), fd);
            },
            Err(e) => fail_to_load(&format!("cannot open {}: {e}", path.display())),
        }
    }
    let cwd: &OsStr = &setting.cwd;
    if let Err(e) = std::env::set_current_dir(cwd) {
        fail_to_load(&format!("cannot enter {}: {e}", cwd.to_string_lossy()));
    }
    if setting.clear_env {
        for (name, _) in std::env::vars_os() {
            // SAFETY: the child is single-threaded.
            unsafe { std::env::remove_var(name) };
        }
    }
    let (env, unset) = (&setting.env, &setting.unset);
    for (name, value) in env {
        // SAFETY: the child is single-threaded.
        unsafe { std::env::set_var(name, value) };
    }
    for name in unset {
        // SAFETY: as above.
        unsafe { std::env::remove_var(name) };
    }
    // SAFETY: the library is a check built for this host; its initializers are the ones a
    // check process would run at its start.
    let handle = unsafe { sys::dlopen(lib.as_ptr(), sys::RTLD_NOW) };
    if handle.is_null() {
        fail_to_load(&format!("cannot load {}: {}", lib.to_string_lossy(), last_dl_error()));
    }
    let symbol = CString::new(ENTRY_SYMBOL).expect("no NUL in the name");
    // SAFETY: looks a symbol up in a library we loaded.
    let entry = unsafe { sys::dlsym(handle, symbol.as_ptr()) };
    if entry.is_null() {
        fail_to_load(&format!("{} has no `{ENTRY_SYMBOL}`: {}", lib.to_string_lossy(), last_dl_error()));
    }
    // SAFETY: the symbol is the `extern "C" fn() -> i32` that `exercise_modules!` exports.
    let entry: extern "C" fn() -> c_int = unsafe { std::mem::transmute::<*mut c_void, _>(entry) };
    let code = entry();
    let _ = std::io::stdout().flush();
    // SAFETY: ends the child without running the host's exit handlers (libtorch's destructors
    // cost time for nothing, and the host's own stdout buffer is not ours to flush).
    unsafe { sys::_exit(code) }
}

fn last_dl_error() -> String {
    // SAFETY: dlerror returns NULL or a C string valid until the next dl call.
    let text: *const c_char = unsafe { sys::dlerror() };
    if text.is_null() {
        return "no reason given".into();
    }
    // SAFETY: as above.
    unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy().into_owned()
}

fn fail_to_load(message: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "tensorlings host: {message}");
    // SAFETY: see `child_runs`.
    unsafe { sys::_exit(LOAD_FAILED) }
}

/// What a check library's exported entry does: runs the check's `main` and returns the code a
/// check process would exit with. The harness normally ends the process itself once the report
/// is written; a panic that escapes `main` exits with 101, as Rust's runtime does.
pub fn hosted_main(main: fn()) -> i32 {
    match std::panic::catch_unwind(main) {
        Ok(()) => 0,
        Err(_) => 101,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_survives_its_encoding() {
        let request = Request {
            lib: b"/tmp/a b/libx.so".to_vec(),
            cwd: b"/course\nroot".to_vec(),
            env: vec![(b"A".to_vec(), b"1 2".to_vec()), (b"B".to_vec(), Vec::new())],
            unset: vec![b"C".to_vec()],
            secret: vec![0, 255, 10],
            marker: b"--end--".to_vec(),
            ..Request::default()
        };
        let text = request.encode();
        assert!(!text.contains("stdout") && !text.contains("clearenv"), "a session's request is as before");
        assert_eq!(Request::read(&mut text.as_bytes()).unwrap(), Some(request));
        // A shared host's: named pipes for the output, and the runner's environment alone.
        let request = Request {
            lib: b"/l.so".to_vec(),
            stdout: b"/tmp/x/stdout".to_vec(),
            stderr: b"/tmp/x/stderr".to_vec(),
            clear_env: true,
            ..Request::default()
        };
        assert_eq!(Request::read(&mut request.encode().as_bytes()).unwrap(), Some(request));
    }

    #[test]
    fn the_end_of_input_ends_the_requests() {
        assert_eq!(Request::read(&mut "".as_bytes()).unwrap(), None);
        assert!(Request::read(&mut "lib 41\n".as_bytes()).unwrap_err().contains("before `run`"));
        assert!(Request::read(&mut "launch\n".as_bytes()).unwrap_err().contains("unknown"));
        assert!(Request::read(&mut "lib 4\nrun\n".as_bytes()).unwrap_err().contains("odd-length"));
    }
}
