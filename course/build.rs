//! Build script of the course package.
//!
//! 1. Tells check binaries where to take the exercise from (`TENSORLINGS_SUBJECT_DIR`, default
//!    `exercises/`) and the solution from (`TENSORLINGS_SOLUTIONS_DIR`, default `solutions/`):
//!    see docs/check-protocol.md. The runner sets both, so that a target dir shared by two
//!    checkouts (a global `build.target-dir`) never builds one checkout's checks against the
//!    other's files: cargo would reuse this script's output from the other checkout otherwise.
//! 2. Makes every binary start without LD_LIBRARY_PATH and use CUDA where there is a GPU.

use std::path::Path;

fn main() {
    // At run time, not `env!`: the compiled script may be shared with another checkout.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).parent().expect("course/ has a parent");
    for (var, default) in
        [("TENSORLINGS_SUBJECT_DIR", "exercises"), ("TENSORLINGS_SOLUTIONS_DIR", "solutions")]
    {
        println!("cargo:rerun-if-env-changed={var}");
        let dir = std::env::var(var).unwrap_or_else(|_| root.join(default).display().to_string());
        println!("cargo:rustc-env={var}={dir}");
    }

    // The support library's build script reads libtorch's lib dir from torch-sys and passes it
    // on (links = "tensorlings_support").
    let lib = std::env::var("DEP_TENSORLINGS_SUPPORT_LIBTORCH_LIB")
        .expect("tensorlings-support passes on the libtorch lib dir");
    // libtorch has no RUNPATH of its own in our binaries: without this they need
    // LD_LIBRARY_PATH to start.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    // The support library decides whether to link libtorch's CUDA part (where libtorch has one
    // and the machine an NVIDIA driver); tch refers to none of its symbols, so without
    // --no-as-needed the linker would drop it and CUDA would be unavailable even on a GPU.
    if std::env::var("DEP_TENSORLINGS_SUPPORT_LINK_CUDA").as_deref() == Ok("1") {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
