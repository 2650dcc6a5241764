//! Profiles: how fast and how hungry the learner's version of a function is, against the
//! reference solution and the built-in operation, on the same inputs at a few sizes.
//!
//! A check declares the functions worth profiling after its checks; nothing runs unless the
//! runner asks (`tensorlings profile`, which sets [`PROFILE_VAR`]):
//!
//! ```text
//! Checks::new()
//!     .check(..)
//!     .profile("pairwise_distances", profile::sizes("n", [64, 512, 2048]), |n, device| {
//!         let (x, y) = (randn(&[n, 16], Kind::Float, device), randn(&[n, 16], Kind::Float, device));
//!         profile_case!(pairwise_distances(x, y)).builtin("torch.cdist", |x| x[0].cdist(&x[1], 2.0, None))
//!     })
//!     .run()
//! ```
//!
//! In profile mode the harness runs the checks first, and the profiles only when every check
//! passed: a wrong answer is not worth timing. For each size and each version (the exercise's,
//! the reference's, the built-in's) it runs the version twice untimed (warm-up), once under
//! [`crate::memory::measure`] (peak bytes above the start, allocations) and once more to know
//! its time; then the versions are timed in turns, one run of each a round (synchronizing the
//! device around each run), so that load from other processes slows them alike, for about a
//! quarter of a second per version, with at least [`MIN_REPEATS`] and at most [`MAX_REPEATS`]
//! rounds. The figures go into the signed report (`docs/check-protocol.md`), where the runner
//! computes the ratios and says what they mean.
//!
//! With [`TRACE_VAR`] set to a path, one run of the exercise's version of each function at its
//! largest size is recorded by libtorch's profiler (Kineto, as `torch.profiler`) and written
//! there as a Chrome trace: op names, input shapes, durations and memory, which Perfetto and
//! chrome://tracing open. Each run sits in a range named after the function and size.

use std::ffi::{CString, c_char, c_void};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tch::{Device, Tensor};

use crate::panics::catch_panics;

/// The environment variable that turns profile mode on (`1`), read by the harness before any
/// learner code runs.
pub const PROFILE_VAR: &str = "TENSORLINGS_PROFILE";
/// The environment variable naming the Chrome trace file to write in profile mode.
pub const TRACE_VAR: &str = "TENSORLINGS_TRACE";

/// Untimed runs before the measurements: lazy initialisation, caches, allocator pools.
pub const WARMUP: usize = 2;
/// The fewest timed runs of a version at a size, however slow it is.
pub const MIN_REPEATS: usize = 5;
/// The most timed runs of a version at a size, however fast it is.
pub const MAX_REPEATS: usize = 50;
/// About how long the timed runs of one version at one size take, in all.
pub const TIME_BUDGET: Duration = Duration::from_millis(250);
/// The seed of every profile's inputs: the same inputs on every run.
pub const PROFILE_SEED: i64 = 20_240_515;

/// What the runner asked for, read from the environment before learner code runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Profile mode is on.
    pub enabled: bool,
    /// Where to write the Chrome trace, if anywhere.
    pub trace: Option<PathBuf>,
}

impl Request {
    /// Reads [`PROFILE_VAR`] and [`TRACE_VAR`].
    pub fn from_env() -> Request {
        Request {
            enabled: std::env::var(PROFILE_VAR).as_deref() == Ok("1"),
            trace: std::env::var_os(TRACE_VAR).filter(|path| !path.is_empty()).map(PathBuf::from),
        }
    }
}

/// The sizes a function is profiled at, and the name of the size in messages ("n = 2048").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizes {
    /// What the size is called: `n`, `batch`, `length`.
    pub parameter: String,
    /// From small to large; the last is the one the runner judges by.
    pub values: Vec<i64>,
}

/// Sizes for [`crate::Checks::profile`]: `sizes("n", [64, 512, 2048])`. Give two or three, from
/// small to large, the largest large enough that the time is in the computation and not the call
/// (a few milliseconds at least on a laptop's CPU).
pub fn sizes(parameter: &str, values: impl IntoIterator<Item = i64>) -> Sizes {
    Sizes { parameter: parameter.to_string(), values: values.into_iter().collect() }
}

