//! Checks of 01_custom_autograd/relu_benchmark: the learner's benchmark is measured on work
//! whose cost the check knows, so that every rule of a fair benchmark (the regimes of its
//! contract) is tested on its own:
//!
//! - `f` runs `warmup + repeats` times;
//! - warm-up runs are not timed (five slow warm-up calls, three fast timed ones: timing the
//!   warm-up moves the median);
//! - the median, not the mean or the total (one slow run among fast ones), and for an even
//!   number of runs the mean of the middle two;
//! - the clock stops after the device is done, and starts after earlier work is done: a pretend
//!   GPU whose `f` returns at once and whose work happens in `synchronize`, as with CUDA.
//!
//! Sleeps are the known costs: a sleep lasts at least as long as asked, and the margins below
//! are wide (a factor of 3 or more) so that a loaded machine does not fail a right answer.
//! `forward_backward_time` must run forward and backward once per call of `f` (counted with a
//! custom ReLU whose forward and backward count their calls) and leave `x` alone; `relu_times`
//! must do real work (more time for 4 million elements than for a thousand). The stated rules
//! are read from the code: median_time written by hand (not the support library's timing), and
//! `synchronize` calling `tch::Cuda::synchronize`, which on a GPU must wait for the kernels.
//! Not checked: the order of the two times `relu_times` returns (custom, built-in), which no
//! measurement can tell apart reliably on a loaded machine.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tensorlings_support::prelude::*;

tensorlings_support::exercise_modules!("01_custom_autograd/relu_benchmark.rs");

const MS: Duration = Duration::from_millis(1);

fn no_device() {}

/// A pretend GPU: `launch` queues work and returns at once; `synchronize` waits until the
/// queued work is done (here, by sleeping for it).
struct PretendGpu {
    queued: Cell<Duration>,
}

impl PretendGpu {
    fn launch(&self, work: Duration) {
        self.queued.set(self.queued.get() + work);
    }

    fn synchronize(&self) {
        std::thread::sleep(self.queued.take());
    }
}

