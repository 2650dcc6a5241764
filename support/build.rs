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
    build
        .cpp(true)
        .std("c++17")
        .file("cpp/autograd_shim.cpp")
        .file("cpp/memory_shim.cpp")
        .file("cpp/profile_shim.cpp");
    // -isystem rather than -I: libtorch's headers are not warning-clean, ours should be.
    for dir in [include.clone(), include.join("torch/csrc/api/include")] {
        build.flag("-isystem").flag(dir.to_str().expect("non-UTF-8 libtorch path"));
    }
    // Must match the ABI libtorch was built with (pip wheels: 1), as torch-sys does.
    let abi = env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    build.define("_GLIBCXX_USE_CXX11_ABI", abi.as_str());
    build.compile("tensorlings_shim");

    // Whether binaries link libtorch's CUDA part: see `links_cuda`. The course package's build
    // script reads this as DEP_TENSORLINGS_SUPPORT_LINK_CUDA, and this crate's tests as an env var.
    let cuda = links_cuda(&lib);
    println!("cargo:link_cuda={}", u8::from(cuda));
    // The GPU tests run where CUDA is linked, and are reported as ignored elsewhere rather than
    // passing without testing anything; TENSORLINGS_REQUIRE_GPU=1 runs them anyway (and they
    // fail without a GPU), so a GPU machine that lost its driver cannot pass silently.
    println!("cargo:rerun-if-env-changed=TENSORLINGS_REQUIRE_GPU");
    println!("cargo:rustc-check-cfg=cfg(tensorlings_gpu_tests)");
    if cuda || env::var("TENSORLINGS_REQUIRE_GPU").as_deref() == Ok("1") {
        println!("cargo:rustc-cfg=tensorlings_gpu_tests");
    }
    println!("cargo:rustc-env=TENSORLINGS_LINKED_CUDA={}", u8::from(cuda));

    // Link arguments for this crate's own tests, examples and binaries (Cargo does not pass
    // rustc-link-arg on to dependents; the course package's build script does the same).
    let lib_dir = lib.display();
    match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("linux") => {
            if cuda {
                // tch refers to no symbol of libtorch_cuda, so the linker's default
                // --as-needed would drop it and CUDA would be unavailable even on a GPU. The
                // wheel's libtorch.so depends on libtorch_cuda.so, so linking it keeps CUDA.
                println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
                println!("cargo:rustc-link-arg=-ltorch");
                println!("cargo:rustc-link-arg=-Wl,--as-needed");
            }
            // Find libtorch at run time without LD_LIBRARY_PATH.
            println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
        }
        Ok("macos") => println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}"),
        _ => {}
    }
}

/// Link the CUDA part of libtorch when there is one and this machine has an NVIDIA driver.
/// Loading it costs about 0.15 s at every start of a check, which a machine without a GPU
/// would pay for nothing. `TENSORLINGS_CUDA=1` (or `0`) decides instead, e.g. after a driver
/// is installed (a rebuild is needed then: cargo cannot watch for drivers).
///
/// A CPU-only install of tensorlings' own has `libtorch_cuda.so` but not the CUDA libraries it
/// loads: `tensorlings setup` marks it with `TENSORLINGS_LIBTORCH_KIND = "cpu-only"` in the
/// course's `.cargo/config.toml`, and `setup --cuda` removes the mark, which reruns this script
/// and relinks.
fn links_cuda(lib: &std::path::Path) -> bool {
    println!("cargo:rerun-if-env-changed=TENSORLINGS_CUDA");
    println!("cargo:rerun-if-env-changed=TENSORLINGS_LIBTORCH_KIND");
    let cpu_only_install = env::var("TENSORLINGS_LIBTORCH_KIND").as_deref() == Ok("cpu-only");
    let has_cuda_part =
        !cpu_only_install && lib.join("libtorch.so").exists() && lib.join("libtorch_cuda.so").exists();
    match env::var("TENSORLINGS_CUDA").as_deref() {
        Ok("1") => has_cuda_part,
        Ok("0") => false,
        _ => {
            let driver = ["/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0"];
            has_cuda_part && driver.iter().any(|path| std::path::Path::new(path).exists())
        }
    }
}