type Version<'a> = Box<dyn FnMut(&[Tensor]) + 'a>;

/// The inputs of one profiled function at one size, and the versions to run on them.
pub struct ProfileCase<'a> {
    inputs: Vec<Tensor>,
    exercise: Option<Version<'a>>,
    reference: Option<Version<'a>>,
    builtin: Option<(String, Version<'a>)>,
}

impl<'a> ProfileCase<'a> {
    /// A case on these inputs, with no version yet. [`crate::profile_case!`] makes one with the
    /// exercise's and the reference's versions of a function.
    pub fn new(inputs: Vec<Tensor>) -> Self {
        ProfileCase { inputs, exercise: None, reference: None, builtin: None }
    }

    /// The learner's version: a closure of the inputs (its result is dropped).
    pub fn exercise<R>(mut self, mut run: impl FnMut(&[Tensor]) -> R + 'a) -> Self {
        self.exercise = Some(Box::new(move |inputs| drop(run(inputs))));
        self
    }

    /// The reference solution's version.
    pub fn reference<R>(mut self, mut run: impl FnMut(&[Tensor]) -> R + 'a) -> Self {
        self.reference = Some(Box::new(move |inputs| drop(run(inputs))));
        self
    }

    /// The built-in operation that does the same, named as a PyTorch user knows it
    /// (`"torch.cdist"`, `"a.matmul(b)"`).
    pub fn builtin<R>(mut self, name: impl Into<String>, mut run: impl FnMut(&[Tensor]) -> R + 'a) -> Self {
        self.builtin = Some((name.into(), Box::new(move |inputs| drop(run(inputs)))));
        self
    }
}

/// A [`ProfileCase`] of a function of the exercise and of the reference with the same name, on
/// tensors named by variables, like [`crate::call!`]: `profile_case!(matmul(a, b))` runs
/// `exercise::matmul(&a, &b)` and `solution::matmul(&a, &b)`; arguments that are not input
/// tensors follow a `;` (`profile_case!(topk_scores(a, b; 5, 64))`).
#[macro_export]
macro_rules! profile_case {
    ($f:ident ( $($arg:ident),* $(; $($extra:expr),* $(,)?)? )) => {
        $crate::profile::ProfileCase::new(::std::vec![$($arg.shallow_clone()),*])
            .exercise(|inputs: &[$crate::prelude::Tensor]| {
                let [$($arg),*] = inputs else { ::core::unreachable!("one input per argument") };
                exercise::$f($($arg),* $(, $($extra),*)?)
            })
            .reference(|inputs: &[$crate::prelude::Tensor]| {
                let [$($arg),*] = inputs else { ::core::unreachable!("one input per argument") };
                solution::$f($($arg),* $(, $($extra),*)?)
            })
    };
}

type MakeCase<'a> = Box<dyn Fn(i64, Device) -> ProfileCase<'a> + 'a>;

/// One function a check declared with [`crate::Checks::profile`].
pub struct Declared<'a> {
    function: String,
    sizes: Sizes,
    make: MakeCase<'a>,
}

impl<'a> Declared<'a> {
    pub(crate) fn new(
        function: impl Into<String>,
        sizes: Sizes,
        make: impl Fn(i64, Device) -> ProfileCase<'a> + 'a,
    ) -> Self {
        Declared { function: function.into(), sizes, make: Box::new(make) }
    }
}

/// Which version a [`Measured`] row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The learner's.
    Exercise,
    /// The reference solution's.
    Reference,
    /// The built-in operation.
    Builtin,
}

impl Variant {
    /// The word the report uses: `exercise`, `reference` or `builtin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Exercise => "exercise",
            Variant::Reference => "reference",
            Variant::Builtin => "builtin",
        }
    }
}

