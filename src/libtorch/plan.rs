//! What a libtorch install holds (CPU only, or with CUDA), and which of torch's dependencies a
//! CPU-only install needs, read from the wheels' own metadata rather than written down here.
//!
//! On Linux the torch wheel is the CUDA build: `libtorch_cpu.so` itself loads two CUDA
//! libraries (the runtime and the profiling interface) from other wheels, through its RPATH;
//! everything else in torch's dependencies (about 3.5 GB of CUDA libraries, triton, and
//! Python-only packages) serves `libtorch_cuda.so` or Python alone. So a machine without an
//! NVIDIA driver needs torch without its dependencies plus the wheels that hold those two.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which parts of libtorch an install can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// torch without its dependencies, plus the libraries libtorch_cpu loads: CUDA cannot be
    /// linked. `setup --cuda` completes it.
    CpuOnly,
    /// torch with every dependency (on Linux: the CUDA libraries). Installs made before kinds
    /// existed were all of this kind.
    WithCuda,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::CpuOnly => "CPU only",
            Kind::WithCuda => "with CUDA",
        })
    }
}

/// A shared library outside the torch wheel that `libtorch_cpu.so` loads, and where the
/// CUDA wheels keep it: in a package of its own (`nvidia-cuda-runtime`, `-cu12` for older
/// torch), which torch 2.13 requires through an extra of the `cuda-toolkit` meta-package.
struct CudaLibrary {
    file: &'static str,
    package: &'static str,
    extra: &'static str,
}

/// Read from `readelf -d libtorch_cpu.so` (NEEDED) of torch 2.13.0: the only libraries it needs
/// from outside its own folder and the system.
const NEEDED_BY_LIBTORCH_CPU: [CudaLibrary; 2] = [
    CudaLibrary { file: "libcudart", package: "nvidia-cuda-runtime", extra: "cudart" },
    CudaLibrary { file: "libcupti", package: "nvidia-cuda-cupti", extra: "cupti" },
];

/// One `Requires-Dist` line of a wheel's METADATA, e.g.
/// `cuda-toolkit[cudart,cupti]==13.0.3; platform_system == "Linux"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub extras: Vec<String>,
    /// As written, e.g. `==13.0.96.*` or `<14,>=13.0.3`; empty for any version.
    pub version: String,
    /// The environment marker after `;`, if any.
    pub marker: Option<String>,
}

impl Requirement {
    pub fn parse(text: &str) -> Option<Self> {
        let (spec, marker) = match text.split_once(';') {
            Some((spec, marker)) => (spec.trim(), Some(marker.trim().to_string())),
            None => (text.trim(), None),
        };
        let name_end =
            spec.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))).unwrap_or(spec.len());
        let name = &spec[..name_end];
        if name.is_empty() {
            return None;
        }
        let mut rest = spec[name_end..].trim_start();
        let mut extras = Vec::new();
        if let Some(after) = rest.strip_prefix('[') {
            let (list, after) = after.split_once(']')?;
            extras = list.split(',').map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
            rest = after.trim_start();
        }
        // Older metadata writes the version in parentheses: `foo (>=1.0)`.
        let version = rest.trim_start_matches('(').trim_end_matches(')').replace(' ', "");
        Some(Requirement { name: name.to_string(), extras, version, marker })
    }

    /// The extra this requirement belongs to (`... and extra == 'cudart'`), if any: such a
    /// requirement applies only when the extra is asked for.
    pub fn extra(&self) -> Option<&str> {
        let marker = self.marker.as_deref()?;
        let after = &marker[marker.find("extra")? + "extra".len()..];
        let after = after.trim_start().strip_prefix("==")?.trim_start();
        let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let value = &after[1..];
        Some(&value[..value.find(quote)?])
    }

    /// The name as pip compares it (PEP 503): lower case, runs of `-_.` as one `-`.
    pub fn normalized_name(&self) -> String {
        normalize(&self.name)
    }

    /// For pip's command line, without extras: `nvidia-cuda-runtime==13.0.96.*`.
    pub fn pip_arg(&self) -> String {
        format!("{}{}", self.name, self.version)
    }

    /// `nvidia-cuda-runtime` holds for `nvidia-cuda-runtime` and `nvidia-cuda-runtime-cu12`.
    fn is_package(&self, package: &str) -> bool {
        let name = self.normalized_name();
        name == package || name.strip_prefix(package).is_some_and(|rest| rest.starts_with("-cu"))
    }
}

