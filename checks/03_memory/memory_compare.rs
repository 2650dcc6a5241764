//! Checks of 03_memory/memory_compare, on closures whose allocations are known to the byte (a
//! float32 tensor of n elements is exactly 4n bytes, on CPU and, as requested bytes, on CUDA):
//!
//! - one tensor made and freed: its bytes;
//! - temporaries made and freed one after the other: the most held at once, not their sum
//!   (allocated bytes) nor what is held at the end (current bytes);
//! - tensors the caller holds: not counted (the peak is above the level at the start);
//! - a larger computation just before: not counted (the peak is reset before `f`);
//! - a closure that frees a tensor of the caller's and then allocates less: 0;
//! - on a GPU (skipped without one): the CUDA peak, which a CPU tensor does not touch;
//! - `compare`: rows in order with exact peaks and allocation counts, and times that see a
//!   100 ms sleep (a lower bound, and the order against a no-op: no upper bound on wall time);
//! - `format_table`: a header and one line per row, with the human bytes, the ratio to the first
//!   row (x2.00, x0.25), the allocations and the time in ms;
//! - the source: written from `stats` and `reset_peak`, not with `memory::measure`.

use std::time::Duration;

use tch::{Device, Kind, Tensor};
use tensorlings_support::device::cuda_or_skip;
use tensorlings_support::source::assert_does_not_call;
use tensorlings_support::{CheckResult, Checks, Failure, check_that, memory, within};

tensorlings_support::exercise_modules!("03_memory/memory_compare.rs");

fn floats(n: i64, device: Device) -> Tensor {
    Tensor::zeros([n], (Kind::Float, device))
}

/// `peak_memory` of `f` must be `expected` bytes; `what` says what `f` does.
fn peak_is(device: Device, what: &str, expected: u64, f: &mut dyn FnMut()) -> CheckResult {
    within(format!("for a closure that {what}"), || {
        let got = exercise::peak_memory(device, f);
        check_that!(
            got == expected,
            "peak_memory returned {got} bytes ({}); the peak is {expected} bytes ({})",
            memory::format_bytes(got),
            memory::format_bytes(expected)
        );
        Ok(())
    })
}

