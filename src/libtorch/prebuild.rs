//! Compiles the course's dependencies that do not need libtorch while libtorch is installed.
//!
//! It runs the same `cargo build` as the runner's later build of the course (same manifest,
//! folder, target dir and profile, so the same units and hashes), with `--keep-going` and
//! `LIBTORCH` set to an empty folder: torch-sys's build script fails at once, cargo skips what
//! depends on it (tch, the support library, the course's binaries) and builds everything else
//! (the crates tch and torch-sys's build script use, C libraries such as zstd and bzip2). The
//! real build then finds those up to date. Nothing depends on it succeeding: when cargo cannot
//! start, or is stopped, the real build simply does that work itself.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::course::Course;

pub struct Prebuild {
    child: Child,
    /// The empty folder `LIBTORCH` names; removed when the build is over.
    _no_libtorch: tempfile::TempDir,
}

impl Prebuild {
    /// Starts the build in the background; `None` when it cannot start (no cargo, no temp dir).
    pub fn start(course: &Course) -> Option<Self> {
        let no_libtorch = tempfile::Builder::new().prefix("tensorlings-no-libtorch").tempdir().ok()?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .arg("build")
            .arg("--manifest-path")
            .arg(course.manifest_path())
            .arg("--keep-going")
            .current_dir(&course.root)
            .env("LIBTORCH", no_libtorch.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its errors (torch-sys finds no libtorch) are expected; the real build reports
            // real ones.
            .stderr(Stdio::null());
        // Its own group, so that Ctrl-C (which stops every registered group) and `Drop` stop
        // the rustc and cc it started too.
        crate::exec::in_own_group(&mut command);
        let child = command.spawn().ok()?;
        crate::exec::register(child.id());
        Some(Self { child, _no_libtorch: no_libtorch })
    }

    /// Waits for the build to finish, saying so when that takes more than a moment: the
    /// install is done, and the course's build cannot start before this one ends (it would
    /// wait for cargo's lock anyway).
    pub fn finish(mut self) {
        let started = Instant::now();
        let mut told = false;
        // An error from try_wait means it cannot be waited for: the real build takes over.
        while let Ok(None) = self.child.try_wait() {
            if !told && started.elapsed() > Duration::from_secs(1) {
                eprintln!(
                    "Finishing the compilation of the course's dependencies that do not need libtorch..."
                );
                told = true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Prebuild {
    /// Stops the build if it still runs (the install failed): the learner should not have a
    /// compilation going on behind an error message.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        crate::exec::unregister(self.child.id());
    }
}
