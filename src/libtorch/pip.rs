//! The venv that tensorlings installs torch into, and running its pip.
//!
//! Nothing here imports torch: a CPU-only install has none of torch's Python dependencies, so
//! `import torch` fails there. Paths and versions come from the venv's `sysconfig` and from
//! files (METADATA, torch/version.py).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::plan::normalize;

pub struct Venv {
    python: PathBuf,
}

impl Venv {
    /// Creates the venv at `dir` with `python`. `invoke` is for the advice on failure.
    pub fn create(python: &Path, dir: &Path, invoke: &str) -> Result<Self> {
        let output = Command::new(python)
            .args(["-m", "venv"])
            .arg(dir)
            .output()
            .with_context(|| format!("cannot run {}", python.display()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let advice = if stderr.contains("ensurepip") || stderr.contains("venv") {
                format!(
                    "Python's venv module is missing: on Debian or Ubuntu run `sudo apt install python3-venv`, then `{invoke} setup`"
                )
            } else {
                "see the error above".to_string()
            };
            bail!("`{} -m venv` failed: {advice}\n{}", python.display(), stderr.trim());
        }
        Ok(Self::open(dir))
    }

    /// A venv made earlier (it may not exist: running it then fails with a clear error).
    pub fn open(dir: &Path) -> Self {
        Self { python: dir.join("bin").join("python") }
    }

    /// `pip install` of `packages`, showing pip's own output: with a terminal, its progress bar
    /// in bytes; without one, a line per file with its size. `no_deps` installs exactly the
    /// packages named. The error says what to do; `invoke` is for the suggested command.
    pub fn pip_install(&self, packages: &[String], no_deps: bool, invoke: &str) -> Result<()> {
        let mut command = Command::new(&self.python);
        // --no-compile: pip would byte-compile torch's thousands of Python files, a good part of
        // the install's time, for a Python that never imports them (only libtorch is used).
        // --no-warn-conflicts: a CPU-only install leaves torch's Python dependencies out on
        // purpose, and pip would list each as "required, which is not installed".
        command.args([
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--no-compile",
            "--disable-pip-version-check",
            "--no-warn-conflicts",
        ]);
        if no_deps {
            command.arg("--no-deps");
        }
        let status = command
            .args(packages)
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", self.python.display()))?;
        if !status.success() {
            bail!(
                "pip could not install {} (exit code {}). If pip's error above is about the network, check the connection \
                 or proxy (pip honours HTTPS_PROXY); if it is about space, free some disk. Then run `{invoke} setup` again: \
                 an unfinished install is removed first.",
                packages.join(" "),
                status.code().unwrap_or(-1),
            );
        }
        Ok(())
    }

    /// The venv's site-packages folder, where torch/ and the `*.dist-info` folders are.
    pub fn site_packages(&self) -> Result<PathBuf> {
        let output = Command::new(&self.python)
            .args(["-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", self.python.display()))?;
        let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !output.status.success() || path.is_empty() {
            bail!(
                "{} cannot say where its site-packages are: {}",
                self.python.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(PathBuf::from(path))
    }
}

/// The METADATA of the installed distribution `name` in `site_packages`.
pub fn installed_metadata(site_packages: &Path, name: &str) -> Result<String> {
    let wanted = normalize(name);
    let entries = std::fs::read_dir(site_packages)
        .with_context(|| format!("cannot read {}", site_packages.display()))?;
    for entry in entries.flatten() {
        let folder = entry.file_name();
        let folder = folder.to_string_lossy();
        // `cuda_toolkit-13.0.3.0.dist-info`: the name ends at the first `-`.
        let Some(stem) = folder.strip_suffix(".dist-info") else { continue };
        let Some((dist, _version)) = stem.split_once('-') else { continue };
        if normalize(dist) == wanted {
            let path = entry.path().join("METADATA");
            return std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()));
        }
    }
    bail!("{name} is not installed in {} (no {name}-*.dist-info folder)", site_packages.display())
}

/// The libraries `library` needs that the dynamic loader cannot find, by `ldd` (Linux). Empty
/// when all are found, or when there is no `ldd` to ask.
pub fn missing_libraries(library: &Path) -> Vec<String> {
    let Ok(output) = Command::new("ldd").arg(library).stdin(Stdio::null()).output() else {
        return Vec::new();
    };
    // `\tlibcudart.so.13 => not found`
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("=> not found"))
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_found_by_normalized_name() {
        let site = tempfile::tempdir().unwrap();
        let info = site.path().join("cuda_toolkit-13.0.3.0.dist-info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(info.join("METADATA"), "Name: cuda-toolkit\n").unwrap();
        std::fs::create_dir_all(site.path().join("torch")).unwrap();
        assert_eq!(installed_metadata(site.path(), "cuda-toolkit").unwrap(), "Name: cuda-toolkit\n");
        assert_eq!(installed_metadata(site.path(), "Cuda_Toolkit").unwrap(), "Name: cuda-toolkit\n");
        let err = installed_metadata(site.path(), "torch").unwrap_err().to_string();
        assert!(err.contains("torch is not installed"), "{err}");
    }

    #[test]
    fn a_library_with_everything_found_misses_nothing() {
        // The test binary itself: every library it needs is there, or it would not run.
        let exe = std::env::current_exe().unwrap();
        assert_eq!(missing_libraries(&exe), Vec::<String>::new());
    }
}