/// The figures of one version of one function at one size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Figures {
    /// Timed runs.
    pub repeats: usize,
    /// Their median, in nanoseconds.
    pub median_ns: u64,
    /// Their first and third quartiles: half the runs took between the two.
    pub q1_ns: u64,
    pub q3_ns: u64,
    /// The fastest run.
    pub min_ns: u64,
    /// The most bytes held at once during one run, above what was held before it.
    pub peak_bytes: u64,
    /// Allocations one run made.
    pub allocations: u64,
    /// Their bytes.
    pub allocated_bytes: u64,
}

/// One row of a profile: a version of a function at a size, with its figures or why it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    pub function: String,
    /// The size's name (`n`).
    pub parameter: String,
    pub size: i64,
    pub variant: Variant,
    /// The built-in's name; empty for the exercise and the reference.
    pub name: String,
    pub result: Result<Figures, String>,
}

/// Runs every declared profile on `device` and returns its rows in order (function, size,
/// then the exercise, the reference and the built-in), writing a trace when `request` asks.
/// The threads and grad mode are those of a check (see [`crate::check`]).
pub(crate) fn run_all(
    declared: &[Declared<'_>],
    device: Device,
    threads: i32,
    request: &Request,
) -> Profiles {
    let mut rows = Vec::new();
    for declaration in declared {
        for &size in &declaration.sizes.values {
            tch::manual_seed(PROFILE_SEED);
            tch::set_num_threads(threads);
            tch::with_grad(|| profile_size(declaration, size, device, &mut rows));
        }
    }
    // Recorded after every measurement: the profiler slows what runs while it records.
    let trace = request.trace.as_ref().map(|path| {
        tch::set_num_threads(threads);
        tch::with_grad(|| trace_largest(declared, device, path))
    });
    Profiles { rows, trace }
}

/// What profile mode adds to the report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profiles {
    pub rows: Vec<Measured>,
    /// `Some(Ok(path))` when a trace was written there, `Some(Err(why))` when it could not be.
    pub trace: Option<Result<PathBuf, String>>,
}

fn profile_size(declaration: &Declared<'_>, size: i64, device: Device, rows: &mut Vec<Measured>) {
    let row = |variant: Variant, name: &str, result: Result<Figures, String>| Measured {
        function: declaration.function.clone(),
        parameter: declaration.sizes.parameter.clone(),
        size,
        variant,
        name: name.to_string(),
        result,
    };
    let mut case = match catch_panics(|| (declaration.make)(size, device)) {
        Ok(case) => case,
        Err(panic) => {
            let why = format!("the profile's inputs could not be made: {panic}");
            rows.push(row(Variant::Exercise, "", Err(why)));
            return;
        }
    };
    let inputs = std::mem::take(&mut case.inputs);
    let mut slots = Vec::new();
    if let Some(run) = case.exercise.as_mut() {
        slots.push(Slot::new(Variant::Exercise, String::new(), run));
    }
    if let Some(run) = case.reference.as_mut() {
        slots.push(Slot::new(Variant::Reference, String::new(), run));
    }
    if let Some((name, run)) = case.builtin.as_mut() {
        slots.push(Slot::new(Variant::Builtin, name.clone(), run));
    }
    for slot in &mut slots {
        slot.prepare(&inputs, device);
    }
    // Taken in turns, one run of each version a round: a burst of load from another process
    // (a compiler, a browser) then slows every version alike, and the ratios hold.
    let round: Duration = slots.iter().filter_map(|slot| slot.probe).sum();
    let repeats = repeats_within_budget(round, slots.len());
    for _ in 0..repeats {
        for slot in &mut slots {
            slot.time_once(&inputs, device);
        }
    }
    for slot in slots {
        let (variant, name) = (slot.variant, slot.name.clone());
        rows.push(row(variant, &name, slot.figures()));
    }
}

/// One version of a function at one size while it is measured.
struct Slot<'v, 'a> {
    variant: Variant,
    name: String,
    run: &'v mut Version<'a>,
    memory: Option<crate::memory::Measurement>,
    /// The untimed run's duration, used to size the rounds.
    probe: Option<Duration>,
    samples: Vec<Duration>,
    /// A panic (a libtorch error at a size the checks did not try) or a memory error.
    error: Option<String>,
}

