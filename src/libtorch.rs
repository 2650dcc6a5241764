//! Finding or installing the libtorch that the course's `tch` needs, and pointing cargo at it.
//!
//! Order: `LIBTORCH` if set; else the one recorded in `.cargo/config.toml` by an earlier setup;
//! else tensorlings' own install in the user cache dir; else a Python on PATH whose torch has
//! the right version; else an install from the Python package index into a venv in the user
//! cache dir, shared by every checkout on the machine: CPU only where there is no NVIDIA driver
//! (torch without its 3.5 GB of CUDA dependencies, see `plan`), with CUDA where there is one;
//! `setup --cuda` completes a CPU-only install later.

mod pip;
pub mod plan;
mod prebuild;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::course::Course;
use crate::state::write_atomically;
use pip::Venv;
pub use plan::Kind;
use prebuild::Prebuild;

const GB: u64 = 1_000_000_000;

/// The variable `.cargo/config.toml` marks a CPU-only install with, and the mark: the support
/// library's build script (support/build.rs) then links no CUDA part.
const KIND_VAR: &str = "TENSORLINGS_LIBTORCH_KIND";
const CPU_ONLY_MARK: &str = "cpu-only";

const CONFIG_HEADER: &str = "# Written by `tensorlings setup`";

#[derive(Debug, Clone)]
pub struct Libtorch {
    /// The folder with `include/` and `lib/` (LIBTORCH).
    pub root: PathBuf,
    /// As the install names itself, e.g. `2.13.0+cu130`; `None` when it does not say.
    pub version: Option<String>,
    /// Where it was found, for messages.
    pub source: String,
    /// What it can load: as recorded for tensorlings' own install; elsewhere, with CUDA when
    /// it has `libtorch_cuda`.
    pub kind: Kind,
}

/// The install record that tensorlings writes last, so a folder without it is unfinished.
#[derive(Serialize, Deserialize)]
struct Installed {
    libtorch: PathBuf,
    version: String,
    /// Records written before CPU-only installs existed have none: they were full installs.
    #[serde(default = "full_install")]
    kind: Kind,
}

/// The record of a finished install of tensorlings' whose libtorch is `dir`, if `dir` is one:
/// it sits in `torch-VERSION/`, a few folders above `torch-VERSION/venv/lib/.../torch`.
fn record_beside(dir: &Path) -> Option<Installed> {
    dir.ancestors().skip(1).take(6).find_map(|folder| {
        let text = std::fs::read_to_string(folder.join("installed.toml")).ok()?;
        let installed: Installed = toml::from_str(&text).ok()?;
        (installed.libtorch == dir).then_some(installed)
    })
}