fn main() {
    Checks::new()
        .check("median_time runs f warmup + repeats times", |_ctx| {
            for (warmup, repeats) in [(3, 5), (0, 1), (2, 4)] {
                let calls = Cell::new(0);
                exercise::median_time(warmup, repeats, &no_device, &mut || calls.set(calls.get() + 1));
                check_that!(
                    calls.get() == warmup + repeats,
                    "median_time({warmup}, {repeats}, ..) called f {} times; it must call it {} times: {warmup} \
                     warm-up calls, then {repeats} timed ones",
                    calls.get(),
                    warmup + repeats
                );
            }
            Ok(())
        })
        .check("the warm-up is not timed", |_ctx| {
            // Five warm-up calls of 100 ms, three timed calls of 2 ms.
            let calls = Cell::new(0);
            let median = exercise::median_time(5, 3, &no_device, &mut || {
                calls.set(calls.get() + 1);
                std::thread::sleep(if calls.get() <= 5 { 100 * MS } else { 2 * MS });
            });
            check_that!(
                median >= 2 * MS && median < 40 * MS,
                "with 5 warm-up calls of 100 ms and 3 timed calls of 2 ms, median_time returned {median:?}; \
                 expected about 2 ms. Run the warm-up calls before, and outside, the timed ones"
            );
            Ok(())
        })
        .check("the median, not the mean or the total", |_ctx| {
            // Seven timed calls of 2 ms, one of which (the second) takes 300 ms.
            let calls = Cell::new(0);
            let median = exercise::median_time(1, 7, &no_device, &mut || {
                calls.set(calls.get() + 1);
                std::thread::sleep(if calls.get() == 3 { 300 * MS } else { 2 * MS });
            });
            check_that!(
                median >= 2 * MS && median < 30 * MS,
                "with seven timed calls of 2 ms, one of which took 300 ms, median_time returned {median:?}; the \
                 median is about 2 ms (the mean would be 45 ms, the total 312 ms). Sort the times and take the \
                 middle one"
            );
            Ok(())
        })
        .check("for an even number of repeats, the mean of the middle two", |_ctx| {
            // Four timed calls: 12, 2, 12 and 2 ms. The middle two, sorted, are 2 and 12 ms.
            let calls = Cell::new(0);
            let median = exercise::median_time(0, 4, &no_device, &mut || {
                calls.set(calls.get() + 1);
                std::thread::sleep(if calls.get() % 2 == 1 { 12 * MS } else { 2 * MS });
            });
            check_that!(
                median >= 6 * MS && median < 11 * MS,
                "with four timed calls of 12, 2, 12 and 2 ms, median_time returned {median:?}; the median \
                 of an even number of times is the mean of the middle two, about 7 ms"
            );
            Ok(())
        })
        .check("the clock stops after the device is done", |_ctx| {
            let gpu = PretendGpu { queued: Cell::new(Duration::ZERO) };
            let median = exercise::median_time(2, 5, &|| gpu.synchronize(), &mut || gpu.launch(20 * MS));
            check_that!(
                median >= 20 * MS && median < 100 * MS,
                "on a pretend GPU where f queues 20 ms of work and returns at once, median_time returned \
                 {median:?}; expected about 20 ms. Call synchronize() after f() and before reading the clock: \
                 on a GPU, f returns before its kernels are done"
            );
            Ok(())
        })
        .check("work queued before a timed run is not counted", |_ctx| {
            let gpu = PretendGpu { queued: Cell::new(Duration::ZERO) };
            let calls = Cell::new(0);
            let median = exercise::median_time(3, 1, &|| gpu.synchronize(), &mut || {
                calls.set(calls.get() + 1);
                gpu.launch(if calls.get() <= 3 { 100 * MS } else { 5 * MS });
            });
            check_that!(
                median >= 5 * MS && median < 60 * MS,
                "on a pretend GPU, 3 warm-up calls queue 100 ms of work each and the timed call 5 ms; \
                 median_time returned {median:?}, expected about 5 ms. Call synchronize() before starting \
                 the clock, so that the warm-up's work is done first"
            );
            Ok(())
        })
        .check("forward_backward_time runs forward and backward, on a leaf of its own", |ctx| {
            let (forwards, backwards) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let (f, b) = (Arc::clone(&forwards), Arc::clone(&backwards));
            let counting_relu = CustomFunction::new(
                "counting_relu",
                move |ctx, inputs| {
                    f.fetch_add(1, Ordering::SeqCst);
                    ctx.save_for_backward(&inputs[..1]);
                    vec![inputs[0].relu()]
                },
                move |ctx, grads| {
                    b.fetch_add(1, Ordering::SeqCst);
                    vec![Some(&grads[0] * ctx.saved()[0].gt(0.0).to_kind(grads[0].kind()))]
                },
            );
            let relu = |t: &Tensor| counting_relu.apply(&[t]).expect("the check's own relu").remove(0);
            let x = randn(&[1000], Kind::Float, ctx.device());
            let x_before = x.copy();
            exercise::forward_backward_time(&x, &relu, 2, 3);
            assert_unchanged("x", &x, &x_before)?;
            let (forwards, backwards) = (forwards.load(Ordering::SeqCst), backwards.load(Ordering::SeqCst));
            check_that!(
                forwards == 5 && backwards == 5,
                "with 2 warm-up runs and 3 timed ones, forward ran {forwards} times and backward ran {backwards} \
                 times; each of the 5 runs must call relu on a fresh leaf and then .sum().backward()"
            );
            Ok(())
        })
        .check("relu_times does the work, on x's device, and leaves x alone", |ctx| {
            let small = randn(&[1_000], Kind::Float, ctx.device());
            let large = randn(&[4_000_000], Kind::Float, ctx.device());
            let large_before = large.copy();
            let (custom_small, builtin_small) = exercise::relu_times(&small, 2, 5);
            let (custom_large, builtin_large) = exercise::relu_times(&large, 2, 5);
            assert_unchanged("x", &large, &large_before)?;
            check_that!(!large.grad().defined(), "x has a gradient now: make a leaf of your own, x.detach().set_requires_grad(true)");
            for (name, small, large) in [("custom", custom_small, custom_large), ("built-in", builtin_small, builtin_large)] {
                check_that!(
                    large > small,
                    "the {name} time for 4 million elements ({large:?}) is not above the time for a thousand \
                     ({small:?}): relu_times must run forward and backward on x itself"
                );
            }
            Ok(())
        })
        .check("written by hand, with tch::Cuda::synchronize on a GPU", |_ctx| {
            assert_does_not_call(EXERCISE_SOURCE, "timing::", "the support library's timing module is the answer; write median_time yourself")?;
            assert_calls(EXERCISE_SOURCE, "Cuda::synchronize", "synchronize(device) must call tch::Cuda::synchronize(index) for Device::Cuda(index)")
        })
        .check("synchronize waits for CUDA kernels", |_ctx| {
            let cuda = cuda_or_skip()?;
            let a = randn(&[4096, 4096], Kind::Float, cuda);
            let median = exercise::median_time(1, 3, &|| exercise::synchronize(cuda), &mut || {
                let _ = a.matmul(&a).matmul(&a);
            });
            check_that!(
                median > Duration::from_micros(200),
                "two 4096 x 4096 matmuls on CUDA took {median:?}, which is the time to queue them: synchronize(device) must wait with tch::Cuda::synchronize"
            );
            Ok(())
        })
        .run()
}