impl<'v, 'a> Slot<'v, 'a> {
    fn new(variant: Variant, name: String, run: &'v mut Version<'a>) -> Self {
        Slot { variant, name, run, memory: None, probe: None, samples: Vec::new(), error: None }
    }

    /// Warm-up, one run for memory, and one to know how long a run takes.
    fn prepare(&mut self, inputs: &[Tensor], device: Device) {
        let run = &mut self.run;
        let prepared = catch_panics(|| {
            for _ in 0..WARMUP {
                run(inputs);
            }
            synchronize(device);
            let memory = crate::memory::measure(device, || {
                run(inputs);
                synchronize(device);
            })
            .map(|((), m)| m)
            .map_err(|e| e.to_string())?;
            let probe = crate::timing::measure(device, 0, 1, || run(inputs));
            Ok((memory, probe.median))
        })
        .unwrap_or_else(Err);
        match prepared {
            Ok((memory, probe)) => (self.memory, self.probe) = (Some(memory), Some(probe)),
            Err(why) => self.error = Some(why),
        }
    }

    /// One timed run, the device synchronized before and after; nothing once it has failed.
    fn time_once(&mut self, inputs: &[Tensor], device: Device) {
        if self.error.is_some() {
            return;
        }
        let run = &mut self.run;
        match catch_panics(|| crate::timing::measure(device, 0, 1, || run(inputs))) {
            Ok(timing) => self.samples.push(timing.median),
            Err(why) => self.error = Some(why),
        }
    }

    fn figures(self) -> Result<Figures, String> {
        if let Some(why) = self.error {
            return Err(why);
        }
        let memory = self.memory.unwrap_or_default();
        let nanos = |d: &Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let mut samples: Vec<u64> = self.samples.iter().map(nanos).collect();
        samples.sort_unstable();
        Ok(Figures {
            repeats: samples.len(),
            median_ns: quantile(&samples, 0.5),
            q1_ns: quantile(&samples, 0.25),
            q3_ns: quantile(&samples, 0.75),
            min_ns: samples.first().copied().unwrap_or(0),
            peak_bytes: memory.peak_bytes,
            allocations: memory.allocations,
            allocated_bytes: memory.allocated_bytes,
        })
    }
}

/// How many rounds of `versions` versions fit in [`TIME_BUDGET`] per version when a round takes
/// `round`, within [`MIN_REPEATS`]..=[`MAX_REPEATS`].
fn repeats_within_budget(round: Duration, versions: usize) -> usize {
    let fit = TIME_BUDGET.as_nanos() * versions as u128 / round.as_nanos().max(1);
    usize::try_from(fit).unwrap_or(usize::MAX).clamp(MIN_REPEATS, MAX_REPEATS)
}

/// The `q` quantile of sorted samples, interpolated between the two nearest (as numpy's default).
fn quantile(sorted: &[u64], q: f64) -> u64 {
    match sorted.len() {
        0 => 0,
        n => {
            let position = q * (n - 1) as f64;
            let (low, high) = (position.floor() as usize, position.ceil() as usize);
            let fraction = position - low as f64;
            (sorted[low] as f64 + (sorted[high] as f64 - sorted[low] as f64) * fraction).round() as u64
        }
    }
}

fn synchronize(device: Device) {
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
}

