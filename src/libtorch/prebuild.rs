//! Compiles the course's dependencies while libtorch is installed, in two stages.
//!
//! Until torch is unpacked: the same `cargo build` as the runner's later build of the course
//! (same manifest, folder, target dir and profile, so the same units and hashes), with
//! `--keep-going` and `LIBTORCH` set to an empty folder: torch-sys's build script fails at
//! once, cargo skips what depends on it (tch, the support library, the course's binaries) and
//! builds everything else (the crates tch and torch-sys's build script use, C libraries such
//! as zstd and bzip2).
//!
//! Once torch's headers are there (and `.cargo/config.toml` points at them): that build is
//! stopped and the support library is built instead, with whatever of the first stage is left,
//! so that libtorch's C++ bindings compile while pip still adds the CUDA libraries. Nothing is
//! linked: the binaries wait for the real build, which finds the rest up to date.
//!
//! Nothing depends on either stage succeeding: when cargo cannot start, fails or is stopped,
//! the real build does that work itself (and reports real errors).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::course::Course;

pub struct Prebuild {
    child: Child,
    /// The empty folder `LIBTORCH` names in the first stage; removed when the build is over.
    _no_libtorch: Option<tempfile::TempDir>,
}

impl Prebuild {
    /// The first stage; `None` when it cannot start (no cargo, no temp dir).
    pub fn without_libtorch(course: &Course) -> Option<Self> {
        let no_libtorch = tempfile::Builder::new().prefix("tensorlings-no-libtorch").tempdir().ok()?;
        let mut command = cargo_build(course);
        command.arg("--keep-going").env("LIBTORCH", no_libtorch.path());
        Self::spawn(command, Some(no_libtorch))
    }

    /// The second stage, replacing the first (`earlier`), once the course's config points at
    /// libtorch. Stopping the first costs at most the crates it was compiling at that moment;
    /// the second build schedules libtorch's bindings among what is left.
    pub fn with_libtorch(course: &Course, earlier: Option<Prebuild>) -> Option<Self> {
        drop(earlier);
        let mut command = cargo_build(course);
        command.args(["--package", "tensorlings-support", "--lib"]);
        Self::spawn(command, None)
    }

    fn spawn(mut command: Command, no_libtorch: Option<tempfile::TempDir>) -> Option<Self> {
        // Its own group, so that Ctrl-C (which stops every registered group) and `Drop` stop
        // the rustc and cc it started too.
        crate::exec::in_own_group(&mut command);
        let child = command.spawn().ok()?;
        crate::exec::register(child.id());
        Some(Self { child, _no_libtorch: no_libtorch })
    }

    /// Waits for the build to finish, saying so when that takes more than a moment (the
    /// course's build could not start before: it would wait for cargo's lock).
    pub fn finish(mut self) {
        let started = Instant::now();
        let mut told = false;
        // An error from try_wait means it cannot be waited for: the real build takes over.
        while let Ok(None) = self.child.try_wait() {
            if !told && started.elapsed() > Duration::from_secs(1) {
                eprintln!(
                    "Compiling the course's dependencies (tch and libtorch's C++ bindings): a minute or two, once."
                );
                told = true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `cargo build` of the course as the runner's build runs it, but quiet: the first stage's
/// errors (torch-sys finds no libtorch) are expected, and the real build reports real ones.
fn cargo_build(course: &Course) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(course.manifest_path())
        .current_dir(&course.root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

impl Drop for Prebuild {
    /// Stops the build if it still runs (the next stage replaces it, or the install failed:
    /// the learner should not have a compilation going on behind an error message).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        crate::exec::unregister(self.child.id());
    }
}
