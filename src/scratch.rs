//! The temporary folders of running checks (their report, their output pipes), removed when the
//! check is done and also on Ctrl-C, whose exit runs no destructors.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The folders of the checks now running.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A temporary folder, removed when dropped or by [`remove_all`].
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new(prefix: &str) -> std::io::Result<Scratch> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
        live().push(dir.path().to_path_buf());
        Ok(Scratch { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        live().retain(|path| path != self.dir.path());
    }
}

/// Removes every folder still in use: the process is about to exit without dropping them.
pub fn remove_all() {
    for path in live().drain(..) {
        let _ = std::fs::remove_dir_all(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_goes_when_dropped_or_when_all_are_removed() {
        let kept = Scratch::new("tensorlings-test").unwrap();
        let dropped = Scratch::new("tensorlings-test").unwrap();
        let (kept_path, dropped_path) = (kept.path().to_path_buf(), dropped.path().to_path_buf());
        drop(dropped);
        assert!(!dropped_path.exists());
        assert!(kept_path.exists());
        remove_all();
        assert!(!kept_path.exists());
        // Dropping it afterwards is harmless.
        drop(kept);
    }
}