fn main() {
    Checks::new()
        .check("peak_memory of one float32 tensor of 1000 elements is 4000 bytes", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            peak_is(dev, "makes a float32 tensor of 1000 elements and drops it", 4000, &mut || drop(floats(1000, dev)))
        })
        .check("peak_memory counts temporaries held at once, not their sum nor what is left", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            peak_is(
                dev,
                "makes and drops a tensor of 4000 bytes, then holds 8000 and 2000 bytes at once and drops them \
                 (allocated 14000 bytes in all, 0 left at the end)",
                10_000,
                &mut || {
                    drop(floats(1000, dev));
                    let (b, c) = (floats(2000, dev), floats(500, dev));
                    drop((b, c));
                },
            )
        })
        .check("peak_memory does not count tensors the caller holds", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            let held = floats(1 << 18, dev);
            peak_is(
                dev,
                "makes a tensor of 4000 bytes while the caller holds 1 MiB (the peak is above the bytes held at \
                 the start)",
                4000,
                &mut || drop(floats(1000, dev)),
            )?;
            drop(held);
            Ok(())
        })
        .check("peak_memory does not count an earlier, larger peak", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            drop(floats(1 << 20, dev));
            peak_is(
                dev,
                "makes a tensor of 4000 bytes, just after someone else made and dropped 4 MiB (reset the peak \
                 before calling f: memory::reset_peak)",
                4000,
                &mut || drop(floats(1000, dev)),
            )
        })
        .check("peak_memory of a closure that frees more than it allocates is 0", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            let mut held = Some(floats(1000, dev));
            let mut kept = None;
            peak_is(
                dev,
                "drops a tensor of 4000 bytes that the caller held, then makes one of 2000 bytes (the level never \
                 goes above the start)",
                0,
                &mut || {
                    drop(held.take());
                    kept = Some(floats(500, dev));
                },
            )
        })
        .check("compare gives each implementation's peak and allocations, in order", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            let x = Tensor::ones([100, 10], (Kind::Double, dev));
            let rows = within("for compare on three implementations", || {
                Ok(exercise::compare(
                    dev,
                    &mut [
                        ("one tensor", &mut || floats(1000, dev)),
                        ("three tensors", &mut || {
                            drop(floats(1000, dev));
                            let b = floats(2000, dev);
                            drop(b);
                            floats(500, dev)
                        }),
                        ("copy", &mut || x.copy()),
                    ],
                ))
            })?;
            let got: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.peak_bytes, r.allocations)).collect();
            let expected = [("one tensor", 4000, 1), ("three tensors", 8000, 3), ("copy", 8000, 1)];
            check_that!(
                got == expected,
                "compare returned (name, peak bytes, allocations) = {got:?}; expected {expected:?}. \
                 \"three tensors\" makes 4000 bytes and drops them, then 8000 and drops them, then returns 2000: \
                 it allocates 3 times and its peak is 8000 bytes"
            );
            Ok(())
        })
        .check("compare times each implementation", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            // 100 ms: far above what a stalled no-op takes on a loaded machine, which only the
            // lower bound (a sleep lasts at least as long as asked) and the order are checked on.
            let rows = within("for compare of a closure that sleeps 100 ms and one that does nothing", || {
                Ok(exercise::compare(
                    dev,
                    &mut [
                        ("sleeps", &mut || {
                            std::thread::sleep(Duration::from_millis(100));
                            floats(1, dev)
                        }),
                        ("nothing", &mut || floats(1, dev)),
                    ],
                ))
            })?;
            check_that!(rows.len() == 2, "compare returned {} rows for 2 implementations", rows.len());
            let (slow, fast) = (rows[0].time, rows[1].time);
            check_that!(
                slow >= Duration::from_millis(100) && fast < slow,
                "compare timed a closure that sleeps 100 ms at {slow:?} and one that does nothing at {fast:?}: time \
                 one call of each (Instant::now() before, elapsed() after)"
            );
            Ok(())
        })
        .check("on a GPU, peak_memory counts the GPU's memory, not the CPU's", |_ctx| {
            memory::install()?;
            let dev = cuda_or_skip()?;
            peak_is(dev, "makes a CUDA tensor of 4000 bytes and a CPU tensor of 1 MiB", 4000, &mut || {
                drop((floats(1000, dev), floats(1 << 18, Device::Cpu)));
            })
        })
        .check("format_table shows name, peak, ratio to the first, allocations and time", |_ctx| {
            let row = |name: &str, peak_bytes, allocations, ms| exercise::Row {
                name: name.into(),
                peak_bytes,
                allocations,
                time: Duration::from_micros(ms),
            };
            let rows = [
                row("naive", 32 << 20, 4, 12_310),
                row("chunked", 8 << 20, 35, 14_020),
                row("twice", 64 << 20, 8, 1_500),
            ];
            let table = within("for format_table of 3 rows", || Ok(exercise::format_table(&rows)))?;
            let lines: Vec<&str> = table.lines().filter(|l| !l.trim().is_empty()).collect();
            check_that!(
                lines.len() == 4,
                "format_table returned {} non-empty lines for 3 rows; expected a header and one line per row:\n{table}",
                lines.len()
            );
            let expected = [
                ["naive", "32 MiB", "x1.00", "4", "12.31 ms"],
                ["chunked", "8 MiB", "x0.25", "35", "14.02 ms"],
                ["twice", "64 MiB", "x2.00", "8", "1.50 ms"],
            ];
            for (line, want) in lines[1..].iter().zip(expected) {
                let columns: Vec<&str> = line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
                if columns != want {
                    return Err(Failure::new(format!(
                        "format_table's line for {:?} has the columns {columns:?}; expected {want:?} (name, \
                         memory::format_bytes(peak), peak / first row's peak as x0.00, allocations, time in ms \
                         with two decimals). The table:\n{table}",
                        want[0]
                    )));
                }
            }
            Ok(())
        })
        .check("peak_memory is written with memory::stats and memory::reset_peak", |_ctx| {
            assert_does_not_call(
                EXERCISE_SOURCE,
                "measure",
                "memory::measure does the whole measurement: write it yourself from memory::stats and \
                 memory::reset_peak",
            )
        })
        .run()
}
