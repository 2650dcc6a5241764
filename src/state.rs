//! The learner's progress (current exercise, exercises done), kept in `.tensorlings/state.toml`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::check::{Status, Verdict};
use crate::course::Course;

const STATE_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    format_version: u32,
    current: String,
    done: BTreeSet<String>,
}

pub struct State {
    path: PathBuf,
    /// Index of the current exercise in the course.
    pub current: usize,
    /// Per exercise, in course order: has it passed?
    pub done: Vec<bool>,
    /// Set when the state file was unreadable and has been rebuilt: say so once.
    pub rebuilt_because: Option<String>,
}

impl State {
    /// Loads the state, or starts fresh when there is none. A corrupt file is not fatal: it
    /// is moved aside, rebuilt from scratch, and the reason is kept for the caller to show.
    pub fn load(course: &Course) -> Result<Self> {
        let path = course.data_dir().join("state.toml");
        let fresh = |rebuilt_because| State {
            path: path.clone(),
            current: 0,
            done: vec![false; course.exercises().len()],
            rebuilt_because,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(fresh(None)),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        match toml::from_str::<StateFile>(&text) {
            Ok(file) if file.format_version == STATE_VERSION => {
                let names = course.exercises().iter().map(|e| e.name.as_str());
                let done = names.map(|name| file.done.contains(name)).collect();
                // An exercise that no longer exists (the course changed) falls back to the first.
                let current = course.info.find(&file.current).unwrap_or(0);
                Ok(State { path, current, done, rebuilt_because: None })
            }
            Ok(file) => Ok(fresh(Some(format!("it has format_version {}", file.format_version)))),
            Err(e) => {
                let backup = path.with_extension("toml.corrupt");
                let _ = std::fs::rename(&path, &backup);
                let reason = format!(
                    "it could not be parsed ({}); the old file is kept as {}",
                    e.message(),
                    backup.display()
                );
                Ok(fresh(Some(reason)))
            }
        }
    }

    pub fn save(&self, course: &Course) -> Result<()> {
        let file = StateFile {
            format_version: STATE_VERSION,
            current: course.exercises()[self.current].name.clone(),
            done: course
                .exercises()
                .iter()
                .zip(&self.done)
                .filter(|(_, done)| **done)
                .map(|(e, _)| e.name.clone())
                .collect(),
        };
        let text = toml::to_string(&file).context("cannot serialize the state")?;
        write_atomically(&self.path, text.as_bytes())
    }

    /// Records a verdict: done when it passed, not done when it failed. A verdict of a check
    /// that could not run at all (a setup problem) says nothing about the exercise: unchanged.
    pub fn record(&mut self, index: usize, verdict: &Verdict) {
        if verdict.status != Status::Error {
            self.done[index] = verdict.passed();
        }
    }

    pub fn done_count(&self) -> usize {
        self.done.iter().filter(|d| **d).count()
    }

    pub fn all_done(&self) -> bool {
        self.done.iter().all(|d| *d)
    }

    /// The first exercise not done after `from` (wrapping around), if any is left.
    pub fn next_pending(&self, from: usize) -> Option<usize> {
        let n = self.done.len();
        (1..=n).map(|step| (from + step) % n).find(|&i| !self.done[i])
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no parent folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&temp, contents).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(done: &[bool]) -> State {
        State { path: PathBuf::new(), current: 0, done: done.to_vec(), rebuilt_because: None }
    }

    #[test]
    fn next_pending_wraps_and_skips_done() {
        let s = state(&[false, true, false, true]);
        assert_eq!(s.next_pending(0), Some(2));
        assert_eq!(s.next_pending(2), Some(0));
        assert_eq!(state(&[true, true]).next_pending(0), None);
        assert_eq!(state(&[false]).next_pending(0), Some(0));
    }

    #[test]
    fn write_atomically_replaces_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.toml");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
