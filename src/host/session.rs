//! Watch mode's host: started by the session, connected to it alone, ended with it. Its
//! children share its standard output and error, so each check's output is cut at an end marker.

use std::io::Read;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

use super::{Connection, HostedCheck, START_TIMEOUT, wire};
use crate::exec::{self, Captured, Finished};

/// How long to wait for the end marker once the child has ended: the host writes it before it
/// answers, so only a descendant that left the check's group could delay it.
const MARKER_WAIT: Duration = Duration::from_secs(2);

/// A running session host.
pub struct WarmHost {
    child: Child,
    /// The program it was started from, and when that was built: a rebuilt host replaces it.
    program: (PathBuf, Option<SystemTime>),
    connection: Connection,
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
        let connection = Connection::new(stream)?;
        let program = (program.to_path_buf(), built_at(program));
        Ok(WarmHost { child, program, connection, stdout, stderr, _socket_dir: socket_dir })
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
        let request = wire::Request { marker: marker.clone(), ..check.request() };
        let start = Instant::now();
        let ending = self.connection.run(&request, check.limits, start)?;
        let duration = start.elapsed();
        let stdout = until_marker(&self.stdout, &marker).context("the host's output ended")?;
        let stderr = until_marker(&self.stderr, &marker).context("the host's error output ended")?;
        Ok(Finished { ending, stdout, stderr, duration })
    }
}

impl Drop for WarmHost {
    fn drop(&mut self) {
        // Closing the socket ends a healthy host; a stuck one is killed with its group.
        self.connection.shut();
        exec::kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

fn built_at(program: &Path) -> Option<SystemTime> {
    std::fs::metadata(program).and_then(|m| m.modified()).ok()
}

/// Reads `stream` on a thread, sending what arrives as it arrives: the host's output, which
/// all its children share.
fn chunks(mut stream: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (sender, receiver) = std::sync::mpsc::channel();
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

/// What has arrived so far, as text.
fn drain(chunks: &Receiver<Vec<u8>>) -> String {
    let mut text = Vec::new();
    while let Ok(chunk) = chunks.try_recv() {
        text.extend(chunk);
    }
    String::from_utf8_lossy(&text).into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

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