/// PEP 503 normalization: `Cuda_Toolkit` and `cuda.toolkit` are both `cuda-toolkit`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Every `Requires-Dist` of a METADATA file, in order. Lines that do not parse are skipped:
/// the plan then reports what it could not find.
pub fn requirements(metadata: &str) -> Vec<Requirement> {
    metadata
        .lines()
        // The headers end at the first empty line; the description follows.
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.strip_prefix("Requires-Dist:"))
        .filter_map(Requirement::parse)
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
pub enum PlanError {
    /// No requirement of torch's says where this library is.
    NoPackageFor(&'static str),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::NoPackageFor(file) => write!(
                f,
                "torch's METADATA names no package that holds {file} (looked for `{}` or a `cuda-toolkit` extra)",
                package_of(file)
            ),
        }
    }
}

fn package_of(file: &str) -> &'static str {
    NEEDED_BY_LIBTORCH_CPU.iter().find(|l| l.file == file).map_or("?", |l| l.package)
}

/// What a CPU-only install adds to torch, as pip arguments, read from torch's METADATA: the
/// packages that hold the libraries libtorch_cpu loads, with the version torch pins, e.g.
/// `nvidia-cuda-runtime-cu12==12.8.90`; where torch requires them through extras of a
/// meta-package, that package with only those extras, e.g. `cuda-toolkit[cudart,cupti]==13.0.3`
/// (pip then installs the packages the meta-package pins for them, and nothing else).
pub fn cpu_only_plan(torch_metadata: &str) -> Result<Vec<String>, PlanError> {
    // Requirements of torch's own extras (`optree`, ...) are never installed by plain pip.
    let required: Vec<Requirement> =
        requirements(torch_metadata).into_iter().filter(|r| r.extra().is_none()).collect();
    let mut packages = Vec::new();
    let mut meta: Option<(&Requirement, Vec<&str>)> = None;
    for library in &NEEDED_BY_LIBTORCH_CPU {
        if let Some(own) = required.iter().find(|r| r.is_package(library.package)) {
            packages.push(own.pip_arg());
        } else if let Some(holder) = required.iter().find(|r| r.extras.iter().any(|e| e == library.extra)) {
            meta.get_or_insert_with(|| (holder, Vec::new())).1.push(library.extra);
        } else {
            return Err(PlanError::NoPackageFor(library.file));
        }
    }
    if let Some((holder, extras)) = meta {
        packages.push(format!("{}[{}]{}", holder.name, extras.join(","), holder.version));
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Requires-Dist lines of torch 2.13.0's METADATA on Linux (x86_64), as installed.
    const TORCH_2_13: &str = "Metadata-Version: 2.4\nName: torch\nVersion: 2.13.0\n\
Requires-Dist: filelock\n\
Requires-Dist: typing-extensions>=4.10.0\n\
Requires-Dist: sympy>=1.13.3\n\
Requires-Dist: cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.3; platform_system == \"Linux\"\n\
Requires-Dist: cuda-bindings<14,>=13.0.3; platform_system == \"Linux\" and python_version < \"3.15\"\n\
Requires-Dist: nvidia-cudnn-cu13==9.20.0.48; platform_system == \"Linux\"\n\
Requires-Dist: triton==3.7.1; platform_system == \"Linux\" and python_version < \"3.15\"\n\
Requires-Dist: optree>=0.13.0; extra == \"optree\"\n\
Dynamic: requires-dist\n\
\n\
Requires-Dist: this-is-the-description\n";

    #[test]
    fn requirement_lines_parse() {
        let r =
            Requirement::parse("cuda-toolkit[cudart, cupti]==13.0.3; platform_system == \"Linux\"").unwrap();
        assert_eq!(r.name, "cuda-toolkit");
        assert_eq!(r.extras, ["cudart", "cupti"]);
        assert_eq!(r.version, "==13.0.3");
        assert_eq!(r.extra(), None);
        assert_eq!(r.pip_arg(), "cuda-toolkit==13.0.3");

        let r = Requirement::parse(
            "nvidia-cuda-runtime==13.0.96.*; (sys_platform == 'linux') and extra == 'cudart'",
        )
        .unwrap();
        assert_eq!(r.extra(), Some("cudart"));
        assert_eq!(r.pip_arg(), "nvidia-cuda-runtime==13.0.96.*");

        let r = Requirement::parse("Foo_Bar (>=1.0, <2)").unwrap();
        assert_eq!((r.normalized_name().as_str(), r.version.as_str()), ("foo-bar", ">=1.0,<2"));
        assert_eq!(Requirement::parse("filelock").unwrap().pip_arg(), "filelock");
        assert_eq!(Requirement::parse(" ; extra == 'x'"), None);
    }

    #[test]
    fn only_the_header_lines_count() {
        let names: Vec<String> = requirements(TORCH_2_13).iter().map(|r| r.name.clone()).collect();
        assert_eq!(names.len(), 8, "{names:?}");
        assert!(!names.contains(&"this-is-the-description".to_string()));
    }

    #[test]
    fn torch_2_13_needs_two_extras_of_cuda_toolkit() {
        assert_eq!(cpu_only_plan(TORCH_2_13).unwrap(), ["cuda-toolkit[cudart,cupti]==13.0.3"]);
    }

    #[test]
    fn older_torch_names_the_packages_itself() {
        let metadata = "Name: torch\n\
Requires-Dist: nvidia-cuda-runtime-cu12==12.8.90; platform_system == \"Linux\" and platform_machine == \"x86_64\"\n\
Requires-Dist: nvidia-cuda-cupti-cu12==12.8.90; platform_system == \"Linux\" and platform_machine == \"x86_64\"\n\
Requires-Dist: nvidia-cuda-nvrtc-cu12==12.8.93; platform_system == \"Linux\"\n";
        assert_eq!(
            cpu_only_plan(metadata).unwrap(),
            ["nvidia-cuda-runtime-cu12==12.8.90", "nvidia-cuda-cupti-cu12==12.8.90"]
        );
    }

    #[test]
    fn a_torch_without_the_libraries_is_reported() {
        // The extras of torch itself do not count: pip would not install them.
        let metadata = "Name: torch\nRequires-Dist: filelock\nRequires-Dist: nvidia-cuda-runtime==1; extra == \"cuda\"\n";
        assert_eq!(cpu_only_plan(metadata), Err(PlanError::NoPackageFor("libcudart")));
        assert!(PlanError::NoPackageFor("libcudart").to_string().contains("nvidia-cuda-runtime"));
        let cupti_missing = "Requires-Dist: nvidia-cuda-runtime-cu12==12.8.90\n";
        assert_eq!(cpu_only_plan(cupti_missing), Err(PlanError::NoPackageFor("libcupti")));
    }

    #[test]
    fn names_compare_as_pip_does() {
        assert_eq!(normalize("Cuda_Toolkit"), "cuda-toolkit");
        assert_eq!(normalize("a._-b"), "a-b");
        let r = Requirement::parse("nvidia-cuda-runtime-cu12==1").unwrap();
        assert!(r.is_package("nvidia-cuda-runtime"));
        assert!(!Requirement::parse("nvidia-cuda-runtimex==1").unwrap().is_package("nvidia-cuda-runtime"));
    }

    #[test]
    fn kinds_read_back_as_written() {
        #[derive(Serialize, Deserialize)]
        struct Record {
            kind: Kind,
        }
        let text = toml::to_string(&Record { kind: Kind::CpuOnly }).unwrap();
        assert_eq!(text.trim(), "kind = \"cpu-only\"");
        assert_eq!(toml::from_str::<Record>("kind = \"with-cuda\"").unwrap().kind, Kind::WithCuda);
        assert_eq!(Kind::CpuOnly.to_string(), "CPU only");
    }
}
