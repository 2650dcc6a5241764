// Exercise 03_memory/memory_profiler: where did the memory go, step by step?
//
// PyTorch's profiler (`torch.profiler.profile(profile_memory=True)`) and its memory snapshots
// answer "which part of my computation needs the memory": per operation, the bytes allocated
// and freed, and the running peak. Here you build a small one on the support library's
// allocator statistics (`tensorlings_support::memory::stats` and `reset_peak`), per named step
// of a computation:
//
//     let mut profiler = MemoryProfiler::new(device);
//     let h = profiler.step("linear", || x.matmul(&w));
//     let y = profiler.step("relu", || h.relu());
//     drop(h);
//     profiler.step("loss", || y.sum(Kind::Float)).backward();
//     println!("{}", profiler.report());
//
// Every level is measured from the level when the profiler was created: a step that frees
// tensors made before the profiler can bring it below 0, so levels are i64. A step's peak is the
// highest level during that step (reset the allocator's peak when the step starts: otherwise an
// earlier step's peak shows up again); the running peak is the highest level of all steps so
// far, what the computation needs from the start to this step.

use tch::{Device, Kind, Tensor};
use tensorlings_support::memory;

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// Allocations made during the step, and their bytes.
    pub allocations: u64,
    pub allocated_bytes: u64,
    /// Bytes freed during the step (tensors made before it too).
    pub freed_bytes: u64,
    /// Bytes held at the end of the step, above the level when the profiler was created.
    pub held_bytes: i64,
    /// The highest level during the step, above the level when the profiler was created.
    pub step_peak_bytes: i64,
    /// The highest level of this step and every step before it (0 before any step).
    pub running_peak_bytes: i64,
}

/// A memory profiler of named steps on one device.
pub struct MemoryProfiler {
    device: Device,
    /// The allocator's current bytes when the profiler was created.
    start: u64,
    steps: Vec<Step>,
}

impl MemoryProfiler {
    /// A profiler whose levels are measured from the bytes held now on `device`.
    pub fn new(device: Device) -> MemoryProfiler {
        // TODO: remember the device and the current bytes.
        todo!("MemoryProfiler::new({device:?})")
    }

    /// Runs `f` as the step `name`, records a `Step`, and returns what `f` returned (a tensor it
    /// returns is held at the end of the step).
    ///
    /// PyTorch (on CUDA):
    /// ```python
    /// before = torch.cuda.memory_stats()
    /// torch.cuda.reset_peak_memory_stats()
    /// result = f()
    /// after = torch.cuda.memory_stats()
    /// # allocated: after["requested_bytes.all.allocated"] - before[...], and so on
    /// ```
    pub fn step<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        // TODO: stats before, reset the peak, run f, stats after; record a Step.
        todo!("MemoryProfiler::step({name:?})")
    }

    /// The steps recorded so far, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// A table: a header line, then one line per step with its name, allocated bytes, freed
    /// bytes, held bytes, step peak and running peak, each with `signed_bytes`; columns
    /// separated by at least two spaces.
    ///
    /// ```text
    /// step        allocated  freed    held      step peak  running peak
    /// linear      512 KiB    0 B      512 KiB   512 KiB    512 KiB
    /// free input  0 B        1 MiB    -512 KiB  512 KiB    512 KiB
    /// ```
    pub fn report(&self) -> String {
        // TODO
        todo!("MemoryProfiler::report of {} steps", self.steps.len())
    }
}

/// Bytes in human units, with a minus sign below 0: "3.9 KiB", "-512 KiB", "0 B".
pub fn signed_bytes(bytes: i64) -> String {
    // TODO
    todo!("signed_bytes({bytes})")
}

fn main() {
    let dev = Device::Cpu;
    let x = Tensor::randn([256, 128], (Kind::Float, dev));
    let w = Tensor::randn([128, 512], (Kind::Float, dev)).set_requires_grad(true);
    let mut profiler = MemoryProfiler::new(dev);
    let h = profiler.step("linear", || x.matmul(&w));
    let y = profiler.step("relu", || h.relu());
    drop(h);
    let loss = profiler.step("loss", || y.square().mean(Kind::Float));
    profiler.step("backward", || loss.backward());
    profiler.step("free", || drop((y, loss)));
    println!("{}", profiler.report());
}
