//! Checks of 03_memory/memory_profiler, on a sequence of steps whose bytes are known exactly
//! (a float32 tensor of n elements is 4n bytes):
//!
//! - a step that makes a tensor and keeps it; one that makes a temporary and frees it (its peak
//!   is above what it leaves); one that frees a tensor of an earlier step (its peak is the level
//!   at its start, and the running peak stays the earlier, higher one); one that frees a tensor
//!   made before the profiler (the level goes below 0); one that allocates less than was freed
//!   (its peak is negative); and an allocation between steps, which counts in the levels (they
//!   are measured from the profiler's creation) and in no step;
//! - `step` returns what the closure returned;
//! - the report: a header and one line per step with every column, negative levels with a minus;
//! - a real computation (a linear layer, relu, loss, backward, frees): the steps' allocated and
//!   freed bytes add up to what `memory::measure` sees around the whole, and the last running
//!   peak is its peak.

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Failure, check_that, memory, within};

tensorlings_support::exercise_modules!("03_memory/memory_profiler.rs");

use exercise::{MemoryProfiler, Step};

fn floats(n: i64, device: Device) -> Tensor {
    Tensor::zeros([n], (Kind::Float, device))
}

/// (name, allocations, allocated, freed, held, step peak, running peak)
type Expected = (&'static str, u64, u64, u64, i64, i64, i64);

/// The known sequence; returns the profiler's steps and the report.
fn known_sequence(dev: Device) -> Result<(Vec<Step>, String), Failure> {
    within("for the known sequence of steps", || {
        let before_profiler = floats(1000, dev); // 4000 bytes, made before the profiler
        let mut profiler = MemoryProfiler::new(dev);
        let a = profiler.step("make a", || floats(1000, dev)); // keeps 4000
        profiler.step("temporary", || drop(floats(2000, dev))); // 8000 made and freed
        let between = floats(500, dev); // 2000 bytes between steps: in the levels, in no step
        profiler.step("free a", || drop(a));
        profiler.step("free older", || drop((before_profiler, between)));
        let small = profiler.step("small", || floats(250, dev)); // 1000 bytes
        check_that!(
            small.size() == [250],
            "step(\"small\", || a tensor of shape [250]) returned a tensor of shape {:?}: return what f returned",
            small.size()
        );
        Ok((profiler.steps().to_vec(), profiler.report()))
    })
}

const EXPECTED: [Expected; 5] = [
    ("make a", 1, 4000, 0, 4000, 4000, 4000),
    ("temporary", 1, 8000, 8000, 4000, 12000, 12000),
    ("free a", 0, 0, 4000, 2000, 6000, 12000),
    ("free older", 0, 0, 6000, -4000, 2000, 12000),
    ("small", 1, 1000, 0, -3000, -3000, 12000),
];

const HOW: &str = "the known sequence: the caller holds 4000 bytes when the profiler is created; \"make a\" \
    keeps 4000 bytes; \"temporary\" makes 8000 and frees them; then 2000 bytes are made between steps; \"free a\" \
    frees the 4000 of \"make a\"; \"free older\" frees the 4000 made before the profiler and the 2000 made between \
    steps; \"small\" keeps 1000. Levels are measured from the bytes held when the profiler was created";

fn field_differs(step: &Step, want: &Expected) -> Option<String> {
    let (name, allocations, allocated, freed, held, peak, running) = *want;
    let got = [
        ("allocations", step.allocations as i64, allocations as i64),
        ("allocated_bytes", step.allocated_bytes as i64, allocated as i64),
        ("freed_bytes", step.freed_bytes as i64, freed as i64),
        ("held_bytes", step.held_bytes, held),
        ("step_peak_bytes", step.step_peak_bytes, peak),
        ("running_peak_bytes", step.running_peak_bytes, running),
    ];
    if step.name != name {
        return Some(format!("the step is named {:?}; expected {name:?}", step.name));
    }
    got.iter()
        .find(|(_, g, w)| g != w)
        .map(|(field, g, w)| format!("step {name:?} has {field} = {g}; expected {w}"))
}

fn main() {
    Checks::new()
        .check("each step's allocations, allocated and freed bytes and held level", |ctx| {
            memory::install()?;
            let (steps, _) = known_sequence(ctx.device())?;
            check_that!(steps.len() == EXPECTED.len(), "{} steps were recorded for 5 steps", steps.len());
            for (step, want) in steps.iter().zip(&EXPECTED) {
                let mut counts_only = step.clone();
                counts_only.step_peak_bytes = want.5;
                counts_only.running_peak_bytes = want.6;
                if let Some(problem) = field_differs(&counts_only, want) {
                    return Err(Failure::new(format!("{problem}, for {HOW}")));
                }
            }
            Ok(())
        })
        .check("each step's peak and the running peak", |ctx| {
            memory::install()?;
            let (steps, _) = known_sequence(ctx.device())?;
            check_that!(steps.len() == EXPECTED.len(), "{} steps were recorded for 5 steps", steps.len());
            for (step, want) in steps.iter().zip(&EXPECTED) {
                if let Some(problem) = field_differs(step, want) {
                    return Err(Failure::new(format!(
                        "{problem}, for {HOW}. A step's peak is the highest level during the step (reset the peak \
                         when it starts); the running peak is the highest of all steps so far"
                    )));
                }
            }
            Ok(())
        })
        .check("the report has a header and a line per step, with signed human bytes", |ctx| {
            memory::install()?;
            let (_, report) = known_sequence(ctx.device())?;
            let lines: Vec<&str> = report.lines().filter(|l| !l.trim().is_empty()).collect();
            check_that!(
                lines.len() == 6,
                "the report has {} non-empty lines for 5 steps; expected a header and one line per step:\n{report}",
                lines.len()
            );
            let expected = [
                ["make a", "3.9 KiB", "0 B", "3.9 KiB", "3.9 KiB", "3.9 KiB"],
                ["temporary", "7.8 KiB", "7.8 KiB", "3.9 KiB", "11.7 KiB", "11.7 KiB"],
                ["free a", "0 B", "3.9 KiB", "2 KiB", "5.9 KiB", "11.7 KiB"],
                ["free older", "0 B", "5.9 KiB", "-3.9 KiB", "2 KiB", "11.7 KiB"],
                ["small", "1000 B", "0 B", "-2.9 KiB", "-2.9 KiB", "11.7 KiB"],
            ];
            for (line, want) in lines[1..].iter().zip(expected) {
                let columns: Vec<&str> = line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
                check_that!(
                    columns == want,
                    "the report's line for {:?} has the columns {columns:?}; expected {want:?} (name, allocated, \
                     freed, held, step peak, running peak, each as signed_bytes). The report:\n{report}",
                    want[0]
                );
            }
            Ok(())
        })
        .check("signed_bytes puts a minus sign before negative sizes", |_ctx| {
            for (bytes, want) in [(0, "0 B"), (4000, "3.9 KiB"), (-4000, "-3.9 KiB"), (-1 << 20, "-1 MiB"), (-1, "-1 B")] {
                let got = within(format!("for signed_bytes({bytes})"), || Ok(exercise::signed_bytes(bytes)))?;
                check_that!(got == want, "signed_bytes({bytes}) returned {got:?}; expected {want:?}");
            }
            Ok(())
        })
        .check("on a linear layer with backward, the steps add up to the whole", |ctx| -> CheckResult {
            memory::install()?;
            let dev = ctx.device();
            let x = randn(&[256, 128], Kind::Float, dev);
            // The same computation twice, each on a fresh leaf (its gradient is allocated once per
            // leaf): measured whole, then as five steps of the profiler.
            let leaves = [0, 1].map(|_| randn(&[128, 512], Kind::Float, dev).set_requires_grad(true));
            let run = |w: &Tensor, profiler: &mut dyn FnMut(&str, &mut dyn FnMut())| {
                let (mut h, mut y, mut loss) = (None, None, None);
                profiler("linear", &mut || h = Some(x.matmul(w)));
                profiler("relu", &mut || y = Some(h.as_ref().unwrap().relu()));
                drop(h.take()); // 512 KiB freed between steps
                profiler("loss", &mut || loss = Some(y.as_ref().unwrap().square().mean(Kind::Float)));
                profiler("backward", &mut || loss.as_ref().unwrap().backward());
                profiler("free", &mut || drop((y.take(), loss.take())));
            };
            let ((), whole) = memory::measure(dev, || run(&leaves[0], &mut |_, f| f()))?;
            let steps = within("for a linear layer, relu, loss and backward as five steps", || {
                let mut profiler = MemoryProfiler::new(dev);
                run(&leaves[1], &mut |name, f| profiler.step(name, f));
                Ok(profiler.steps().to_vec())
            })?;
            let allocated: u64 = steps.iter().map(|s| s.allocated_bytes).sum();
            let freed: u64 = steps.iter().map(|s| s.freed_bytes).sum();
            let running = steps.last().map_or(0, |s| s.running_peak_bytes);
            let between = 256 * 512 * 4;
            check_that!(
                allocated == whole.allocated_bytes && freed + between == whole.freed_bytes
                    && running == whole.peak_bytes as i64,
                "on a linear layer with backward as five steps, the steps allocated {allocated} bytes, freed {freed} \
                 and reached a running peak of {running}; the same computation measured whole allocated {}, freed \
                 {} ({between} of them between steps) and peaked at {}",
                whole.allocated_bytes,
                whole.freed_bytes,
                whole.peak_bytes
            );
            Ok(())
        })
        .run()
}
