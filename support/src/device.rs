//! The device and thread count the runner asked for, read from `TENSORLINGS_DEVICE` and
//! `TENSORLINGS_THREADS`.
//!
//! The runner's `--device cpu|cuda|auto` reaches a check binary (and an exercise run with
//! `tensorlings run`) as the environment variable `TENSORLINGS_DEVICE`; see
//! `docs/check-protocol.md`. Code that creates tensors calls [`device()`] rather than hard-coding
//! `Device::Cpu`, so the same exercise runs on a laptop and on a GPU machine.
//!
//! In an exercise, `let dev = tensorlings_support::device::device();` gives the device to create
//! tensors on. In a check, prefer the harness's `ctx.device()`, which was resolved once for the
//! whole run; a check that only makes sense on a GPU starts with
//! `let dev = tensorlings_support::device::cuda_or_skip()?;`, which turns into a skipped check on
//! a machine without CUDA.

use crate::failure::Failure;
use tch::{Cuda, Device};

/// The environment variable that selects the device: `cpu`, `cuda` or `auto`.
pub const DEVICE_VAR: &str = "TENSORLINGS_DEVICE";

/// The environment variable that limits libtorch's intra-op threads (the runner sets it to 1
/// when it runs several checks in parallel, so they do not fight over the cores).
pub const THREADS_VAR: &str = "TENSORLINGS_THREADS";

/// The skip message of [`cuda_or_skip`] on a machine without CUDA.
pub const NO_CUDA_SKIP: &str = "no CUDA device: this check runs only on a GPU";

/// What `TENSORLINGS_DEVICE` asks for, before it is matched against the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Cpu,
    Cuda,
    Auto,
}

/// Parses the value of `TENSORLINGS_DEVICE`; `None` (unset) and an empty value mean `auto`.
fn parse_request(value: Option<&str>) -> Result<Request, Failure> {
    let Some(raw) = value else {
        return Ok(Request::Auto);
    };
    // Case and surrounding blanks are forgiven: `CUDA ` in a CI file is not worth a failure.
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "auto" => Ok(Request::Auto),
        "cpu" => Ok(Request::Cpu),
        "cuda" => Ok(Request::Cuda),
        _ => Err(Failure::new(format!("{DEVICE_VAR} is `{raw}`, but it must be `cpu`, `cuda` or `auto`"))),
    }
}

/// Matches a request against whether this machine has CUDA. Pure, so it is tested without a GPU.
fn resolve(request: Request, cuda_available: bool) -> Result<Device, Failure> {
    match (request, cuda_available) {
        (Request::Cpu, _) | (Request::Auto, false) => Ok(Device::Cpu),
        (Request::Cuda | Request::Auto, true) => Ok(Device::Cuda(0)),
        (Request::Cuda, false) => Err(Failure::new(
            "CUDA was requested with --device cuda, but no CUDA device is available \
             (run with --device cpu or --device auto instead)",
        )),
    }
}

/// Reads an environment variable, treating a value that is not UTF-8 as an error rather than as
/// unset, so a garbled setting is reported instead of silently ignored.
fn env_var(name: &str) -> Result<Option<String>, Failure> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => {
            Err(Failure::new(format!("{name} is {raw:?}, which is not valid UTF-8")))
        }
    }
}

/// The device the runner asked for, or a [`Failure`] explaining why it cannot be had.
///
/// `auto` (the default) gives `Device::Cuda(0)` when `tch::Cuda::is_available()`, else
/// `Device::Cpu`. `cuda` on a machine without CUDA, and any value other than `cpu`, `cuda` or
/// `auto`, are errors whose message names the problem. Use this where the caller can report an
/// error; [`device()`] panics instead.
pub fn try_device() -> Result<Device, Failure> {
    let request = parse_request(env_var(DEVICE_VAR)?.as_deref())?;
    // Asking libtorch only when needed keeps `--device cpu` from initialising CUDA at all.
    let cuda_available = request != Request::Cpu && Cuda::is_available();
    resolve(request, cuda_available)
}

/// The device to create tensors on, as the runner asked (`TENSORLINGS_DEVICE`).
///
/// For example `Tensor::zeros([2, 3], (Kind::Float, device()))`. Panics with the message of
/// [`try_device`] when the request cannot be met, e.g. when CUDA was requested with
/// `--device cuda` but no CUDA device is available; inside a check the harness turns that panic
/// into a failed check.
#[track_caller]
pub fn device() -> Device {
    match try_device() {
        Ok(device) => device,
        Err(failure) => panic!("{failure}"),
    }
}

