//! Compiles the C++ shim (cpp/) against the libtorch that torch-sys found, passes that libtorch
//! on to dependents, and makes this crate's own test binaries start without LD_LIBRARY_PATH.

use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");

    // torch-sys declares `links = "tch"` and prints `cargo:libtorch_lib=<dir>`; Cargo hands it
    // to crates that depend on torch-sys directly. Canonical, so that the rpath and the
    // include paths below hold no `..` or symlink.
    let lib = env::var("DEP_TCH_LIBTORCH_LIB").expect(
        "DEP_TCH_LIBTORCH_LIB is not set: torch-sys found no libtorch (set LIBTORCH, or \
         LIBTORCH_USE_PYTORCH=1 with the right python first on PATH)",
    );
    let lib = fs::canonicalize(&lib).unwrap_or_else(|e| panic!("libtorch lib dir {lib}: {e}"));
    let include = lib.join("../include");

    // The course package's build script reads this as DEP_TENSORLINGS_SUPPORT_LIBTORCH_LIB
    // (this crate declares `links = "tensorlings_support"`).
    println!("cargo:libtorch_lib={}", lib.display());

    let mut build = cc::Build::new();
    build.cpp(true).std("c++17").file("cpp/autograd_shim.cpp");
    // -isystem rather than -I: libtorch's headers are not warning-clean, ours should be.
    for dir in [include.clone(), include.join("torch/csrc/api/include")] {
        build.flag("-isystem").flag(dir.to_str().expect("non-UTF-8 libtorch path"));
    }
    // Must match the ABI libtorch was built with (pip wheels: 1), as torch-sys does.
    let abi = env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    build.define("_GLIBCXX_USE_CXX11_ABI", abi.as_str());
    build.compile("tensorlings_autograd_shim");

    // Link arguments for this crate's own tests, examples and binaries (Cargo does not pass
    // rustc-link-arg on to dependents; the course package's build script does the same).
    let lib_dir = lib.display();
    match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("linux") => {
            // The linker's default --as-needed drops libraries no symbol refers to, which
            // drops libtorch_cuda: CUDA would be unavailable even on a GPU machine.
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            // The wheel's libtorch.so has libtorch_cuda.so (when there is one) as a
            // dependency, so linking it keeps the CUDA backend.
            if lib.join("libtorch.so").exists() {
                println!("cargo:rustc-link-arg=-ltorch");
            }
            // Find libtorch at run time without LD_LIBRARY_PATH.
            println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
        }
        Ok("macos") => println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}"),
        _ => {}
    }
}
