//! Runs a child process with a timeout and capped output, so that learner code that hangs or
//! floods the terminal is a failed exercise, never a stuck or drowned runner.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// How much of each stream is kept; the rest is read and counted, then dropped.
pub const OUTPUT_CAP: usize = 64 * 1024;

pub struct Captured {
    pub bytes: Vec<u8>,
    /// Bytes read past [`OUTPUT_CAP`] and dropped.
    pub dropped: usize,
}

impl Captured {
    /// Keeps what fits under [`OUTPUT_CAP`] and counts the rest.
    pub fn keep(&mut self, bytes: &[u8]) {
        let room = OUTPUT_CAP.saturating_sub(self.bytes.len()).min(bytes.len());
        self.bytes.extend_from_slice(&bytes[..room]);
        self.dropped += bytes.len() - room;
    }

    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!(
                "\n[... {} more bytes of output not shown: tensorlings keeps the first {} KiB]\n",
                self.dropped,
                OUTPUT_CAP / 1024
            ));
        }
        text
    }
}

/// Process groups started here (a build, a check) and not yet cleaned up, so that a timeout,
/// q, Ctrl-C or a save in watch mode can stop all of one job: cargo with its rustc and
/// linker, or a check with anything it started. A group's id is its leader's pid, and Linux
/// does not reuse a pid while a process group of that id exists, so killing a listed group
/// never hits an unrelated process.
static GROUPS: Mutex<Groups> = Mutex::new(Groups { running: Vec::new(), stopping: false });

struct Groups {
    running: Vec<u32>,
    /// Set by [`stop_all`]: a group that registers afterwards is killed at once, so a job that
    /// was between two steps (built, not yet checked) cannot start its next step.
    stopping: bool,
}

fn groups() -> std::sync::MutexGuard<'static, Groups> {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes `command` the leader of a new process group, so that everything it starts can be
/// killed with it. (It also keeps the terminal's Ctrl-C from reaching it directly: the runner
/// decides, see [`stop_all`].)
pub fn in_own_group(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    command.process_group(0)
}

/// Lists the group led by `pid`, started with [`in_own_group`]; kills it at once when a stop
/// was requested meanwhile.
pub fn register(pid: u32) {
    let mut groups = groups();
    if groups.stopping {
        kill_group(pid);
    }
    groups.running.push(pid);
}

/// Call right after the group's leader was reaped. Kills what the leader left behind in its
/// group (a rustc whose cargo was killed, a process the learner's code started).
pub fn unregister(pid: u32) {
    let mut groups = groups();
    kill_group(pid);
    groups.running.retain(|&p| p != pid);
}

/// Kills every group still running (a build, a check), and any that starts before
/// [`allow_starts`]: the learner quit, or saved during a check that is now stale.
pub fn stop_all() {
    let mut groups = groups();
    groups.stopping = true;
    for &pid in &groups.running {
        kill_group(pid);
    }
}

/// Ends a [`stop_all`]: new builds and checks may start again.
pub fn allow_starts() {
    groups().stopping = false;
}

pub enum Ending {
    Exited(ExitStatus),
    TimedOut,
    /// Killed for holding more memory (resident) than the limit; `used` is what it held.
    OverMemory {
        used: u64,
    },
}

/// What a child may use before it is killed.
#[derive(Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    /// Resident memory, in bytes; `None`: no limit.
    pub memory: Option<u64>,
}

/// How often a child's memory is looked at. A check that fills memory as fast as it can adds
/// a few hundred MiB in this time, well inside the default limit's margin (half the machine).
const MEMORY_POLL: Duration = Duration::from_millis(25);

pub struct Finished {
    pub ending: Ending,
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
}

/// Runs `command` to its end, or until it passes `limits`: the timeout, or the memory limit,
/// when its process group is killed. stdin holds `input` and then ends, so a program waiting
/// for input ends instead of hanging.
pub fn run_limited(mut command: Command, limits: Limits, input: &[u8]) -> Result<Finished> {
    let (reader, mut writer) = std::io::pipe().context("cannot create a pipe")?;
    // A pipe holds 64 KiB before a write blocks; the input (a secret) is far smaller.
    std::io::Write::write_all(&mut writer, input).context("cannot write to a pipe")?;
    drop(writer);
    command.stdin(reader).stdout(Stdio::piped()).stderr(Stdio::piped());
    in_own_group(&mut command);
    let start = Instant::now();
    let mut child = command.spawn().with_context(|| format!("cannot start {:?}", command.get_program()))?;
    let stdout = capture(child.stdout.take().expect("stdout is piped"));
    let stderr = capture(child.stderr.take().expect("stderr is piped"));

    // A waiter thread owns the child, so the verdict arrives the moment it exits (no polling
    // delay); the main thread only needs its pid to kill it.
    let pid = child.id();
    register(pid);
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let status = child.wait();
        unregister(pid);
        let _ = sender.send(status);
    });
    let ending = supervise(pid, start, limits, |wait| match receiver.recv_timeout(wait) {
        Ok(status) => Some(status.context("cannot wait for the check process")),
        Err(_) => None,
    })?;
    let duration = start.elapsed();
    // The group is killed once its leader is reaped, so nothing should hold the pipes open; a
    // process that left the group could, so don't wait on them forever.
    let stdout = stdout.recv_timeout(Duration::from_secs(2)).unwrap_or_else(|_| empty());
    let stderr = stderr.recv_timeout(Duration::from_secs(2)).unwrap_or_else(|_| empty());
    Ok(Finished { ending, stdout, stderr, duration })
}