/// For a check that only makes sense on a GPU: the CUDA device, or a skip.
///
/// Returns `Err(Failure::skip(..))` with the message "no CUDA device: this check runs only on a
/// GPU" when there is no CUDA device (or the runner asked for `--device cpu`), so
/// `let dev = cuda_or_skip()?;` at the top of a check reports it as skipped, not failed. An
/// invalid `TENSORLINGS_DEVICE`, or `cuda` requested on a machine without CUDA, stays a failure.
pub fn cuda_or_skip() -> Result<Device, Failure> {
    match try_device()? {
        device @ Device::Cuda(_) => Ok(device),
        _ if env_var(DEVICE_VAR)?.is_some_and(|v| v.trim().eq_ignore_ascii_case("cpu")) => {
            Err(Failure::skip("the checks run with --device cpu: this check runs only on a GPU"))
        }
        _ => Err(Failure::skip(NO_CUDA_SKIP)),
    }
}

/// Parses the value of `TENSORLINGS_THREADS`: a whole number of at least 1, or `None` when unset
/// or empty.
fn parse_threads(value: Option<&str>) -> Result<Option<i32>, Failure> {
    let Some(raw) = value else {
        return Ok(None);
    };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    match trimmed.parse::<i32>() {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(Failure::new(format!(
            "{THREADS_VAR} is `{raw}`, but it must be a whole number of at least 1"
        ))),
    }
}

/// The thread limit in `TENSORLINGS_THREADS`, if one is set.
pub fn thread_limit() -> Result<Option<i32>, Failure> {
    parse_threads(env_var(THREADS_VAR)?.as_deref())
}

/// Applies `TENSORLINGS_THREADS` with `tch::set_num_threads`, when it is set.
///
/// Returns the limit that was applied (`None` when the variable is unset), or a [`Failure`] for a
/// value that is not a whole number of at least 1. The check harness calls this before the first
/// check and re-applies the limit before each one, in case learner code changed it.
pub fn apply_thread_limit() -> Result<Option<i32>, Failure> {
    let limit = thread_limit()?;
    if let Some(n) = limit {
        tch::set_num_threads(n);
    }
    Ok(limit)
}

/// `cpu`, or `cuda:0` for the first GPU, as PyTorch writes devices.
pub fn name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".to_string(),
        Device::Vulkan => "vulkan".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_and_empty_mean_auto() {
        assert_eq!(parse_request(None).unwrap(), Request::Auto);
        assert_eq!(parse_request(Some("")).unwrap(), Request::Auto);
        assert_eq!(parse_request(Some("auto")).unwrap(), Request::Auto);
    }

    #[test]
    fn known_values_parse_forgiving_case_and_blanks() {
        assert_eq!(parse_request(Some("cpu")).unwrap(), Request::Cpu);
        assert_eq!(parse_request(Some(" CUDA\n")).unwrap(), Request::Cuda);
    }

    #[test]
    fn an_unknown_value_is_an_error_naming_it() {
        let failure = parse_request(Some("gpu")).unwrap_err();
        assert!(!failure.is_skip());
        assert_eq!(failure.message(), "TENSORLINGS_DEVICE is `gpu`, but it must be `cpu`, `cuda` or `auto`");
    }

    #[test]
    fn resolution_follows_the_request_and_the_machine() {
        assert_eq!(resolve(Request::Cpu, true).unwrap(), Device::Cpu);
        assert_eq!(resolve(Request::Cpu, false).unwrap(), Device::Cpu);
        assert_eq!(resolve(Request::Auto, false).unwrap(), Device::Cpu);
        assert_eq!(resolve(Request::Auto, true).unwrap(), Device::Cuda(0));
        assert_eq!(resolve(Request::Cuda, true).unwrap(), Device::Cuda(0));
        let failure = resolve(Request::Cuda, false).unwrap_err();
        assert!(
            failure
                .message()
                .starts_with("CUDA was requested with --device cuda, but no CUDA device is available"),
            "{failure}"
        );
    }

    #[test]
    fn thread_limits_parse_and_reject_nonsense() {
        assert_eq!(parse_threads(None).unwrap(), None);
        assert_eq!(parse_threads(Some(" ")).unwrap(), None);
        assert_eq!(parse_threads(Some("1")).unwrap(), Some(1));
        assert_eq!(parse_threads(Some("8")).unwrap(), Some(8));
        for bad in ["0", "-2", "two", "1.5"] {
            let failure = parse_threads(Some(bad)).unwrap_err();
            assert_eq!(
                failure.message(),
                format!("TENSORLINGS_THREADS is `{bad}`, but it must be a whole number of at least 1")
            );
        }
    }

    // The environment-reading functions are not tested here: `std::env::set_var` in a threaded
    // test binary races with the other tests. tests/harness.rs runs them in a child process.
}
