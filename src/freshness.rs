//! Makes cargo see a learner's file as changed whenever its contents changed since it was last
//! built, whatever its modification time says.
//!
//! Cargo decides by modification times. A file moved back into place keeps its old time: a
//! backup restored after `reset` (`mv .tensorlings/backups/NAME-1.rs exercises/...`) is older
//! than the last build, and cargo would check the shipped file's build again. The runner keeps,
//! per exercise, the git blob id of the file as last built (`.tensorlings/built/`), and gives a
//! changed file the current time before cargo looks.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::course::Course;
use crate::info_file::ExerciseInfo;
use crate::shipped::blob_id;

fn record_path(course: &Course, exercise: &ExerciseInfo) -> PathBuf {
    course.data_dir().join("built").join(format!("{}.id", exercise.rel_path()))
}

/// Before a build of `exercise` from the learner's folder: if its contents are not the ones last
/// built and its time is not newer than that build, its time becomes now. Returns the blob id to
/// record once built. Problems (no file, no permission) are left to the build to report.
pub fn before_build(course: &Course, exercise: &ExerciseInfo) -> Option<String> {
    let path = course.exercise_path(exercise);
    let id = blob_id(&std::fs::read(&path).ok()?);
    let record = record_path(course, exercise);
    let recorded = std::fs::read_to_string(&record).ok();
    let built_at = std::fs::metadata(&record).and_then(|m| m.modified()).ok();
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    if recorded.as_deref().is_some_and(|recorded| recorded.trim() != id)
        && let (Some(built_at), Some(modified)) = (built_at, modified)
        && modified <= built_at
        && let Ok(file) = std::fs::File::options().append(true).open(&path)
    {
        let _ = file.set_modified(SystemTime::now());
    }
    Some(id)
}

/// After a build of `exercise`: records the contents it was built from.
pub fn after_build(course: &Course, exercise: &ExerciseInfo, id: Option<String>) {
    let Some(id) = id else { return };
    let record = record_path(course, exercise);
    if let Some(dir) = record.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(record, id);
}

/// After rustc rebuilt `exercise`'s check library without cargo (`replay`): records `built`, the
/// contents it was built from, or, when they are not known (the file changed while rustc read
/// it), contents that no file has, so that cargo rebuilds at its next look whatever the file's
/// time.
pub fn after_replay(course: &Course, exercise: &ExerciseInfo, built: Option<&[u8]>) {
    let id = built.map_or_else(|| "unknown: changed during a build".to_string(), blob_id);
    after_build(course, exercise, Some(id));
}
