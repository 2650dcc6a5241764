//! Shared by the integration tests: temporary copies of the fixture course in
//! tests/fixtures/basic, which needs no libtorch.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A fresh copy of the fixture course, removed when dropped, with a folder of its own for the
/// shared check hosts that `tensorlings run` starts (ended when dropped).
pub struct Course {
    pub dir: TempDir,
    pub hosts: TempDir,
}

impl Course {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/basic");
        copy_dir(&fixture, dir.path());
        // As the runner makes its own: only its owner may reach a host's socket.
        let hosts = tempfile::Builder::new()
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .unwrap();
        Course { dir, hosts }
    }

    /// The environment that gives a tensorlings this course's own folder for shared hosts, and
    /// hosts that end soon if a test leaves one behind.
    pub fn host_env(&self) -> [(&'static str, std::ffi::OsString); 2] {
        [("TENSORLINGS_HOST_DIR", self.hosts.path().into()), ("TENSORLINGS_HOST_IDLE", "60".into())]
    }

    /// Pids of the shared hosts running for this course (not their sessions or checks).
    pub fn shared_hosts(&self) -> Vec<u32> {
        processes_running_from(&self.path("course/target"))
            .into_iter()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|cmdline| cmdline.split(|&b| b == 0).any(|arg| arg == b"--listen"))
            })
            .filter(|&pid| {
                // A session is a fork of the host: its parent runs the same program.
                let parent = parent_of(pid);
                !parent.is_some_and(|parent| {
                    processes_running_from(&self.path("course/target")).contains(&parent)
                })
            })
            .collect()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, contents: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn edit_info(&self, from: &str, to: &str) {
        let info = self.read("info.toml");
        assert!(info.contains(from), "info.toml has no {from:?}");
        self.write("info.toml", &info.replacen(from, to, 1));
    }

    /// Replaces the body of the `add` exercise with `body`, keeping its signature.
    pub fn write_add(&self, body: &str) {
        self.write(
            "exercises/00_basics/add.rs",
            &format!("pub fn add(a: i64, b: i64) -> i64 {{\n{body}\n}}\n\nfn main() {{}}\n"),
        );
    }

    pub fn solve_all(&self) {
        for name in ["add", "typed", "square"] {
            let solution = self.read(&format!("solutions/00_basics/{name}.rs"));
            self.write(&format!("exercises/00_basics/{name}.rs"), &solution);
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut command = Command::cargo_bin("tensorlings").unwrap();
        command.current_dir(self.dir.path()).args(args);
        command.envs(self.host_env());
        for var in [
            "LIBTORCH",
            "TENSORLINGS_PYTHON",
            "XDG_CACHE_HOME",
            "TENSORLINGS_SUBJECT_DIR",
            "TENSORLINGS_SOLUTIONS_DIR",
            "CLICOLOR_FORCE",
            "CARGO_TARGET_DIR",
        ] {
            command.env_remove(var);
        }
        command.env("NO_COLOR", "1");
        command
    }
}

impl Drop for Course {
    fn drop(&mut self) {
        // A shared host, its sessions and checks all run the course's programs.
        for pid in processes_running_from(self.dir.path()) {
            // SAFETY: a signal to a process of this test's own course.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// The parent of process `pid`, from /proc.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split_whitespace().nth(1)?.parse().ok()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".tensorlings" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Pids of processes whose executable lies under `dir`.
pub fn processes_running_from(dir: &Path) -> Vec<u32> {
    processes_whose(dir, "exe")
}

/// Pids of processes whose working folder is in `dir` (a watch mode, a cargo or a check that a
/// script left behind).
pub fn processes_working_in(dir: &Path) -> Vec<u32> {
    processes_whose(dir, "cwd")
}

/// Pids of processes whose `/proc/PID/LINK` (`exe`, `cwd`) is in `dir`.
fn processes_whose(dir: &Path, link: &str) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/{link}")).is_ok_and(|target| target.starts_with(&dir))
        })
        .collect()
}

/// Pids of check processes running from `dir`: every process there except watch mode's warm
/// host itself (`tensorlings_host`, started by the runner), whose forked children do count.
pub fn checks_running_from(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap();
    let runs_from_dir =
        |pid: u32| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe.starts_with(&dir));
    processes_running_from(&dir)
        .into_iter()
        .filter(|&pid| {
            let is_host_program = std::fs::read_link(format!("/proc/{pid}/exe"))
                .is_ok_and(|exe| exe.file_name().is_some_and(|name| name == "tensorlings_host"));
            let forked_by_host = parent_of(pid).is_some_and(runs_from_dir);
            !is_host_program || forked_by_host
        })
        .collect()
}

/// Pids of processes whose command line contains `needle` (as one argument).
pub fn processes_with_argument(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| line.split(|&b| b == 0).any(|arg| arg == needle.as_bytes()))
        })
        .collect()
}
