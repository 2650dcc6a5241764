//! `tensorlings setup` installing libtorch, without network: a fake `python3` stands in for
//! Python, its venv and pip (it records every pip command and lays out a torch-shaped
//! site-packages), and a fake cargo records the build started during the install.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::Course;
use predicates::prelude::*;
use tempfile::TempDir;

/// torch 2.13.0's requirements as its METADATA on Linux states them (shortened).
const TORCH_METADATA: &str = "Metadata-Version: 2.4\nName: torch\nVersion: 2.13.0\n\
Requires-Dist: filelock\n\
Requires-Dist: cuda-toolkit[cublas,cudart,cufft,cupti,nvrtc]==13.0.3; platform_system == \"Linux\"\n\
Requires-Dist: nvidia-cudnn-cu13==9.20.0.48; platform_system == \"Linux\"\n\
Requires-Dist: triton==3.7.1; platform_system == \"Linux\" and python_version < \"3.15\"\n\
Requires-Dist: optree>=0.13.0; extra == \"optree\"\n\nThe description.\n";

/// Python, venv and pip in one shell script. `python3 -m venv DIR` copies the script to
/// DIR/bin/python; that one answers sysconfig's site-packages and `-m pip install`, which it
/// appends to $FAKE_PIP_LOG and carries out by writing the files tensorlings reads.
const FAKE_PYTHON: &str = r#"#!/bin/sh
venv="$(dirname "$(dirname "$0")")"
site="$venv/lib/site-packages"
case "$1" in
  --version) echo "Python 3.11.7"; exit 0 ;;
  -c) case "$2" in
        *sysconfig*) echo "$site"; exit 0 ;;
        *) echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1 ;;
      esac ;;
esac
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin" "$3/lib/site-packages" && cp "$0" "$3/bin/python" && exit 0
fi
if [ "$1 $2 $3" = "-m pip install" ]; then
  shift 3
  echo "$*" >> "$FAKE_PIP_LOG"
  if [ -n "$FAKE_PIP_FAIL" ]; then echo "ERROR: Could not find a version that satisfies the requirement" >&2; exit 1; fi
  for arg in "$@"; do
    case "$arg" in
      torch==*)
        mkdir -p "$site/torch/lib" "$site/torch/include/torch" "$site/torch-2.13.0.dist-info"
        : > "$site/torch/lib/libtorch_cpu.so"; : > "$site/torch/lib/libtorch_cuda.so"
        echo "__version__ = '2.13.0+cu130'" > "$site/torch/version.py"
        cp "$FAKE_TORCH_METADATA" "$site/torch-2.13.0.dist-info/METADATA" ;;
    esac
  done
  exit 0
fi
echo "fake python: unexpected arguments: $*" >&2
exit 2
"#;

/// Records its arguments, the LIBTORCH it was given and the kind the course's config records,
/// one line per run.
const FAKE_CARGO: &str =
    "#!/bin/sh\necho \"$* LIBTORCH=$LIBTORCH $(grep -s KIND .cargo/config.toml)\" >> \"$FAKE_CARGO_LOG\"\n";

struct Machine {
    dir: TempDir,
}

