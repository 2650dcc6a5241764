//! Finding or installing the libtorch that the course's `tch` needs, and pointing cargo at it.
//!
//! Order: `LIBTORCH` if set; else the one recorded in `.cargo/config.toml` by an earlier setup;
//! else tensorlings' own install in the user cache dir; else a Python on PATH whose torch has
//! the right version; else `pip install torch==VERSION` into a venv in the user cache dir,
//! shared by every checkout on the machine.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::course::Course;
use crate::state::write_atomically;

/// Free disk space the install needs: the wheels are unpacked straight from the download
/// (pip runs with --no-cache-dir), about 5 GB in all.
const REQUIRED_FREE_BYTES: u64 = 6 * 1024 * 1024 * 1024;

const CONFIG_HEADER: &str = "# Written by `tensorlings setup`";

#[derive(Debug, Clone)]
pub struct Libtorch {
    /// The folder with `include/` and `lib/` (LIBTORCH).
    pub root: PathBuf,
    /// As the install names itself, e.g. `2.13.0+cu130`; `None` when it does not say.
    pub version: Option<String>,
    /// Where it was found, for messages.
    pub source: String,
}

/// The install record that tensorlings writes last, so a folder without it is unfinished.
#[derive(Serialize, Deserialize)]
struct Installed {
    libtorch: PathBuf,
    version: String,
}

/// What `setup --check` reports about one place libtorch can come from.
pub struct Probe {
    pub place: String,
    pub finding: String,
    pub usable: Option<Libtorch>,
}

/// The places libtorch is looked for after `LIBTORCH`.
#[derive(Clone, Copy)]
enum Place {
    /// `.cargo/config.toml`, written by an earlier setup.
    Config,
    /// tensorlings' own install in the user cache dir.
    Cache,
    /// The torch of a Python on PATH.
    Python,
}

impl Place {
    const IN_ORDER: [Place; 3] = [Place::Config, Place::Cache, Place::Python];
}

pub struct Provisioner<'a> {
    course: &'a Course,
    /// The version the course needs, e.g. `2.13.0`.
    version: &'a str,
    /// How tensorlings was started (`tensorlings`, `cargo run --`), for suggested commands.
    invoke: &'a str,
}

impl<'a> Provisioner<'a> {
    /// `None` when the course needs no libtorch.
    pub fn for_course(course: &'a Course, invoke: &'a str) -> Option<Self> {
        let version = course.info.course.libtorch.as_deref()?;
        Some(Self { course, version, invoke })
    }

    pub fn version(&self) -> &str {
        self.version
    }

    fn config_path(&self) -> PathBuf {
        self.course.root.join(".cargo").join("config.toml")
    }

    fn install_dir(&self) -> PathBuf {
        cache_dir().join(format!("torch-{}", self.version))
    }

    /// Finds libtorch, installing it when allowed and nothing is found, and records it in
    /// `.cargo/config.toml` so that plain cargo and rust-analyzer build the course too.
    pub fn ensure(&self, allow_install: bool) -> Result<Libtorch> {
        let libtorch = match self.find()? {
            Some(found) => found,
            None if allow_install => self.install()?,
            None => bail!(
                "libtorch {} was not found; run `{1} setup` to install it (or `{1} setup --check` to see where tensorlings looked)",
                self.version,
                self.invoke
            ),
        };
        self.write_cargo_config(&libtorch)?;
        Ok(libtorch)
    }

    /// Looks in every place but installs nothing. Errors only when `LIBTORCH` is set to
    /// something unusable: the learner asked for that one, so silently using another would
    /// surprise them.
    pub fn find(&self) -> Result<Option<Libtorch>> {
        if let Some(dir) = std::env::var_os("LIBTORCH") {
            let dir = PathBuf::from(dir);
            return match self.validate(&dir, "the LIBTORCH environment variable") {
                Ok(found) => Ok(Some(found)),
                Err(e) => Err(e.context(format!(
                    "LIBTORCH is set to {}, which cannot be used; fix it, or unset it to let tensorlings install libtorch {}",
                    dir.display(),
                    self.version
                ))),
            };
        }
        Ok(Place::IN_ORDER.iter().find_map(|&place| self.probe(place).usable))
    }