/// Records one run of the exercise's version of each declared function at its largest size
/// (after one untimed run on the same inputs), each in a range named after it, and writes the
/// trace to `path`. Versions that panic are left out; none at all is an error.
fn trace_largest(declared: &[Declared<'_>], device: Device, path: &Path) -> Result<PathBuf, String> {
    let mut prepared = Vec::new();
    for declaration in declared {
        let Some(size) = declaration.sizes.values.iter().copied().max() else { continue };
        tch::manual_seed(PROFILE_SEED);
        let Ok(mut case) = catch_panics(|| (declaration.make)(size, device)) else { continue };
        let Some(mut run) = case.exercise.take() else { continue };
        let inputs = std::mem::take(&mut case.inputs);
        if catch_panics(|| run(&inputs)).is_ok() {
            let label = format!("{} (yours), {} = {size}", declaration.function, declaration.sizes.parameter);
            prepared.push((label, run, inputs));
        }
    }
    if prepared.is_empty() {
        return Err("no run of your version could be traced".to_string());
    }
    synchronize(device);
    start_trace(matches!(device, Device::Cuda(_))).map_err(|e| e.0)?;
    for (label, run, inputs) in &mut prepared {
        // A panic now would be a flaky one: the run above passed. Keep the recording going.
        let _ = catch_panics(|| {
            record_range(label, || run(inputs));
            synchronize(device);
        });
    }
    stop_trace(path).map_err(|e| e.0)?;
    Ok(path.to_path_buf())
}

/// Why a trace could not be recorded or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError(pub String);

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the trace could not be recorded: {}", self.0)
    }
}

impl std::error::Error for TraceError {}

/// Starts recording a trace of libtorch's ops (with input shapes and memory), on CPU and, with
/// `cuda`, the GPU's kernels. One recording at a time: [`stop_trace`] ends it.
pub fn start_trace(cuda: bool) -> Result<(), TraceError> {
    // SAFETY: `err` is valid for writes; an error string is freed by `shim_result`.
    shim_result(|err| unsafe { ffi::tl_profile_trace_start(cuda, err) })
}

/// Stops the recording and writes it to `path` as Chrome trace JSON.
pub fn stop_trace(path: &std::path::Path) -> Result<(), TraceError> {
    let text =
        path.to_str().ok_or_else(|| TraceError(format!("the path {} is not UTF-8", path.display())))?;
    let c_path = CString::new(text).map_err(|_| TraceError("the path holds a NUL byte".to_string()))?;
    // SAFETY: `c_path` outlives the call; `err` as above.
    shim_result(|err| unsafe { ffi::tl_profile_trace_stop(c_path.as_ptr(), err) })
}

/// Runs `body` inside a range named `name` of the trace being recorded (like
/// `torch.profiler.record_function(name)`); without a recording it just runs `body`. A panic in
/// `body` is carried across the C++ frame and resumed here.
pub fn record_range<F: FnOnce() -> R, R>(name: &str, body: F) -> R {
    struct Call<F, R> {
        body: Option<F>,
        result: Option<std::thread::Result<R>>,
    }
    extern "C" fn trampoline<F: FnOnce() -> R, R>(data: *mut c_void) {
        // SAFETY: `data` is the `Call` below, alive and exclusively ours for this call.
        let call = unsafe { &mut *data.cast::<Call<F, R>>() };
        if let Some(body) = call.body.take() {
            // No unwinding into C++: the panic is kept and resumed on the Rust side.
            call.result = Some(std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)));
        }
    }
    let name = CString::new(name.replace('\0', " ")).expect("NULs were replaced");
    let mut call = Call { body: Some(body), result: None };
    // SAFETY: the trampoline matches `Call<F, R>`, which outlives the call.
    unsafe {
        ffi::tl_profile_range(name.as_ptr(), trampoline::<F, R>, (&mut call as *mut Call<F, R>).cast());
    }
    match call.result.expect("the shim runs the body once") {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn shim_result(call: impl FnOnce(*mut *mut c_char) -> i32) -> Result<(), TraceError> {
    let mut err: *mut c_char = std::ptr::null_mut();
    if call(&mut err) == ffi::OK {
        return Ok(());
    }
    Err(TraceError(crate::memory::take_shim_message(err)))
}

/// Appends the profile section of the report (`"profiles": [...]`, one row a line) to `out`,
/// which ends just after the checks' closing bracket.
pub(crate) fn push_json(out: &mut String, profiles: &Profiles) {
    use crate::check::push_json_string;
    if let Some(trace) = &profiles.trace {
        match trace {
            Ok(path) => {
                out.push_str(",\n  \"trace\": ");
                push_json_string(out, &path.to_string_lossy());
            }
            Err(why) => {
                out.push_str(",\n  \"trace_error\": ");
                push_json_string(out, why);
            }
        }
    }
    out.push_str(",\n  \"profiles\": [");
    for (i, row) in profiles.rows.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        out.push_str("{\"function\": ");
        push_json_string(out, &row.function);
        out.push_str(", \"parameter\": ");
        push_json_string(out, &row.parameter);
        out.push_str(&format!(
            ", \"size\": {}, \"variant\": \"{}\", \"name\": ",
            row.size,
            row.variant.as_str()
        ));
        push_json_string(out, &row.name);
        match &row.result {
            Ok(f) => out.push_str(&format!(
                ", \"repeats\": {}, \"median_ns\": {}, \"q1_ns\": {}, \"q3_ns\": {}, \"min_ns\": {}, \
                 \"peak_bytes\": {}, \"allocations\": {}, \"allocated_bytes\": {}}}",
                f.repeats,
                f.median_ns,
                f.q1_ns,
                f.q3_ns,
                f.min_ns,
                f.peak_bytes,
                f.allocations,
                f.allocated_bytes
            )),
            Err(why) => {
                out.push_str(", \"error\": ");
                push_json_string(out, why);
                out.push('}');
            }
        }
    }
    out.push_str(if profiles.rows.is_empty() { "]" } else { "\n  ]" });
}