fn full_install() -> Kind {
    Kind::WithCuda
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
    /// `.cargo/config.toml` so that plain cargo and rust-analyzer build the course too. On a
    /// machine with an NVIDIA driver, a CPU-only install of tensorlings' own is completed first
    /// (the driver came after the install, or the cache is shared with a machine without one).
    pub fn ensure(&self, allow_install: bool) -> Result<Libtorch> {
        let libtorch = match self.find()? {
            Some(found)
                if allow_install && found.kind == Kind::CpuOnly && self.is_own(&found) && nvidia_driver() =>
            {
                eprintln!(
                    "This machine has an NVIDIA driver, and libtorch is installed for the CPU only: adding its CUDA part."
                );
                self.add_cuda()?
            }
            Some(found) => found,
            None if allow_install => {
                self.install(if nvidia_driver() { Kind::WithCuda } else { Kind::CpuOnly })?
            }
            None => bail!(
                "libtorch {} was not found; run `{1} setup` to install it (or `{1} setup --check` to see where tensorlings looked)",
                self.version,
                self.invoke
            ),
        };
        self.write_cargo_config(&libtorch)?;
        Ok(libtorch)
    }

    /// `setup --cuda`: libtorch with its CUDA part, completing a CPU-only install of
    /// tensorlings' own. A libtorch from elsewhere that has none is an error that says what to do.
    pub fn ensure_cuda(&self) -> Result<Libtorch> {
        let libtorch = match self.find()? {
            Some(found) if found.kind == Kind::WithCuda => found,
            Some(found) if self.is_own(&found) => self.add_cuda()?,
            Some(found) => bail!(
                "the libtorch in use ({}, {}) has no CUDA part: point LIBTORCH at a CUDA build of libtorch {}, or unset it \
                 and run `{} setup --cuda` to let tensorlings install one",
                found.root.display(),
                found.source,
                self.version,
                self.invoke
            ),
            None => self.install(Kind::WithCuda)?,
        };
        self.write_cargo_config(&libtorch)?;
        Ok(libtorch)
    }

    fn is_own(&self, libtorch: &Libtorch) -> bool {
        libtorch.root.starts_with(self.install_dir())
    }

    /// Looks in every place but installs nothing. Errors only when `LIBTORCH` is set to
    /// something unusable: the learner asked for that one, so silently using another would
    /// surprise them.
    pub fn find(&self) -> Result<Option<Libtorch>> {
        if let Some(dir) = std::env::var_os("LIBTORCH") {
            let dir = PathBuf::from(dir);
            return match self.validate(&dir, "the LIBTORCH environment variable", None) {
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
                    // tensorlings' own install counts only with its record, written last: its
                    // folder may hold a half-finished install, and its kind is in the record.
                    Some(dir) if dir.starts_with(self.install_dir()) => match self.own_record() {
                        Some(installed) if installed.libtorch == dir => self.probe_dir(
                            &config.display().to_string(),
                            &dir,
                            "recorded in .cargo/config.toml by an earlier setup",
                            Some(installed.kind),
                        ),
                        _ => Probe {
                            place: config.display().to_string(),
                            finding: format!(
                                "{} is not a finished install of tensorlings' (it will be redone)",
                                dir.display()
                            ),
                            usable: None,
                        },
                    },
                    // Another cache folder's install of tensorlings' (XDG_CACHE_HOME changed):
                    // its record beside it still says its kind.
                    Some(dir) => self.probe_dir(
                        &config.display().to_string(),
                        &dir,
                        "recorded in .cargo/config.toml by an earlier setup",
                        record_beside(&dir).map(|installed| installed.kind),
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
                let finding = match self.own_record() {
                    Some(installed) => {
                        return self.probe_dir(
                            &install.display().to_string(),
                            &installed.libtorch,
                            "tensorlings' own install",
                            Some(installed.kind),
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
                        None,
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

    /// The record of tensorlings' own install, when the install finished.
    fn own_record(&self) -> Option<Installed> {
        let text = std::fs::read_to_string(self.install_dir().join("installed.toml")).ok()?;
        toml::from_str(&text).ok()
    }

    fn probe_dir(&self, place: &str, dir: &Path, source: &str, kind: Option<Kind>) -> Probe {
        match self.validate(dir, source, kind) {
            Ok(found) => Probe {
                place: place.to_string(),
                finding: format!(
                    "libtorch {}, {}, at {}",
                    found.version.as_deref().unwrap_or("(version unknown)"),
                    found.kind,
                    dir.display()
                ),
                usable: Some(found),
            },
            Err(e) => Probe { place: place.to_string(), finding: format!("{e:#}"), usable: None },
        }
    }

    /// Checks that `dir` is a libtorch of the right version. `kind` is what its install record
    /// says; without one, a libtorch with `libtorch_cuda` counts as with CUDA.
    fn validate(&self, dir: &Path, source: &str, kind: Option<Kind>) -> Result<Libtorch> {
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
        let kind = kind.unwrap_or_else(|| {
            let has_cuda =
                ["libtorch_cuda.so", "libtorch_cuda.dylib"].iter().any(|name| lib.join(name).is_file());
            if has_cuda { Kind::WithCuda } else { Kind::CpuOnly }
        });
        Ok(Libtorch { root: dir.to_path_buf(), version, source: source.to_string(), kind })
    }

    /// Takes the install lock: two processes racing are serialized. The other one may have
    /// finished the install meanwhile, which the caller checks after.
    fn lock_install(&self) -> Result<File> {
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
        Ok(lock)
    }

    /// Installs torch from the Python package index into a venv in the user cache dir: for
    /// `Kind::CpuOnly`, torch without its dependencies plus the packages that hold the two
    /// libraries libtorch_cpu loads (read from torch's METADATA); for `Kind::WithCuda`, torch
    /// with all of them. Meanwhile the course's dependencies are compiled (see `prebuild`). An
    /// interrupted install is detected by its missing record and redone.
    pub fn install(&self, kind: Kind) -> Result<Libtorch> {
        let _lock = self.lock_install()?;
        if let Some(found) = self.probe(Place::Cache).usable {
            return Ok(found);
        }
        // Elsewhere than Linux the torch wheel has no CUDA part to leave out.
        let kind = if cfg!(target_os = "linux") { kind } else { Kind::WithCuda };
        let dir = self.install_dir();
        if dir.exists() {
            eprintln!("A previous libtorch install in {} did not finish; starting it over.", dir.display());
            std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        let python = python_program();
        check_python(&python)?;
        let (download, on_disk) = match kind {
            Kind::CpuOnly => ("about 540 MB", 2),
            Kind::WithCuda => ("about 2.7 GB", 6),
        };
        check_free_space(&cache_dir(), on_disk * GB)?;
        let why = match kind {
            Kind::CpuOnly => format!(
                ", CPU only (no NVIDIA driver found): torch without its CUDA libraries.\n\
                 `{} setup --cuda` adds them later",
                self.invoke
            ),
            Kind::WithCuda => ", with CUDA: torch and its CUDA libraries".to_string(),
        };
        eprintln!(
            "Installing libtorch {version} once for this machine{why}\n\
             ({download} to download from the Python package index, {on_disk} GB on disk) into\n  {dir}\n\
             Every tensorlings checkout on this machine shares it. Set LIBTORCH to use a libtorch you already have.",
            version = self.version,
            dir = dir.display()
        );
        // The course's dependencies compile meanwhile: the download and the unpacking leave
        // the cores mostly idle. First those that do not need libtorch...
        let first_stage = Prebuild::without_libtorch(self.course);
        let venv = Venv::create(&python, &dir.join("venv"), self.invoke)?;
        let torch = format!("torch=={}", self.version);
        venv.pip_install(&[torch], kind == Kind::CpuOnly, self.invoke)?;
        let site = venv.site_packages()?;
        let libtorch = site.join("torch");
        let version = read_version(&libtorch).with_context(|| {
            format!(
                "pip installed torch, but {} has no version.py: the install is unusable",
                libtorch.display()
            )
        })?;
        // ...then, torch's headers being there, libtorch's C++ bindings and the support
        // library, while pip adds the CUDA libraries. The config points at the install from
        // now on; until the record is written, nothing trusts it (see `probe`).
        let provisional = Libtorch {
            root: libtorch.clone(),
            version: Some(version.clone()),
            source: "tensorlings' own install".into(),
            kind,
        };
        let prebuild = match self.write_cargo_config(&provisional) {
            Ok(()) => Prebuild::with_libtorch(self.course, first_stage),
            // A config file of the learner's own: `ensure` reports it once the install is
            // recorded, rather than losing the download to it now.
            Err(_) => first_stage,
        };
        if kind == Kind::CpuOnly {
            self.install_cpu_libraries(&venv, &site)?;
        }
        let missing = pip::missing_libraries(&libtorch.join("lib").join("libtorch_cpu.so"));
        if !missing.is_empty() {
            bail!(
                "libtorch_cpu cannot load {} after the install: please report this at tensorlings' issue tracker, \
                 and meanwhile run `{} setup --cuda` for a full install",
                missing.join(", "),
                self.invoke
            );
        }
        let found = self.record(Installed { libtorch, version, kind })?;
        eprintln!(
            "libtorch {} ({}) is installed.",
            found.version.as_deref().unwrap_or(self.version),
            found.kind
        );
        if let Some(prebuild) = prebuild {
            prebuild.finish();
        }
        Ok(found)
    }

    /// The packages that hold the libraries libtorch_cpu loads, by torch's METADATA. With
    /// their dependencies: those are only what the meta-package pins for the chosen extras.
    fn install_cpu_libraries(&self, venv: &Venv, site: &Path) -> Result<()> {
        let torch_metadata = pip::installed_metadata(site, "torch")?;
        let packages = plan::cpu_only_plan(&torch_metadata)
            .map_err(|e| anyhow::anyhow!("{e}: run `{} setup --cuda` for a full install", self.invoke))?;
        venv.pip_install(&packages, false, self.invoke)
    }

    /// `setup --cuda` on a CPU-only install: pip adds torch's missing dependencies (torch
    /// itself is already there). The record changes only once they are all in, so an
    /// interrupted attempt leaves a working CPU-only install.
    fn add_cuda(&self) -> Result<Libtorch> {
        let _lock = self.lock_install()?;
        let installed = self.own_record().context("tensorlings' own libtorch install has no record")?;
        if installed.kind == Kind::WithCuda {
            return self.validate(&installed.libtorch, "tensorlings' own install", Some(installed.kind));
        }
        check_free_space(&cache_dir(), 4 * GB)?;
        eprintln!(
            "Adding the CUDA part to libtorch {}: torch's CUDA libraries (about 2.2 GB to download, 4 GB on disk).",
            self.version
        );
        let venv = Venv::open(&self.install_dir().join("venv"));
        venv.pip_install(&[format!("torch=={}", self.version)], false, self.invoke)?;
        let found = self.record(Installed { kind: Kind::WithCuda, ..installed })?;
        eprintln!(
            "libtorch {} ({}) is installed.",
            found.version.as_deref().unwrap_or(self.version),
            found.kind
        );
        Ok(found)
    }

    /// Writes the install record (last: a folder without one is an unfinished install).
    fn record(&self, installed: Installed) -> Result<Libtorch> {
        let text = toml::to_string(&installed).context("cannot serialize the install record")?;
        write_atomically(&self.install_dir().join("installed.toml"), text.as_bytes())?;
        self.validate(&installed.libtorch, "tensorlings' own install", Some(installed.kind))
    }

    /// Records `libtorch` for cargo, and whether it is a CPU-only install (the support
    /// library's build script then links no CUDA part; `setup --cuda` removes the mark, which
    /// reruns that script and relinks the course).
    /// Skipped when the file already says the same, so its timestamp does not change.
    fn write_cargo_config(&self, libtorch: &Libtorch) -> Result<()> {
        let path = self.config_path();
        let mut text = format!(
            "{CONFIG_HEADER} for this machine (git-ignored): where libtorch is, for cargo and\n\
             # rust-analyzer. Delete it and run `tensorlings setup` to look again.\n[env]\nLIBTORCH = {}\n",
            toml::Value::String(libtorch.root.to_string_lossy().into_owned())
        );
        // Only a CPU-only install says so: the config of an install with CUDA stays as it was
        // before kinds existed, so that checkouts sharing a target dir agree on the variable
        // (a change of it reruns the support library's build script).
        if libtorch.kind == Kind::CpuOnly {
            text.push_str(&format!("{KIND_VAR} = \"{CPU_ONLY_MARK}\"\n"));
        }
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

/// Forgets the `LIBTORCH` and `TENSORLINGS_LIBTORCH_KIND` that cargo put in our environment
/// from `.cargo/config.toml` (it does so for `cargo run`): those values are the ones setup
/// recorded, not the learner's own choice, so they must neither outrank the other places nor
/// stop setup from replacing them when they are stale (children would inherit the stale value,
/// which outranks the config's). Children (cargo building the course) then read the config's
/// current values themselves.
///
/// Call it before any thread starts: it changes the process environment.
pub fn forget_inherited_libtorch(course: &Course) {
    let config = course.root.join(".cargo").join("config.toml");
    let configured = read_config_env(&config);
    for var in ["LIBTORCH", KIND_VAR] {
        let inherited = std::env::var(var).ok();
        if inherited.is_some() && inherited.as_deref() == configured.get(var).and_then(|v| v.as_str()) {
            // SAFETY: called from main before any other thread exists, so nothing reads the
            // environment concurrently.
            unsafe { std::env::remove_var(var) };
        }
    }
}

/// Whether this machine has an NVIDIA driver, as the support library's build script decides
/// it: `TENSORLINGS_CUDA=1` or `0` says so; else the driver's files.
fn nvidia_driver() -> bool {
    match std::env::var("TENSORLINGS_CUDA").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => ["/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0"]
            .iter()
            .any(|path| Path::new(path).exists()),
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

/// The wheels are unpacked straight from the download (pip runs with --no-cache-dir), so
/// `needed` is about what ends up on disk.
fn check_free_space(dir: &Path, needed: u64) -> Result<()> {
    let Some(free) = free_bytes(dir) else { return Ok(()) };
    if free < needed {
        bail!(
            "only {:.1} GB is free in {}, and libtorch needs about {} GB: free some space, or set XDG_CACHE_HOME to a folder on a larger disk",
            free as f64 / 1e9,
            dir.display(),
            needed / GB
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
    Some(PathBuf::from(read_config_env(config).get("LIBTORCH")?.as_str()?))
}

/// The `[env]` table of a cargo config file; empty when there is none or it does not parse.
fn read_config_env(config: &Path) -> toml::Table {
    let table =
        std::fs::read_to_string(config).ok().and_then(|text| toml::from_str::<toml::Table>(&text).ok());
    match table.and_then(|mut t| t.remove("env")) {
        Some(toml::Value::Table(env)) => env,
        _ => toml::Table::new(),
    }
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