    /// Every place but `LIBTORCH`, in order of preference, with what was found there (for
    /// `setup --check`, which shows them all).
    pub fn probes(&self) -> Vec<Probe> {
        Place::IN_ORDER.iter().map(|&place| self.probe(place)).collect()
    }

    /// What one place holds. Looking in Python costs an `import torch` (seconds), so `find`
    /// stops at the first place that has a usable libtorch.
    fn probe(&self, place: Place) -> Probe {
        match place {
            Place::Config => {
                let config = self.config_path();
                match read_configured(&config) {
                    Some(dir) => self.probe_dir(
                        &config.display().to_string(),
                        &dir,
                        "recorded in .cargo/config.toml by an earlier setup",
                    ),
                    None => Probe {
                        place: config.display().to_string(),
                        finding: "no libtorch recorded yet".into(),
                        usable: None,
                    },
                }
            }
            Place::Cache => {
                let install = self.install_dir();
                let record = install.join("installed.toml");
                let installed =
                    std::fs::read_to_string(&record).ok().and_then(|t| toml::from_str::<Installed>(&t).ok());
                let finding = match installed {
                    Some(installed) => {
                        return self.probe_dir(
                            &install.display().to_string(),
                            &installed.libtorch,
                            "tensorlings' own install",
                        );
                    }
                    None if install.exists() => "an unfinished install (it will be redone)",
                    None => "not installed",
                };
                Probe { place: install.display().to_string(), finding: finding.into(), usable: None }
            }
            Place::Python => {
                let python = python_program();
                match query_python_torch(&python) {
                    Ok((version, dir)) if version_matches(&version, self.version) => self.probe_dir(
                        &format!("{} (torch {version})", python.display()),
                        &dir,
                        "Python's torch",
                    ),
                    Ok((version, _)) => Probe {
                        place: python.display().to_string(),
                        finding: format!("has torch {version}, not {}", self.version),
                        usable: None,
                    },
                    Err(why) => Probe { place: python.display().to_string(), finding: why, usable: None },
                }
            }
        }
    }

    fn probe_dir(&self, place: &str, dir: &Path, source: &str) -> Probe {
        match self.validate(dir, source) {
            Ok(found) => Probe {
                place: place.to_string(),
                finding: format!(
                    "libtorch {} at {}",
                    found.version.as_deref().unwrap_or("(version unknown)"),
                    dir.display()
                ),
                usable: Some(found),
            },
            Err(e) => Probe { place: place.to_string(), finding: format!("{e:#}"), usable: None },
        }
    }

    fn validate(&self, dir: &Path, source: &str) -> Result<Libtorch> {
        let lib = dir.join("lib");
        let has_lib = ["libtorch_cpu.so", "libtorch_cpu.dylib"].iter().any(|name| lib.join(name).is_file());
        if !has_lib {
            bail!("{} has no lib/libtorch_cpu library", dir.display());
        }
        if !dir.join("include").join("torch").is_dir() {
            bail!("{} has no include/torch headers", dir.display());
        }
        let version = read_version(dir);
        if let Some(found) = &version
            && !version_matches(found, self.version)
        {
            bail!("{} is libtorch {found}, but the course needs {}", dir.display(), self.version);
        }
        Ok(Libtorch { root: dir.to_path_buf(), version, source: source.to_string() })
    }