mod ffi {
    //! The C ABI of `cpp/profile_shim.h`.
    use std::ffi::{c_char, c_void};

    pub const OK: i32 = 0;

    unsafe extern "C" {
        pub fn tl_profile_trace_start(cuda: bool, err: *mut *mut c_char) -> i32;
        pub fn tl_profile_trace_stop(path: *const c_char, err: *mut *mut c_char) -> i32;
        pub fn tl_profile_range(name: *const c_char, body: extern "C" fn(*mut c_void), data: *mut c_void);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_interpolate_like_numpy() {
        assert_eq!(quantile(&[1, 2, 3, 4, 5], 0.25), 2);
        assert_eq!(quantile(&[1, 2, 3, 4, 5], 0.75), 4);
        assert_eq!(quantile(&[10, 20, 30, 40], 0.25), 18); // 17.5, rounded
        assert_eq!(quantile(&[7], 0.75), 7);
        assert_eq!(quantile(&[], 0.5), 0);
    }

    #[test]
    fn repeats_fill_the_budget_within_bounds() {
        assert_eq!(repeats_within_budget(Duration::from_secs(1), 1), MIN_REPEATS);
        assert_eq!(repeats_within_budget(Duration::from_millis(25), 1), 10);
        // Three versions of 25 ms each: a round of 75 ms, the budget of three versions.
        assert_eq!(repeats_within_budget(Duration::from_millis(75), 3), 10);
        assert_eq!(repeats_within_budget(Duration::from_nanos(1), 3), MAX_REPEATS);
        assert_eq!(repeats_within_budget(Duration::ZERO, 1), MAX_REPEATS);
    }

    #[test]
    fn the_request_is_off_unless_asked() {
        // The test process does not set these variables.
        if std::env::var_os(PROFILE_VAR).is_none() && std::env::var_os(TRACE_VAR).is_none() {
            assert_eq!(Request::from_env(), Request::default());
        }
    }

    #[test]
    fn profiles_measure_every_version_at_every_size() {
        let declared = [Declared::new("double", sizes("n", [4, 16]), |n, device| {
            let x = Tensor::ones([n], (tch::Kind::Float, device));
            ProfileCase::new(vec![x])
                .exercise(|x| &x[0] * 2.0)
                .reference(|x| &x[0] + &x[0])
                .builtin("x.mul(2)", |x| x[0].g_mul_scalar(2.0))
        })];
        let profiles = run_all(&declared, Device::Cpu, 1, &Request::default());
        let shape: Vec<(i64, Variant)> = profiles.rows.iter().map(|r| (r.size, r.variant)).collect();
        use Variant::*;
        assert_eq!(
            shape,
            [(4, Exercise), (4, Reference), (4, Builtin), (16, Exercise), (16, Reference), (16, Builtin)]
        );
        let large = profiles.rows[3].result.as_ref().unwrap();
        // At least its float32 result of 16 elements: the counts are global to the process and
        // other tests allocate meanwhile (the exact figures are tested in tests/profile_trace.rs).
        assert!(large.peak_bytes >= 64 && large.allocations >= 1 && large.allocated_bytes >= 64, "{large:?}");
        assert!(large.repeats >= MIN_REPEATS && large.repeats <= MAX_REPEATS);
        assert!(
            large.min_ns <= large.q1_ns && large.q1_ns <= large.median_ns && large.median_ns <= large.q3_ns
        );
        assert_eq!(profiles.rows[2].name, "x.mul(2)");
        assert_eq!(profiles.trace, None);
    }

    #[test]
    fn a_panic_is_the_rows_error_and_the_others_still_run() {
        let declared = [Declared::new("broken", sizes("n", [3]), |n, device| {
            ProfileCase::new(vec![Tensor::ones([n], (tch::Kind::Float, device))])
                .exercise(|_| -> Tensor { todo!("the fast version") })
                .reference(|x| x[0].exp())
        })];
        let profiles = run_all(&declared, Device::Cpu, 1, &Request::default());
        let error = profiles.rows[0].result.as_ref().unwrap_err();
        assert!(error.contains("not implemented yet"), "{error}");
        assert!(profiles.rows[1].result.is_ok());
    }

    #[test]
    fn inputs_that_cannot_be_made_are_said() {
        let declared = [Declared::new("bad", sizes("n", [2]), |_, _| -> ProfileCase<'static> {
            panic!("no such shape")
        })];
        let profiles = run_all(&declared, Device::Cpu, 1, &Request::default());
        assert_eq!(profiles.rows.len(), 1);
        let error = profiles.rows[0].result.as_ref().unwrap_err();
        assert!(error.starts_with("the profile's inputs could not be made: "), "{error}");
    }

