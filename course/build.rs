//! Build script of the course package.
//!
//! 1. Tells check binaries where to take the exercise from (`TENSORLINGS_SUBJECT_DIR`, default
//!    `exercises/`) and the solution from (`TENSORLINGS_SOLUTIONS_DIR`): see
//!    docs/check-protocol.md. `tensorlings dev check` points the first at `solutions/`.
//! 2. Makes every binary start without LD_LIBRARY_PATH and use CUDA where there is a GPU.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("course/ has a parent");
    println!("cargo:rerun-if-env-changed=TENSORLINGS_SUBJECT_DIR");
    let subject = std::env::var("TENSORLINGS_SUBJECT_DIR")
        .unwrap_or_else(|_| root.join("exercises").display().to_string());
    println!("cargo:rustc-env=TENSORLINGS_SUBJECT_DIR={subject}");
    println!("cargo:rustc-env=TENSORLINGS_SOLUTIONS_DIR={}", root.join("solutions").display());

    // The support library's build script reads libtorch's lib dir from torch-sys and passes it
    // on (links = "tensorlings_support").
    let lib = std::env::var("DEP_TENSORLINGS_SUPPORT_LIBTORCH_LIB")
        .expect("tensorlings-support passes on the libtorch lib dir");
    // libtorch has no RUNPATH of its own in our binaries: without this they need
    // LD_LIBRARY_PATH to start.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    if cfg!(target_os = "linux") && Path::new(&lib).join("libtorch.so").exists() {
        // tch references only libtorch_cpu, so the linker's --as-needed would drop the CUDA
        // part and `Cuda::is_available()` would be false even on a GPU machine. The wheel's
        // libtorch.so depends on libtorch_cuda.so, so linking it keeps CUDA in.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