    /// Installs torch from the Python package index into a venv in the user cache dir. Two
    /// processes racing are serialized by a lock file; an interrupted install is detected by
    /// its missing record and redone.
    pub fn install(&self) -> Result<Libtorch> {
        let cache = cache_dir();
        std::fs::create_dir_all(&cache)
            .with_context(|| format!("cannot create the cache folder {}", cache.display()))?;
        let lock_path = cache.join(format!("torch-{}.lock", self.version));
        let lock =
            File::create(&lock_path).with_context(|| format!("cannot create {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            eprintln!("Another tensorlings is installing libtorch; waiting for it to finish...");
            lock.lock().with_context(|| format!("cannot lock {}", lock_path.display()))?;
        }
        // The other process may have finished the install while we waited.
        if let Some(found) = self.probe(Place::Cache).usable {
            return Ok(found);
        }

        let dir = self.install_dir();
        if dir.exists() {
            eprintln!("A previous libtorch install in {} did not finish; starting it over.", dir.display());
            std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        let python = python_program();
        check_python(&python)?;
        check_free_space(&cache)?;
        eprintln!(
            "Installing libtorch {version} once for this machine: `pip install torch=={version}` from the Python package index\n\
             (the torch wheel with its CUDA libraries: about 4.7 GB to download, 5 GB on disk) into\n  {dir}\n\
             Every tensorlings checkout on this machine shares it. Set LIBTORCH to use a libtorch you already have.",
            version = self.version,
            dir = dir.display()
        );
        let venv = dir.join("venv");
        let output = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .with_context(|| format!("cannot run {}", python.display()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let advice = if stderr.contains("ensurepip") || stderr.contains("venv") {
                format!(
                    "Python's venv module is missing: on Debian or Ubuntu run `sudo apt install python3-venv`, then `{} setup`",
                    self.invoke
                )
            } else {
                "see the error above".to_string()
            };
            bail!("`{} -m venv` failed: {advice}\n{}", python.display(), stderr.trim());
        }
        let venv_python = venv.join("bin").join("python");
        let status = Command::new(&venv_python)
            .args(["-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check"])
            .arg(format!("torch=={}", self.version))
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", venv_python.display()))?;
        if !status.success() {
            bail!(
                "pip could not install torch=={} (exit code {}). If pip's error above is about the network, check the connection \
                 or proxy (pip honours HTTPS_PROXY); if it is about space, free some disk. Then run `{} setup` again: the \
                 unfinished install is removed first.",
                self.version,
                self.invoke,
                status.code().unwrap_or(-1)
            );
        }
        let (version, libtorch) = query_python_torch(&venv_python)
            .map_err(|why| anyhow::anyhow!("torch was installed but cannot be imported: {why}"))?;
        let record = Installed { libtorch, version };
        let text = toml::to_string(&record).context("cannot serialize the install record")?;
        write_atomically(&dir.join("installed.toml"), text.as_bytes())?;
        eprintln!("libtorch {} is installed.", record.version);
        drop(lock);
        self.validate(&record.libtorch, "tensorlings' own install")
    }

    /// Records `libtorch` for cargo. Skipped when the file already says the same, so its
    /// timestamp does not change.
    fn write_cargo_config(&self, libtorch: &Libtorch) -> Result<()> {
        let path = self.config_path();
        let mut text = format!(
            "{CONFIG_HEADER} for this machine (git-ignored): where libtorch is, for cargo and\n\
             # rust-analyzer. Delete it and run `tensorlings setup` to look again.\n[env]\nLIBTORCH = {}\n",
            toml::Value::String(libtorch.root.to_string_lossy().into_owned())
        );
        // tch's build checks the exact version; a matching minor release works as well.
        if libtorch.version.as_deref().is_some_and(|v| !v.starts_with(self.version)) {
            text.push_str("LIBTORCH_BYPASS_VERSION_CHECK = \"1\"\n");
        }
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => return Ok(()),
            Ok(existing) if !existing.starts_with(CONFIG_HEADER) => bail!(
                "{} exists and was not written by tensorlings; add `[env] LIBTORCH = \"{}\"` to it yourself, or move it away",
                path.display(),
                libtorch.root.display()
            ),
            _ => {}
        }
        write_atomically(&path, text.as_bytes())
    }
}

/// Forgets a `LIBTORCH` that cargo put in our environment from `.cargo/config.toml` (it does
/// so for `cargo run`): that value is the one setup recorded, not the learner's own choice, so
/// it must neither outrank the other places nor stop setup from replacing it when it is stale.
/// Children (cargo building the course) then read the config's current value themselves.
///
/// Call it before any thread starts: it changes the process environment.
pub fn forget_inherited_libtorch(course: &Course) {
    let config = course.root.join(".cargo").join("config.toml");
    let inherited = std::env::var_os("LIBTORCH").map(PathBuf::from);
    if inherited.is_some() && inherited == read_configured(&config) {
        // SAFETY: called from main before any other thread exists, so nothing reads the
        // environment concurrently.
        unsafe { std::env::remove_var("LIBTORCH") };
    }
}

/// `$XDG_CACHE_HOME/tensorlings`, else `~/.cache/tensorlings`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("tensorlings")
}

/// The Python to look for torch in and to build the venv with: `TENSORLINGS_PYTHON`, else
/// `python3`.
fn python_program() -> PathBuf {
    std::env::var_os("TENSORLINGS_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

fn check_python(python: &Path) -> Result<()> {
    match Command::new(python).arg("--version").output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => {
            bail!("{} --version failed: {}", python.display(), String::from_utf8_lossy(&output.stderr).trim())
        }
        Err(_) => bail!(
            "{} was not found: tensorlings installs libtorch with Python's pip. Install Python 3 with venv and pip \
             (Debian/Ubuntu: `sudo apt install python3 python3-venv python3-pip`; macOS: `brew install python`), \
             or set LIBTORCH to a libtorch you already have",
            python.display()
        ),
    }
}

fn check_free_space(dir: &Path) -> Result<()> {
    let Some(free) = free_bytes(dir) else { return Ok(()) };
    if free < REQUIRED_FREE_BYTES {
        bail!(
            "only {:.1} GB is free in {}, and libtorch needs about {} GB: free some space, or set XDG_CACHE_HOME to a folder on a larger disk",
            free as f64 / 1e9,
            dir.display(),
            REQUIRED_FREE_BYTES / 1_000_000_000
        );
    }
    Ok(())
}

fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: statvfs writes the struct when it returns 0, and only then is it read.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    #[allow(clippy::unnecessary_cast)] // the field types differ between Linux and macOS
    Some(stats.f_bavail as u64 * stats.f_frsize as u64)
}

/// Asks `python` for its torch's version and folder. The error says why in a few words.
fn query_python_torch(python: &Path) -> std::result::Result<(String, PathBuf), String> {
    let script = "import os, torch; print(torch.__version__); print(os.path.dirname(torch.__file__))";
    let output = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .map_err(|_| "not found".to_string())?;
    if !output.status.success() {
        return Err("torch is not installed there".into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    match (lines.next(), lines.next()) {
        (Some(version), Some(dir)) => Ok((version.trim().to_string(), PathBuf::from(dir.trim()))),
        _ => Err(format!("unexpected answer: {}", stdout.trim())),
    }
}

/// The libtorch folder named in a config file written by [`Provisioner::write_cargo_config`].
fn read_configured(config: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(config).ok()?;
    let value: toml::Table = toml::from_str(&text).ok()?;
    Some(PathBuf::from(value.get("env")?.get("LIBTORCH")?.as_str()?))
}

/// The version an install names itself by: `build-version` in a libtorch zip, `version.py` in
/// Python's torch.
fn read_version(dir: &Path) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(dir.join("build-version")) {
        return Some(text.trim().to_string());
    }
    let text = std::fs::read_to_string(dir.join("version.py")).ok()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix("__version__")?.trim_start().strip_prefix('=')?.trim();
        Some(value.trim_matches(['\'', '"']).to_string())
    })
}