    #[test]
    fn a_range_returns_its_value_and_carries_a_panic() {
        assert_eq!(record_range("seven", || 7), 7);
        let caught = std::panic::catch_unwind(|| record_range("boom", || panic!("inside")));
        assert!(caught.is_err());
    }

    #[test]
    fn json_rows_carry_figures_or_the_error() {
        let profiles = Profiles {
            rows: vec![
                Measured {
                    function: "f".into(),
                    parameter: "n".into(),
                    size: 8,
                    variant: Variant::Builtin,
                    name: "torch.f".into(),
                    result: Ok(Figures {
                        repeats: 5,
                        median_ns: 30,
                        q1_ns: 20,
                        q3_ns: 40,
                        min_ns: 10,
                        peak_bytes: 64,
                        allocations: 1,
                        allocated_bytes: 64,
                    }),
                },
                Measured {
                    function: "f".into(),
                    parameter: "n".into(),
                    size: 8,
                    variant: Variant::Exercise,
                    name: String::new(),
                    result: Err("a \"bad\" shape".into()),
                },
            ],
            trace: Some(Err("no Kineto".into())),
        };
        let mut out = String::new();
        push_json(&mut out, &profiles);
        assert_eq!(
            out,
            ",\n  \"trace_error\": \"no Kineto\",\n  \"profiles\": [\n    {\"function\": \"f\", \"parameter\": \"n\", \
             \"size\": 8, \"variant\": \"builtin\", \"name\": \"torch.f\", \"repeats\": 5, \"median_ns\": 30, \
             \"q1_ns\": 20, \"q3_ns\": 40, \"min_ns\": 10, \"peak_bytes\": 64, \"allocations\": 1, \
             \"allocated_bytes\": 64},\n    {\"function\": \"f\", \"parameter\": \"n\", \"size\": 8, \
             \"variant\": \"exercise\", \"name\": \"\", \"error\": \"a \\\"bad\\\" shape\"}\n  ]"
        );
    }
}
