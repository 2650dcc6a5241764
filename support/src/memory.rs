//! Memory held by libtorch's allocators, as PyTorch's `torch.cuda.memory_stats()` reports it
//! (and, here, on CPU too): the bytes held now, the peak since a reset, and how many
//! allocations were made, with their bytes.
//!
//! ```
//! use tch::{Device, Kind, Tensor};
//! use tensorlings_support::memory;
//!
//! let (sum, m) = memory::measure(Device::Cpu, || {
//!     let x = Tensor::ones([1000], (Kind::Float, Device::Cpu)); // 4000 bytes
//!     x.sum(Kind::Float) // a one-element result: 4 more bytes, kept
//! })?;
//! assert_eq!(m.peak_bytes, 4004);
//! assert_eq!(m.allocations, 2);
//! assert_eq!(m.retained_bytes, 4);
//! assert_eq!(sum.double_value(&[]), 1000.0);
//! # Ok::<(), tensorlings_support::memory::MemoryError>(())
//! ```
//!
//! # What is counted
//!
//! - CPU: libtorch's CPU allocator keeps no statistics, so [`install`] puts a counting wrapper
//!   in its place (`c10::SetCPUAllocator`) that hands every allocation on to the allocator it
//!   replaced. Bytes are exactly what tensors ask for: a float32 tensor of 1000 elements is 4000
//!   bytes (the default allocator aligns to 64 bytes and adds nothing the counts show). Empty
//!   tensors allocate nothing and are not counted. Tensors allocated before the wrapper was
//!   installed are not counted at all, neither when made nor when freed: the harness installs it
//!   before any learner code runs, and [`stats`] installs it on first use.
//! - CUDA: the caching allocator's own statistics (`requested_bytes` and `allocation`), that is
//!   what tensors asked for, as on CPU. The allocator holds more than that (it rounds blocks up
//!   to 512 bytes and keeps freed blocks cached); that is not counted here.
//! - Counts are global to the process and atomic: allocations on every thread are counted, and
//!   [`reset_peak`] (which [`measure`] calls) resets the peak for every thread.
//!
//! # A limit
//!
//! [`set_cpu_limit`] makes an allocation that would take the CPU's current bytes past a limit
//! fail inside libtorch, with the message "tried to allocate 38.1 GiB; the limit is 8 GiB" (a
//! `c10::OutOfMemoryError`, which reaches Rust as a [`tch::TchError`], or as a panic of tch's
//! non-`f_` methods). The runner uses it as a memory ceiling for learner code.

use std::ffi::{CStr, c_char};
use std::fmt;

use tch::Device;

use crate::check::Failure;

/// The start of the message of an allocation refused by [`set_cpu_limit`]'s limit.
pub const LIMIT_ERROR_PREFIX: &str = "tried to allocate ";

/// One allocator's statistics (see [`stats`]). Counts since the process started (or, on CPU,
/// since the counting allocator was installed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryStats {
    /// Bytes held by tensors now.
    pub current_bytes: u64,
    /// The most bytes held at once since the last [`reset_peak`].
    pub peak_bytes: u64,
    /// Allocations served, ever.
    pub allocations: u64,
    /// Of those, how many were freed.
    pub frees: u64,
    /// Bytes of all allocations served, ever.
    pub allocated_bytes: u64,
    /// Bytes of all frees, ever.
    pub freed_bytes: u64,
}

/// What a closure did to an allocator's memory (see [`measure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Measurement {
    /// The most bytes held at once while the closure ran, above the level when it started.
    pub peak_bytes: u64,
    /// Allocations made while the closure ran.
    pub allocations: u64,
    /// Their bytes.
    pub allocated_bytes: u64,
    /// Frees while the closure ran (of tensors made before it, too).
    pub frees: u64,
    /// Their bytes.
    pub freed_bytes: u64,
    /// Bytes held at the end minus bytes held at the start: what the closure kept (its result,
    /// for one); negative when it freed more than it kept.
    pub retained_bytes: i64,
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "peak {} above the start, {} allocation{} of {} in all",
            format_bytes(self.peak_bytes),
            self.allocations,
            if self.allocations == 1 { "" } else { "s" },
            format_bytes(self.allocated_bytes),
        )
    }
}