/// `2.13.0+cu130` and `2.13.1` match `2.13.0`: the same major and minor release.
fn version_matches(found: &str, wanted: &str) -> bool {
    let release = |v: &str| -> Vec<String> {
        v.split('+').next().unwrap_or("").split('.').take(2).map(str::to_string).collect()
    };
    release(found) == release(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_on_major_and_minor() {
        assert!(version_matches("2.13.0+cu130", "2.13.0"));
        assert!(version_matches("2.13.1", "2.13.0"));
        assert!(!version_matches("2.12.0", "2.13.0"));
        assert!(!version_matches("2.1.3", "2.13.0"));
    }

    #[test]
    fn reads_both_version_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_version(dir.path()), None);
        std::fs::write(dir.path().join("version.py"), "x = 1\n__version__ = '2.13.0+cu130'\n").unwrap();
        assert_eq!(read_version(dir.path()).as_deref(), Some("2.13.0+cu130"));
        std::fs::write(dir.path().join("build-version"), "2.13.0+cpu\n").unwrap();
        assert_eq!(read_version(dir.path()).as_deref(), Some("2.13.0+cpu"));
    }

    #[test]
    fn reads_the_configured_path() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, "# x\n[env]\nLIBTORCH = \"/opt/torch\"\n").unwrap();
        assert_eq!(read_configured(&config), Some(PathBuf::from("/opt/torch")));
        std::fs::write(&config, "[env]\nOTHER = \"1\"\n").unwrap();
        assert_eq!(read_configured(&config), None);
    }

    #[test]
    fn free_space_is_readable() {
        assert!(free_bytes(Path::new("/")).is_some());
        assert!(free_bytes(Path::new("/no/such/folder")).is_none());
    }
}
