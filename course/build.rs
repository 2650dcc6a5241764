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
    // The support library decides whether to link libtorch's CUDA part (where libtorch has one
    // and the machine an NVIDIA driver); tch refers to none of its symbols, so without
    // --no-as-needed the linker would drop it and CUDA would be unavailable even on a GPU.
    if std::env::var("DEP_TENSORLINGS_SUPPORT_LINK_CUDA").as_deref() == Ok("1") {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