/// Why memory statistics could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryError {
    /// CUDA statistics were asked for on a machine without CUDA.
    NoCuda,
    /// A device other than CPU and CUDA.
    UnsupportedDevice(Device),
    /// The counting CPU allocator is not the one libtorch uses (another allocator of higher
    /// priority replaced it).
    NotInstalled,
    /// libtorch's CUDA allocator failed, e.g. for a device index that does not exist.
    Cuda(String),
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryError::NoCuda => {
                write!(f, "no CUDA device: memory statistics on CUDA need a GPU")
            }
            MemoryError::UnsupportedDevice(device) => {
                write!(f, "memory statistics exist for the CPU and CUDA devices, not for {device:?}")
            }
            MemoryError::NotInstalled => write!(
                f,
                "the counting CPU allocator is not in use: another CPU allocator of higher \
                 priority replaced it, so CPU memory cannot be measured"
            ),
            MemoryError::Cuda(message) => write!(f, "CUDA memory statistics: {message}"),
        }
    }
}

impl std::error::Error for MemoryError {}

/// In a check, `memory::stats(dev)?` fails the check with the error's message; asking for CUDA
/// statistics without a GPU skips it instead.
impl From<MemoryError> for Failure {
    fn from(error: MemoryError) -> Self {
        match error {
            MemoryError::NoCuda => Failure::skip(error.to_string()),
            other => Failure::new(other.to_string()),
        }
    }
}

/// Installs the counting CPU allocator, once per process (later calls only check that it is
/// still the one in use). The harness calls it before learner code runs; [`stats`],
/// [`reset_peak`], [`measure`] and [`set_cpu_limit`] call it too.
pub fn install() -> Result<(), MemoryError> {
    // SAFETY: no arguments; the shim installs under std::call_once.
    if unsafe { ffi::tl_memory_install() } { Ok(()) } else { Err(MemoryError::NotInstalled) }
}

/// The statistics of the allocator of `device` (`Device::Cpu` or `Device::Cuda(i)`).
pub fn stats(device: Device) -> Result<MemoryStats, MemoryError> {
    let mut raw = ffi::Stats::default();
    match device {
        Device::Cpu => {
            install()?;
            // SAFETY: `raw` is a valid, writable tl_memory_stats.
            unsafe { ffi::tl_memory_cpu_stats(&mut raw) };
        }
        Device::Cuda(index) => {
            // SAFETY: `raw` and `err` are valid for writes; `err` is freed by `cuda_result`.
            cuda_result(|err| unsafe { ffi::tl_memory_cuda_stats(cuda_index(index), &mut raw, err) })?;
        }
        other => return Err(MemoryError::UnsupportedDevice(other)),
    }
    Ok(MemoryStats {
        current_bytes: raw.current_bytes,
        peak_bytes: raw.peak_bytes,
        allocations: raw.allocations,
        frees: raw.frees,
        allocated_bytes: raw.allocated_bytes,
        freed_bytes: raw.freed_bytes,
    })
}

/// Sets the peak of `device`'s allocator to the bytes it holds now, like
/// `torch.cuda.reset_peak_memory_stats()`.
pub fn reset_peak(device: Device) -> Result<(), MemoryError> {
    match device {
        Device::Cpu => {
            install()?;
            // SAFETY: no arguments.
            unsafe { ffi::tl_memory_cpu_reset_peak() };
            Ok(())
        }
        Device::Cuda(index) => {
            // SAFETY: `err` is valid for writes; freed by `cuda_result`.
            cuda_result(|err| unsafe { ffi::tl_memory_cuda_reset_peak(cuda_index(index), err) })
        }
        other => Err(MemoryError::UnsupportedDevice(other)),
    }
}

