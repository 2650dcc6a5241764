//! The learner's progress (current exercise, exercises done), kept in `.tensorlings/state.toml`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::course::Course;
use crate::verdict::{Status, Verdict};

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
    current: usize,
    /// Per exercise, in course order: has it passed?
    done: Vec<bool>,
    /// Set when the state file was unreadable and has been rebuilt: say so once.
    rebuilt_because: Option<String>,
}

/// Where [`State::advance`] went.
#[derive(Debug, PartialEq, Eq)]
pub enum Advance {
    /// The current exercise has not passed yet: it stays current.
    NotDone,
    /// To this exercise, the next one not done.
    To(usize),
    /// Every exercise is done.
    Finished,
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

    /// Why the state file was rebuilt, once: the caller tells the learner.
    pub fn take_rebuilt_reason(&mut self) -> Option<String> {
        self.rebuilt_because.take()
    }

    /// The index of the current exercise.
    pub fn current(&self) -> usize {
        self.current
    }

    pub fn is_done(&self, index: usize) -> bool {
        self.done[index]
    }

    /// Per exercise, in course order: is it done?
    pub fn done_flags(&self) -> &[bool] {
        &self.done
    }

    /// Makes `index` the current exercise, done or not: the learner chose it.
    pub fn set_current(&mut self, index: usize) {
        assert!(index < self.done.len(), "no exercise {index}");
        self.current = index;
    }

    /// How many exercises the course has.
    pub fn len(&self) -> usize {
        self.done.len()
    }

    /// Records a verdict: done when it passed, not done when it failed. A verdict of a check
    /// that could not run at all (a setup problem) says nothing about the exercise: unchanged.
    pub fn record(&mut self, index: usize, verdict: &Verdict) {
        if verdict.status() != Status::Error {
            self.done[index] = verdict.passed();
        }
    }

    /// An exercise was reset to as shipped: it is to be done again.
    pub fn reset(&mut self, index: usize) {
        self.done[index] = false;
    }

    /// Moves on from a current exercise that passed, to the next one not done.
    pub fn advance(&mut self) -> Advance {
        if !self.done[self.current] {
            return Advance::NotDone;
        }
        match self.next_pending(self.current) {
            Some(next) => {
                self.current = next;
                Advance::To(next)
            }
            None => Advance::Finished,
        }
    }

    /// After checking every exercise: when the current one is done, the next to work on is the
    /// first one not done.
    pub fn advance_to_first_pending(&mut self) {
        if self.done[self.current]
            && let Some(first) = self.done.iter().position(|done| !done)
        {
            self.current = first;
        }
    }

    pub fn done_count(&self) -> usize {
        self.done.iter().filter(|d| **d).count()
    }

    pub fn all_done(&self) -> bool {
        self.done.iter().all(|d| *d)
    }

    /// The first exercise not done after `from` (wrapping around), if any is left.
    fn next_pending(&self, from: usize) -> Option<usize> {
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
    fn advance_moves_on_only_from_a_passed_exercise() {
        let mut s = state(&[false, true, false]);
        assert_eq!(s.advance(), Advance::NotDone);
        s.done[0] = true;
        assert_eq!(s.advance(), Advance::To(2));
        assert_eq!(s.current(), 2);
        s.done[2] = true;
        assert_eq!(s.advance(), Advance::Finished);
        s.reset(1);
        assert_eq!(s.advance(), Advance::To(1));
    }

    #[test]
    fn after_verify_the_first_pending_is_current() {
        let mut s = state(&[true, true, false, false]);
        s.current = 1;
        s.advance_to_first_pending();
        assert_eq!(s.current(), 2);
        let mut s = state(&[false, false]);
        s.current = 1;
        s.advance_to_first_pending();
        assert_eq!(s.current(), 1, "an exercise not done stays current");
    }

    #[test]
    fn any_exercise_can_be_made_current() {
        let mut s = state(&[true, false, true]);
        s.set_current(2);
        assert_eq!(s.current(), 2);
        assert_eq!(s.advance(), Advance::To(1));
        assert_eq!(s.done_flags(), [true, false, true]);
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
