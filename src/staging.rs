//! The build area of `dev check` and `verify --exercises-from`: a target dir and a staging
//! folder of their own, so that checking other exercise files (solutions, wrong answers, a
//! student's work) never makes the learner's binaries stale nor waits on the learner's builds.
//!
//! The staging folder is fixed and a file in it is rewritten only when its text changes: cargo
//! sees the same `TENSORLINGS_SUBJECT_DIR` every time and the old modification time of an
//! unchanged file, so a round of checks rebuilds only the binaries whose exercise changed.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::course::Course;
use crate::state::write_atomically;

/// Which exercise files a build checks, and so where it builds.
#[derive(Clone, Copy)]
pub enum Subject<'a> {
    /// The learner's `exercises/`, built in the course's own target dir.
    Exercises,
    /// The exercise files of another folder, laid out like `exercises/` (a missing file is a
    /// missing exercise): `solutions/`, a student's `exercises/`.
    Folder(&'a Path),
    /// Given sources, by exercise index (wrong answers).
    Sources(&'a [(usize, String)]),
}

/// The learner's target dir: where cargo puts the course package's builds.
pub fn learner_target_dir(course: &Course) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => course.root.join(dir),
        _ => course.package_dir().join("target"),
    }
}

/// The staging area, held exclusively (one `dev check` or `verify --exercises-from` at a time
/// per course; the learner's `run` and watch mode do not wait for it).
pub struct Stage {
    dir: PathBuf,
    target_dir: PathBuf,
    _lock: File,
}

impl Stage {
    pub fn open(course: &Course) -> Result<Self> {
        let data = course.data_dir();
        let dir = data.join("dev-subject");
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock_path = data.join("dev.lock");
        let lock =
            File::create(&lock_path).with_context(|| format!("cannot create {}", lock_path.display()))?;
        lock.lock().with_context(|| format!("cannot lock {}", lock_path.display()))?;
        Ok(Self { dir, target_dir: learner_target_dir(course).join("tensorlings-dev"), _lock: lock })
    }

    /// The folder check binaries built here take the exercise files from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn target_dir(&self) -> &Path {
        &self.target_dir
    }

    /// Puts the exercise at `rel_path` in place with `source`, or removes it for `None`; an
    /// unchanged file is left alone, modification time included. Returns the staged path.
    pub fn put(&self, rel_path: &str, source: Option<&str>) -> Result<PathBuf> {
        let path = self.dir.join(rel_path);
        match source {
            Some(text) => {
                if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
                    write_atomically(&path, text.as_bytes())?;
                }
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                }
                _ => {}
            },
        }
        Ok(path)
    }

    /// Stages the exercises at `indices` from `subject` (not [`Subject::Exercises`], which is
    /// built where it is).
    pub fn stage(&self, course: &Course, indices: &[usize], subject: Subject) -> Result<()> {
        for &index in indices {
            let rel = course.exercises()[index].rel_path();
            let source = match subject {
                Subject::Exercises => continue,
                Subject::Folder(dir) => {
                    let path = dir.join(&rel);
                    match std::fs::read_to_string(&path) {
                        Ok(text) => Some(text),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
                    }
                }
                Subject::Sources(sources) => {
                    sources.iter().find(|(i, _)| *i == index).map(|(_, text)| text.clone())
                }
            };
            self.put(&rel, source.as_deref())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn course(root: &Path) -> Course {
        let info = "format_version = 1\nwelcome_message = \"\"\nfinal_message = \"\"\n\
                    [[exercises]]\nname = \"a\"\ndir = \"d\"\nhint = \"h\"\n\
                    [[exercises]]\nname = \"b\"\ndir = \"d\"\nhint = \"h\"\n";
        Course { root: root.to_path_buf(), info: crate::info_file::InfoFile::parse(info).unwrap() }
    }

    #[test]
    fn an_unchanged_file_keeps_its_modification_time() {
        let root = tempfile::tempdir().unwrap();
        let course = course(root.path());
        let stage = Stage::open(&course).unwrap();
        let path = stage.put("d/a.rs", Some("fn a() {}")).unwrap();
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        stage.put("d/a.rs", Some("fn a() {}")).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
        stage.put("d/a.rs", Some("fn a() { }")).unwrap();
        assert_ne!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
        stage.put("d/a.rs", None).unwrap();
        assert!(!path.exists());
        stage.put("d/a.rs", None).unwrap();
    }

    #[test]
    fn stages_from_a_folder_and_from_sources() {
        let root = tempfile::tempdir().unwrap();
        let course = course(root.path());
        let student = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(student.path().join("d")).unwrap();
        std::fs::write(student.path().join("d/a.rs"), "student a").unwrap();
        let stage = Stage::open(&course).unwrap();
        stage.put("d/b.rs", Some("old b")).unwrap();
        stage.stage(&course, &[0, 1], Subject::Folder(student.path())).unwrap();
        assert_eq!(std::fs::read_to_string(stage.dir().join("d/a.rs")).unwrap(), "student a");
        assert!(!stage.dir().join("d/b.rs").exists(), "a file the student lacks is missing, not stale");
        stage.stage(&course, &[1], Subject::Sources(&[(1, "wrong b".to_string())])).unwrap();
        assert_eq!(std::fs::read_to_string(stage.dir().join("d/b.rs")).unwrap(), "wrong b");
        assert!(
            stage.target_dir().ends_with("course/target/tensorlings-dev")
                || std::env::var_os("CARGO_TARGET_DIR").is_some()
        );
    }

    #[test]
    fn one_stage_at_a_time() {
        let root = tempfile::tempdir().unwrap();
        let course = course(root.path());
        let stage = Stage::open(&course).unwrap();
        let lock = File::open(course.data_dir().join("dev.lock")).unwrap();
        assert!(lock.try_lock().is_err());
        drop(stage);
        assert!(lock.try_lock().is_ok());
    }
}
