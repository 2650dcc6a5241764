//! Timing tensor code fairly: warm-up runs, repeated measurements, the median, and a device
//! synchronize around each run so GPU time is measured and not just the kernel launch.
//!
//! A check that asks for a speed-up (a fused or vectorised version against a loop) measures both
//! and compares medians:
//!
//! ```text
//! let slow = measure(dev, 2, 10, || { let _ = solution::naive(&x); });
//! let fast = measure(dev, 2, 10, || { let _ = exercise::vectorised(&x); });
//! check_that!(fast.ratio_to(&slow) < 0.5, "vectorised: {fast}, naive: {slow}; expected at least 2x faster");
//! ```
//!
//! On a GPU, kernels run asynchronously: without a synchronize a call returns as soon as its
//! kernels are queued. [`measure`] waits for the device before starting the clock (so earlier work
//! is not counted) and before stopping it (so this call's work is). Timings on a shared machine
//! are noisy: compare ratios with a wide margin, and prefer the median, which one slow run (a
//! page fault, another process) does not move.

use std::fmt;
use std::time::{Duration, Instant};

use tch::{Cuda, Device};

/// The measurements of one piece of code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// The median of the samples (for an even count, the mean of the middle two).
    pub median: Duration,
    /// The fastest sample.
    pub min: Duration,
    /// Every timed run, in the order they ran.
    pub samples: Vec<Duration>,
}

impl Timing {
    /// Summarises samples; `None` when there are none.
    fn from_samples(samples: Vec<Duration>) -> Option<Timing> {
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        let min = *sorted.first()?;
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2 };
        Some(Timing { median, min, samples })
    }

    /// This median divided by `other`'s: 0.5 means this code takes half the time of `other`.
    /// Infinite when `other`'s median is zero and this one is not; NaN when both are zero.
    pub fn ratio_to(&self, other: &Timing) -> f64 {
        self.median.as_secs_f64() / other.median.as_secs_f64()
    }
}

impl fmt::Display for Timing {
    /// `median 1.23ms (min 1.1ms, 10 runs)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "median {:.3?} (min {:.3?}, {} run{})",
            self.median,
            self.min,
            self.samples.len(),
            if self.samples.len() == 1 { "" } else { "s" }
        )
    }
}

/// Waits for every queued kernel on `device` when it is a GPU; nothing to wait for on the CPU.
fn synchronize(device: Device) {
    if let Device::Cuda(index) = device {
        Cuda::synchronize(index as i64);
    }
}

/// Runs `f` `warmup` times untimed (caches, lazy initialisation, cuDNN autotuning), then
/// `repeats` times timed, synchronizing `device` before and after each timed run.
///
/// Panics when `repeats` is 0: there would be nothing to report.
#[track_caller]
pub fn measure(device: Device, warmup: usize, repeats: usize, mut f: impl FnMut()) -> Timing {
    assert!(repeats > 0, "measure needs at least one timed repeat");
    for _ in 0..warmup {
        f();
    }
    synchronize(device);
    let mut samples = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        synchronize(device);
        let start = Instant::now();
        f();
        synchronize(device);
        samples.push(start.elapsed());
    }
    Timing::from_samples(samples).expect("at least one sample was taken")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn median_and_min_of_known_samples() {
        let odd = Timing::from_samples(ms(&[5, 1, 9, 3, 7])).unwrap();
        assert_eq!((odd.median, odd.min), (Duration::from_millis(5), Duration::from_millis(1)));
        assert_eq!(odd.samples, ms(&[5, 1, 9, 3, 7]), "samples keep their order");
        let even = Timing::from_samples(ms(&[4, 1, 2, 100])).unwrap();
        assert_eq!(even.median, Duration::from_millis(3));
        assert_eq!(Timing::from_samples(Vec::new()), None);
    }

    #[test]
    fn ratios_compare_medians() {
        let slow = Timing::from_samples(ms(&[10, 10, 1000])).unwrap();
        let fast = Timing::from_samples(ms(&[5, 1, 5])).unwrap();
        assert_eq!(fast.ratio_to(&slow), 0.5);
        assert_eq!(slow.ratio_to(&fast), 2.0);
        let zero = Timing::from_samples(ms(&[0])).unwrap();
        assert!(fast.ratio_to(&zero).is_infinite());
    }

    #[test]
    fn measure_runs_warmup_and_repeats() {
        let mut calls = 0;
        let timing = measure(Device::Cpu, 3, 4, || calls += 1);
        assert_eq!(calls, 7);
        assert_eq!(timing.samples.len(), 4);
        assert!(timing.min <= timing.median);
        assert!(timing.samples.iter().all(|&s| s >= timing.min));
    }

    #[test]
    fn measure_times_gpu_work_when_there_is_a_gpu() {
        let device = Device::cuda_if_available();
        let x = tch::Tensor::ones([256, 256], (tch::Kind::Float, device));
        let timing = measure(device, 1, 3, || {
            let _ = x.matmul(&x);
        });
        assert_eq!(timing.samples.len(), 3);
    }

    #[test]
    #[should_panic(expected = "measure needs at least one timed repeat")]
    fn zero_repeats_are_refused() {
        measure(Device::Cpu, 0, 0, || {});
    }

    #[test]
    fn display_is_short() {
        let timing = Timing::from_samples(ms(&[2, 1])).unwrap();
        assert_eq!(timing.to_string(), "median 1.500ms (min 1.000ms, 2 runs)");
    }
}