/// Runs `f` and measures its memory on `device`: the peak above the level at the start, the
/// allocations made and their bytes, what was freed and what was kept. Resets the device's
/// peak (so nested measurements see only their own peak, and an outer one loses the inner peak).
///
/// Like `torch.cuda.reset_peak_memory_stats(); f(); torch.cuda.max_memory_allocated() - before`.
pub fn measure<T>(device: Device, f: impl FnOnce() -> T) -> Result<(T, Measurement), MemoryError> {
    let before = stats(device)?;
    reset_peak(device)?;
    let value = f();
    let after = stats(device)?;
    let measurement = Measurement {
        peak_bytes: after.peak_bytes.saturating_sub(before.current_bytes),
        allocations: after.allocations - before.allocations,
        allocated_bytes: after.allocated_bytes - before.allocated_bytes,
        frees: after.frees - before.frees,
        freed_bytes: after.freed_bytes - before.freed_bytes,
        retained_bytes: after.current_bytes as i64 - before.current_bytes as i64,
    };
    Ok((value, measurement))
}

/// Limits the bytes tensors may hold on the CPU: an allocation that would take the current bytes
/// past `limit` fails inside libtorch with "tried to allocate 38.1 GiB; the limit is 8 GiB".
/// `None` removes the limit. Counts only what the counting allocator counts (see the module).
pub fn set_cpu_limit(limit: Option<u64>) -> Result<(), MemoryError> {
    install()?;
    // SAFETY: plain values.
    unsafe { ffi::tl_memory_set_cpu_limit(limit.is_some(), limit.unwrap_or(0)) };
    Ok(())
}

/// `bytes` in human units, with one decimal where it is needed: "4000 B", "3.9 KiB",
/// "1.5 MiB", "8 GiB", "38.1 GiB" (units of 1024, up to EiB).
pub fn format_bytes(bytes: u64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is valid for `buf.len()` bytes; the shim writes a NUL-terminated text.
    unsafe { ffi::tl_memory_format_bytes(bytes, buf.as_mut_ptr().cast(), buf.len()) };
    CStr::from_bytes_until_nul(&buf).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn cuda_index(index: usize) -> i8 {
    // An index beyond i8 does not exist; the shim reports a negative one as missing.
    i8::try_from(index).unwrap_or(-1)
}

/// Calls a CUDA function of the shim with an error slot and turns its result code into a Result.
fn cuda_result(call: impl FnOnce(*mut *mut c_char) -> i32) -> Result<(), MemoryError> {
    let mut err: *mut c_char = std::ptr::null_mut();
    match call(&mut err) {
        ffi::OK => Ok(()),
        ffi::NO_CUDA => Err(MemoryError::NoCuda),
        _ => Err(MemoryError::Cuda(take_shim_message(err))),
    }
}

/// The message a shim function left in its error slot (a string from malloc, or null), freed.
/// Shared by the shims' Rust sides (`memory`, `profile`).
pub(crate) fn take_shim_message(err: *mut c_char) -> String {
    if err.is_null() {
        return "unknown error".to_string();
    }
    // SAFETY: the shims set `err` to a NUL-terminated string from malloc, freed once, here.
    let text = unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned();
    unsafe { ffi::tl_free_string(err) };
    text
}

mod ffi {
    //! The C ABI of `cpp/memory_shim.h`.
    use std::ffi::c_char;

    pub const OK: i32 = 0;
    pub const NO_CUDA: i32 = 1;

    #[repr(C)]
    #[derive(Default)]
    pub struct Stats {
        pub current_bytes: u64,
        pub peak_bytes: u64,
        pub allocations: u64,
        pub frees: u64,
        pub allocated_bytes: u64,
        pub freed_bytes: u64,
    }

    unsafe extern "C" {
        pub fn tl_memory_install() -> bool;
        pub fn tl_memory_cpu_stats(out: *mut Stats);
        pub fn tl_memory_cpu_reset_peak();
        pub fn tl_memory_set_cpu_limit(has_limit: bool, limit: u64);
        pub fn tl_memory_cuda_stats(device_index: i8, out: *mut Stats, err: *mut *mut c_char) -> i32;
        pub fn tl_memory_cuda_reset_peak(device_index: i8, err: *mut *mut c_char) -> i32;
        pub fn tl_memory_format_bytes(bytes: u64, buf: *mut c_char, len: usize) -> usize;
        /// Defined by the autograd shim; frees a string that a shim function returned.
        pub fn tl_free_string(s: *mut c_char);
    }
}