/// Watches a started process until it ends, its time is up or it holds more memory than its
/// limit, and kills its group in the last two cases. `wait_for_end(d)` waits up to `d` for the
/// process's exit status (`None`: still running). Shared by check processes and the warm host's
/// children, so both are limited the same way.
pub fn supervise(
    pid: u32,
    start: Instant,
    limits: Limits,
    mut wait_for_end: impl FnMut(Duration) -> Option<Result<ExitStatus>>,
) -> Result<Ending> {
    let deadline = start + limits.timeout;
    loop {
        let now = Instant::now();
        // Without a memory limit there is nothing to poll: sleep until the end or the deadline.
        let wait = match limits.memory {
            Some(_) => MEMORY_POLL.min(deadline.saturating_duration_since(now)),
            None => deadline.saturating_duration_since(now),
        };
        let over = match wait_for_end(wait) {
            Some(status) => return Ok(Ending::Exited(status?)),
            None if Instant::now() >= deadline => Ending::TimedOut,
            None => match (limits.memory, resident_bytes(pid)) {
                (Some(limit), Some(used)) if used > limit => Ending::OverMemory { used },
                _ => continue,
            },
        };
        kill_group(pid);
        // Reap it, so that it does not linger as a zombie.
        let _ = wait_for_end(Duration::from_secs(5));
        return Ok(over);
    }
}

/// The resident memory of process `pid`, from /proc (Linux); `None` where that cannot be read.
fn resident_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).ok()?)
}

pub fn empty() -> Captured {
    Captured { bytes: Vec::new(), dropped: 0 }
}

/// Reads `stream` to its end on a thread, keeping what fits under [`OUTPUT_CAP`]; the receiver
/// gets it all at the end.
pub fn capture(mut stream: impl Read + Send + 'static) -> mpsc::Receiver<Captured> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut captured = empty();
        let mut buffer = [0u8; 16 * 1024];
        // Keep reading past the cap: a child blocked on a full pipe would look like a hang.
        while let Ok(n) = stream.read(&mut buffer) {
            if n == 0 {
                break;
            }
            captured.keep(&buffer[..n]);
        }
        let _ = sender.send(captured);
    });
    receiver
}

pub fn kill_group(pid: u32) {
    // SAFETY: kill(2) of a process group we created (see GROUPS for why its id cannot belong
    // to an unrelated group); an empty group gives ESRCH, which is fine.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

/// The signal that ended a process, if one did.
pub fn signal_of(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with_timeout(command: Command, timeout: Duration) -> Result<Finished> {
        run_limited(command, Limits { timeout, memory: None }, b"")
    }

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn captures_output_and_status() {
        let finished =
            run_with_timeout(shell("echo out; echo err >&2; exit 3"), Duration::from_secs(10)).unwrap();
        assert!(matches!(finished.ending, Ending::Exited(s) if s.code() == Some(3)));
        assert_eq!(finished.stdout.text(), "out\n");
        assert_eq!(finished.stderr.text(), "err\n");
    }

    #[test]
    fn kills_on_timeout() {
        let finished =
            run_with_timeout(shell("echo started; exec sleep 30"), Duration::from_millis(200)).unwrap();
        assert!(matches!(finished.ending, Ending::TimedOut));
        assert!(finished.duration < Duration::from_secs(10));
        assert_eq!(finished.stdout.text(), "started\n");
    }

    #[test]
    fn kills_a_process_over_its_memory_limit() {
        // python3 is on every machine tensorlings runs on (it installs libtorch with it).
        let mut command = Command::new("python3");
        command.args(["-c", "import time\nx = bytearray(400 << 20)\ntime.sleep(30)"]);
        let limits = Limits { timeout: Duration::from_secs(30), memory: Some(200 << 20) };
        let finished = run_limited(command, limits, b"").unwrap();
        let Ending::OverMemory { used } = finished.ending else { panic!("not stopped for its memory") };
        assert!(used > 200 << 20, "{used}");
        assert!(finished.duration < Duration::from_secs(20));
    }

    #[test]
    fn a_process_under_its_memory_limit_runs_to_its_end() {
        let limits = Limits { timeout: Duration::from_secs(10), memory: Some(1 << 30) };
        let finished = run_limited(shell("sleep 0.2; echo done"), limits, b"").unwrap();
        assert!(matches!(finished.ending, Ending::Exited(s) if s.success()));
        assert_eq!(finished.stdout.text(), "done\n");
    }

    #[test]
    fn caps_a_flood_of_output() {
        let finished = run_with_timeout(shell("head -c 1000000 /dev/zero"), Duration::from_secs(10)).unwrap();
        assert_eq!(finished.stdout.bytes.len(), OUTPUT_CAP);
        assert_eq!(finished.stdout.dropped, 1_000_000 - OUTPUT_CAP);
        assert!(finished.stdout.text().contains("more bytes of output not shown"));
    }

    #[test]
    fn names_the_signal_of_a_crash() {
        let finished = run_with_timeout(shell("kill -SEGV $$"), Duration::from_secs(10)).unwrap();
        let Ending::Exited(status) = finished.ending else { panic!("timed out") };
        assert_eq!(signal_of(&status), Some(libc::SIGSEGV));
        let finished = run_with_timeout(shell("exit 0"), Duration::from_secs(10)).unwrap();
        let Ending::Exited(status) = finished.ending else { panic!("timed out") };
        assert_eq!(signal_of(&status), None);
    }
}
