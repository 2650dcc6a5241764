// Exercise 03_memory/memory_compare: how much memory does a computation take?
//
// PyTorch answers with the allocator's statistics: torch.cuda.memory_allocated() (bytes held
// now), torch.cuda.max_memory_allocated() (the most held at once, the peak) and
// torch.cuda.reset_peak_memory_stats(). The number that decides whether a computation fits is
// its peak, not what it keeps at the end nor the sum of everything it allocated: three
// temporaries of 1 GB made and freed one after the other need 1 GB, not 3.
//
// libtorch keeps no such statistics on the CPU; the support library counts for it (and reads
// CUDA's): `tensorlings_support::memory::stats(device)` gives a `MemoryStats` with
// `current_bytes`, `peak_bytes`, `allocations` (ever) and more, and `memory::reset_peak(device)`
// brings the peak down to the current bytes. Two things make a measurement honest:
// - the peak is a level of the whole process: subtract the bytes held when `f` starts
//   (tensors held by the caller are not `f`'s);
// - the peak is the highest level since the last reset: reset it just before `f`, or an
//   earlier, larger computation is reported as `f`'s.
//
// Here you write that measurement, then a comparison of implementations: peak, number of
// allocations and time of each, and a table. The checks run it on closures whose allocations
// they know to the byte (a float32 tensor of 1000 elements is exactly 4000 bytes).
// The support library also has `memory::measure`, which does all of this: here you write it
// yourself from `stats` and `reset_peak`.

use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};
use tensorlings_support::memory;

/// The peak bytes of `f` on `device`: the most bytes held at once while `f` runs (what `f`
/// returns and keeps counts), above the bytes held when it starts. Resets the device's peak
/// before calling `f`.
///
/// PyTorch:
/// ```python
/// start = torch.cuda.memory_allocated()
/// torch.cuda.reset_peak_memory_stats()
/// f()
/// return torch.cuda.max_memory_allocated() - start
/// ```
pub fn peak_memory(device: Device, f: &mut dyn FnMut()) -> u64 {
    // TODO: stats before, reset_peak, f(), stats after.
    todo!("peak_memory on {device:?}")
}

/// One implementation's line of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    /// Peak bytes of one call, as `peak_memory` measures it (the result it returns included).
    pub peak_bytes: u64,
    /// Allocations made by one call.
    pub allocations: u64,
    /// Wall-clock time of one call (a warmed-up one).
    pub time: Duration,
}

/// Compares implementations of the same computation on `device`: one `Row` per implementation,
/// in the order given. For each: one warm-up call (first calls initialise caches), one call
/// measured with `peak_memory` that also counts its allocations (`allocations` of
/// `memory::stats` before and after), and one timed call. Each result is dropped before the
/// next call.
///
/// PyTorch:
/// ```python
/// for name, f in impls:
///     f()                                       # warm-up
///     before = torch.cuda.memory_stats()["allocation.all.allocated"]
///     peak = peak_memory(f)
///     allocations = torch.cuda.memory_stats()["allocation.all.allocated"] - before
///     start = time.perf_counter(); f(); torch.cuda.synchronize(); t = time.perf_counter() - start
/// ```
pub fn compare(device: Device, impls: &mut [(&str, &mut dyn FnMut() -> Tensor)]) -> Vec<Row> {
    // TODO: per implementation: warm up, measure (peak and allocations), time.
    todo!("compare {} implementations on {device:?}", impls.len())
}

/// The rows as a table, one line per row after a header line, with the name, the peak in human
/// units (`memory::format_bytes`), the peak relative to the first row's as `x0.25` (two
/// decimals: this row's peak divided by the first's), the allocations and the time in
/// milliseconds with two decimals:
///
/// ```text
/// name        peak      vs first  allocations  time
/// naive       32 MiB    x1.00     4            12.31 ms
/// chunked     2 MiB     x0.06     35           14.02 ms
/// ```
///
/// Columns are separated by at least two spaces (their widths are up to you).
pub fn format_table(rows: &[Row]) -> String {
    // TODO
    todo!("format_table of {} rows", rows.len())
}

fn main() {
    let dev = Device::Cpu;
    let x = Tensor::randn([512, 512], (Kind::Float, dev));
    // x @ x @ x @ x in two orders, and the same through a chain of temporaries.
    let table = format_table(&compare(
        dev,
        &mut [
            ("left to right", &mut || x.matmul(&x).matmul(&x).matmul(&x)),
            ("squared twice", &mut || {
                let square = x.matmul(&x);
                square.matmul(&square)
            }),
            ("one product", &mut || x.matmul(&x)),
        ],
    ));
    println!("{table}");
}