impl Machine {
    fn new() -> Self {
        let machine = Machine { dir: tempfile::tempdir().unwrap() };
        machine.script("bin/python3", FAKE_PYTHON);
        machine.script("bin/cargo", FAKE_CARGO);
        std::fs::write(machine.path("torch-METADATA"), TORCH_METADATA).unwrap();
        machine
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn script(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `tensorlings ARGS` in `course` on this machine; `driver` plays TENSORLINGS_CUDA.
    fn setup(&self, course: &Course, args: &[&str], driver: bool) -> assert_cmd::Command {
        let mut command = course.cmd(args);
        command
            .env("TENSORLINGS_PYTHON", self.path("bin/python3"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("CARGO", self.path("bin/cargo"))
            .env("TENSORLINGS_CUDA", if driver { "1" } else { "0" })
            .env("FAKE_PIP_LOG", self.path("pip.log"))
            .env("FAKE_CARGO_LOG", self.path("cargo.log"))
            .env("FAKE_TORCH_METADATA", self.path("torch-METADATA"));
        command
    }

    fn pip_commands(&self) -> Vec<String> {
        read_lines(&self.path("pip.log"))
    }

    fn install_dir(&self) -> PathBuf {
        self.path("cache/tensorlings/torch-2.13.0")
    }

    fn record(&self) -> String {
        std::fs::read_to_string(self.install_dir().join("installed.toml")).unwrap()
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

fn libtorch_course() -> Course {
    let course = Course::new();
    course.edit_info("[course]\n", "[course]\nlibtorch = \"2.13.0\"\n");
    course
}

const PIP: &str = "--no-cache-dir --no-compile --disable-pip-version-check --no-warn-conflicts";

#[test]
fn without_a_driver_only_what_libtorch_cpu_loads_is_installed() {
    let machine = Machine::new();
    let course = libtorch_course();
    machine
        .setup(&course, &["setup"], false)
        .assert()
        .success()
        .stderr(predicate::str::contains("CPU only (no NVIDIA driver found)"))
        .stderr(predicate::str::contains("setup --cuda` adds them later"))
        .stdout(predicate::str::contains("libtorch 2.13.0+cu130, CPU only (tensorlings' own install)"));
    // torch alone, then only the extras `cudart` and `cupti` of the meta-package that its
    // METADATA requires (pip installs the two packages the meta-package pins for them).
    assert_eq!(
        machine.pip_commands(),
        [format!("{PIP} --no-deps torch==2.13.0"), format!("{PIP} cuda-toolkit[cudart,cupti]==13.0.3")]
    );
    assert!(machine.record().contains("kind = \"cpu-only\""), "{}", machine.record());
    let config = course.read(".cargo/config.toml");
    assert!(config.contains("TENSORLINGS_LIBTORCH_KIND = \"cpu-only\""), "{config}");

    // The course's dependencies were compiled meanwhile: first by the same build as the real
    // one (`--keep-going`) with a LIBTORCH that stops torch-sys at once, before the config
    // existed; then, torch being there and the config pointing at it, the support library.
    let cargo = read_lines(&machine.path("cargo.log"));
    assert_eq!(cargo.len(), 2, "{cargo:?}");
    let manifest = course.path("course/Cargo.toml").display().to_string();
    assert!(cargo[0].starts_with(&format!("build --manifest-path {manifest} --keep-going LIBTORCH=")));
    assert!(cargo[0].contains("tensorlings-no-libtorch") && !cargo[0].contains("KIND"), "{}", cargo[0]);
    assert_eq!(
        cargo[1],
        format!(
            "build --manifest-path {manifest} --package tensorlings-support --lib LIBTORCH= TENSORLINGS_LIBTORCH_KIND = \"cpu-only\""
        )
    );

    // Found again without installing anything, and reported with its kind.
    machine
        .setup(&course, &["setup", "--check"], false)
        .assert()
        .success()
        .stdout(predicate::str::contains("libtorch 2.13.0+cu130, CPU only, at"));
    assert_eq!(machine.pip_commands().len(), 2);
}

#[test]
fn setup_cuda_adds_the_rest_and_changes_what_the_course_links() {
    let machine = Machine::new();
    let course = libtorch_course();
    machine.setup(&course, &["setup"], false).assert().success();
    machine
        .setup(&course, &["setup", "--cuda"], false)
        .assert()
        .success()
        .stderr(predicate::str::contains("Adding the CUDA part"))
        .stdout(predicate::str::contains("libtorch 2.13.0+cu130, with CUDA"))
        .stdout(predicate::str::contains("links libtorch's CUDA part on its next build"));
    // pip completes torch's dependencies; torch itself is already there.
    assert_eq!(machine.pip_commands().last().unwrap(), &format!("{PIP} torch==2.13.0"));
    assert!(machine.record().contains("kind = \"with-cuda\""));
    // The CPU-only mark is gone: the support library's build script reruns on this change
    // and links the CUDA part (where there is a driver).
    let config = course.read(".cargo/config.toml");
    assert!(!config.contains("TENSORLINGS_LIBTORCH_KIND"), "{config}");
    assert!(config.contains("venv/lib/site-packages/torch"), "{config}");
    // Once is enough.
    machine.setup(&course, &["setup", "--cuda"], false).assert().success();
    assert_eq!(machine.pip_commands().len(), 3);
}

#[test]
fn with_a_driver_torch_comes_with_all_its_dependencies() {
    let machine = Machine::new();
    let course = libtorch_course();
    machine
        .setup(&course, &["setup"], true)
        .assert()
        .success()
        .stderr(predicate::str::contains("with CUDA: torch and its CUDA libraries"))
        .stdout(predicate::str::contains("with CUDA"));
    assert_eq!(machine.pip_commands(), [format!("{PIP} torch==2.13.0")]);
    assert!(machine.record().contains("kind = \"with-cuda\""));
}

#[test]
fn a_cpu_only_install_is_completed_once_a_driver_is_there() {
    let machine = Machine::new();
    let course = libtorch_course();
    machine.setup(&course, &["setup"], false).assert().success();
    machine
        .setup(&course, &["setup"], true)
        .assert()
        .success()
        .stderr(predicate::str::contains("has an NVIDIA driver, and libtorch is installed for the CPU only"));
    assert_eq!(machine.pip_commands().last().unwrap(), &format!("{PIP} torch==2.13.0"));
    assert!(machine.record().contains("kind = \"with-cuda\""));
}

#[test]
fn a_failed_install_is_reported_and_redone_from_scratch() {
    let machine = Machine::new();
    let course = libtorch_course();
    machine
        .setup(&course, &["setup"], false)
        .env("FAKE_PIP_FAIL", "1")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pip could not install torch==2.13.0"))
        .stderr(predicate::str::contains("check the connection"));
    assert!(!machine.install_dir().join("installed.toml").exists());
    machine
        .setup(&course, &["setup", "--check"], false)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("an unfinished install (it will be redone)"));
    // A file left by the failed attempt must not survive the new one.
    std::fs::write(machine.install_dir().join("leftover"), "").unwrap();
    machine
        .setup(&course, &["setup"], false)
        .assert()
        .success()
        .stderr(predicate::str::contains("did not finish; starting it over"));
    assert!(!machine.install_dir().join("leftover").exists());
    assert!(machine.record().contains("kind = \"cpu-only\""));
}

#[test]
fn a_torch_whose_metadata_names_no_cuda_runtime_is_refused_with_advice() {
    let machine = Machine::new();
    std::fs::write(machine.path("torch-METADATA"), "Name: torch\nVersion: 2.13.0\nRequires-Dist: filelock\n")
        .unwrap();
    let course = libtorch_course();
    machine
        .setup(&course, &["setup"], false)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("names no package that holds libcudart"))
        .stderr(predicate::str::contains("setup --cuda` for a full install"));
    assert!(!machine.install_dir().join("installed.toml").exists());
}

#[test]
fn an_install_recorded_before_kinds_existed_counts_as_full() {
    let machine = Machine::new();
    let course = libtorch_course();
    machine.setup(&course, &["setup"], true).assert().success();
    let record = machine.record().replace("kind = \"with-cuda\"\n", "");
    std::fs::write(machine.install_dir().join("installed.toml"), record).unwrap();
    machine
        .setup(&course, &["setup", "--check"], false)
        .assert()
        .success()
        .stdout(predicate::str::contains("libtorch 2.13.0+cu130, with CUDA, at"));
}

#[test]
fn setup_cuda_with_a_cpu_libtorch_of_ones_own_says_what_to_do() {
    let machine = Machine::new();
    let course = libtorch_course();
    let libtorch = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(libtorch.path().join("lib")).unwrap();
    std::fs::create_dir_all(libtorch.path().join("include/torch")).unwrap();
    std::fs::write(libtorch.path().join("lib/libtorch_cpu.so"), "").unwrap();
    std::fs::write(libtorch.path().join("build-version"), "2.13.0+cpu\n").unwrap();
    machine
        .setup(&course, &["setup", "--cuda"], false)
        .env("LIBTORCH", libtorch.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has no CUDA part"))
        .stderr(predicate::str::contains("unset it"));
    machine.setup(&course, &["setup"], false).env("LIBTORCH", libtorch.path()).assert().success().stdout(
        predicate::str::contains("libtorch 2.13.0+cpu, CPU only (the LIBTORCH environment variable)"),
    );
    assert!(machine.pip_commands().is_empty());
}

#[test]
fn an_install_without_its_record_is_not_trusted_even_where_the_config_points() {
    let machine = Machine::new();
    let course = libtorch_course();
    machine.setup(&course, &["setup"], false).assert().success();
    // As if the install had stopped before its last step: every file there but the record.
    std::fs::remove_file(machine.install_dir().join("installed.toml")).unwrap();
    machine
        .setup(&course, &["setup", "--check"], false)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("is not a finished install of tensorlings' (it will be redone)"))
        .stdout(predicate::str::contains("an unfinished install (it will be redone)"));
    machine
        .setup(&course, &["setup"], false)
        .assert()
        .success()
        .stderr(predicate::str::contains("did not finish; starting it over"));
    assert_eq!(machine.pip_commands().len(), 4, "{:?}", machine.pip_commands());
}

#[test]
fn a_cargo_config_of_ones_own_is_reported_after_the_install_not_instead_of_it() {
    let machine = Machine::new();
    let course = libtorch_course();
    course.write(".cargo/config.toml", "[build]\njobs = 1\n");
    machine
        .setup(&course, &["setup"], false)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("exists and was not written by tensorlings"));
    // The install is kept (nothing is downloaded again), and the file left as it was.
    assert!(machine.record().contains("kind = \"cpu-only\""));
    assert_eq!(course.read(".cargo/config.toml"), "[build]\njobs = 1\n");
    // Without a config pointing at libtorch, the second stage of the compilation cannot run.
    assert_eq!(read_lines(&machine.path("cargo.log")).len(), 1);
}

/// `.cargo/config.toml` may point at an install made under another cache folder
/// (`XDG_CACHE_HOME` changed): its record still says it is CPU-only, though the torch wheel
/// holds `libtorch_cuda`, and the config keeps its mark.
#[test]
fn an_install_under_another_cache_folder_keeps_its_kind() {
    let machine = Machine::new();
    let course = libtorch_course();
    machine.setup(&course, &["setup"], false).assert().success();
    assert!(course.read(".cargo/config.toml").contains("TENSORLINGS_LIBTORCH_KIND = \"cpu-only\""));
    machine
        .setup(&course, &["setup"], false)
        .env("XDG_CACHE_HOME", machine.path("another-cache"))
        .assert()
        .success()
        .stdout(predicate::str::contains("CPU only (recorded in .cargo/config.toml by an earlier setup)"));
    assert!(course.read(".cargo/config.toml").contains("TENSORLINGS_LIBTORCH_KIND = \"cpu-only\""));
}
