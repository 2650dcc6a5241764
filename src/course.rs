//! The course on disk: where its root is, and the paths of each exercise's files and binaries.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::info_file::{ExerciseInfo, InfoFile};

#[derive(Clone)]
pub struct Course {
    pub root: PathBuf,
    pub info: InfoFile,
}

impl Course {
    /// Finds the course from `start` or one of its parents (the folder with `info.toml`), so
    /// that tensorlings works from any folder inside the course.
    pub fn discover(start: &Path) -> Result<Self> {
        let start =
            start.canonicalize().with_context(|| format!("cannot open the folder {}", start.display()))?;
        let Some(root) = start.ancestors().find(|dir| dir.join("info.toml").is_file()) else {
            bail!(
                "no info.toml in {} or its parents: run tensorlings inside the course folder (the one you cloned)",
                start.display()
            );
        };
        Self::open(root)
    }

    pub fn open(root: &Path) -> Result<Self> {
        let info = InfoFile::load(&root.join("info.toml"))?;
        Ok(Self { root: root.to_path_buf(), info })
    }

    pub fn exercises(&self) -> &[ExerciseInfo] {
        &self.info.exercises
    }

    /// The exercise called `name`; `invoke` is how tensorlings was started, for the advice.
    pub fn exercise(&self, name: &str, invoke: &str) -> Result<(usize, &ExerciseInfo)> {
        match self.info.find(name) {
            Some(index) => Ok((index, &self.info.exercises[index])),
            None => {
                let suggestion = closest_name(name, self.exercises().iter().map(|e| e.name.as_str()))
                    .map(|n| format!(" Did you mean `{n}`?"))
                    .unwrap_or_default();
                bail!(
                    "there is no exercise `{name}` in info.toml.{suggestion} `{invoke} list` shows them all"
                )
            }
        }
    }

    pub fn exercise_path(&self, exercise: &ExerciseInfo) -> PathBuf {
        self.root.join("exercises").join(exercise.rel_path())
    }

    pub fn solution_path(&self, exercise: &ExerciseInfo) -> PathBuf {
        self.root.join("solutions").join(exercise.rel_path())
    }

    pub fn check_path(&self, exercise: &ExerciseInfo) -> PathBuf {
        self.root.join("checks").join(exercise.rel_path())
    }

    /// A path as the learner should see it: relative to the course root.
    pub fn display_path<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, str> {
        match path.strip_prefix(&self.root) {
            Ok(rel) => rel.to_string_lossy().into_owned().into(),
            Err(_) => path.to_string_lossy(),
        }
    }

    pub fn package_dir(&self) -> PathBuf {
        self.root.join(&self.info.course.package)
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.package_dir().join("Cargo.toml")
    }

    /// Whether the course package declares the binary `name` (read from its manifest; false
    /// when the manifest cannot be read, whose error the build reports).
    pub fn has_bin(&self, name: &str) -> bool {
        let Ok(text) = std::fs::read_to_string(self.manifest_path()) else { return false };
        let Ok(manifest) = text.parse::<toml::Table>() else { return false };
        let bins = manifest.get("bin").and_then(|bins| bins.as_array());
        bins.is_some_and(|bins| bins.iter().any(|bin| bin.get("name").and_then(|n| n.as_str()) == Some(name)))
    }

    /// Folder for the runner's own files (state, backups, shipped copies); git-ignored.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join(".tensorlings")
    }
}

/// Name of each exercise's check binary.
pub fn check_bin(exercise: &ExerciseInfo) -> String {
    format!("{}_check", exercise.name)
}

/// Name of each exercise's check built as a library for the warm host (an `[[example]]` of
/// crate type cdylib).
pub fn hosted_lib(exercise: &ExerciseInfo) -> String {
    format!("{}_hosted", exercise.name)
}

pub fn solution_bin(exercise: &ExerciseInfo) -> String {
    format!("{}_solution", exercise.name)
}

/// The name closest to `wanted` by edit distance, when it is close enough to be a typo.
fn closest_name<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(|name| (edit_distance(wanted, name), name))
        .filter(|(distance, name)| *distance <= (name.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let names = ["tensors", "autograd", "broadcasting"];
        assert_eq!(closest_name("tensor", names.into_iter()), Some("tensors"));
        assert_eq!(closest_name("autogard", names.into_iter()), Some("autograd"));
        assert_eq!(closest_name("zzz", names.into_iter()), None);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
