//! The memory statistics: exact byte counts on CPU, peak and reset, the CPU limit and its
//! message, threads, and the CUDA path's answer without a GPU.
//!
//! The counters are global to the process, and cargo runs tests on parallel threads: every test
//! takes `LOCK` so that no other test allocates while it counts.

use std::sync::{Mutex, MutexGuard};

use tch::{Device, Kind, Tensor};
use tensorlings_support::Failure;
use tensorlings_support::memory::{self, MemoryError, MemoryStats};

static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    // A failed test poisons the lock; the others still run.
    let guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    memory::install().expect("install the counting CPU allocator");
    guard
}

fn cpu() -> MemoryStats {
    memory::stats(Device::Cpu).unwrap()
}

#[test]
fn a_float_tensor_of_1000_elements_is_4000_bytes_and_nothing_more() {
    let _serial = serial();
    let before = cpu();
    let x = Tensor::zeros([1000], (Kind::Float, Device::Cpu));
    let held = cpu();
    assert_eq!(held.current_bytes - before.current_bytes, 4000);
    assert_eq!(held.allocations - before.allocations, 1);
    assert_eq!(held.allocated_bytes - before.allocated_bytes, 4000);
    drop(x);
    let after = cpu();
    assert_eq!(after.current_bytes, before.current_bytes);
    assert_eq!(after.frees - before.frees, 1);
    assert_eq!(after.freed_bytes - before.freed_bytes, 4000);
}

#[test]
fn sizes_are_elements_times_element_size_for_every_kind_and_shape() {
    let _serial = serial();
    for (shape, kind, bytes) in [
        (vec![1i64], Kind::Float, 4u64),
        (vec![3, 5], Kind::Double, 120),
        (vec![7, 3], Kind::Half, 42),
        (vec![10], Kind::Bool, 10),
        (vec![2, 2], Kind::ComplexFloat, 32),
        (vec![1, 1000, 3], Kind::Int64, 24000),
    ] {
        let (_, m) =
            memory::measure(Device::Cpu, || drop(Tensor::ones(shape.as_slice(), (kind, Device::Cpu))))
                .unwrap();
        assert_eq!((m.allocations, m.allocated_bytes, m.peak_bytes), (1, bytes, bytes), "{shape:?} {kind:?}");
        assert_eq!((m.frees, m.freed_bytes, m.retained_bytes), (1, bytes, 0), "{shape:?} {kind:?}");
    }
}

#[test]
fn empty_tensors_are_not_counted_and_views_allocate_nothing() {
    let _serial = serial();
    let x = Tensor::zeros([100, 10], (Kind::Float, Device::Cpu));
    let (_, m) = memory::measure(Device::Cpu, || {
        let empty = Tensor::zeros([0, 10], (Kind::Float, Device::Cpu));
        let views = (x.transpose(0, 1), x.narrow(0, 10, 20), x.view([1000]), x.unsqueeze(0));
        drop((empty, views));
    })
    .unwrap();
    assert_eq!((m.allocations, m.peak_bytes), (0, 0));
    // A copy that makes a transposed view contiguous is one new allocation.
    let (_, m) = memory::measure(Device::Cpu, || drop(x.transpose(0, 1).contiguous())).unwrap();
    assert_eq!((m.allocations, m.allocated_bytes), (1, 4000));
}

#[test]
fn the_peak_is_the_most_held_at_once_and_survives_frees() {
    let _serial = serial();
    let (_, m) = memory::measure(Device::Cpu, || {
        let a = Tensor::zeros([1000], (Kind::Float, Device::Cpu)); // 4000
        drop(a);
        let b = Tensor::zeros([2000], (Kind::Float, Device::Cpu)); // 8000
        let c = Tensor::zeros([500], (Kind::Float, Device::Cpu)); // 2000 with b: 10000
        drop((b, c));
    })
    .unwrap();
    assert_eq!(m.peak_bytes, 10_000);
    assert_eq!(m.allocations, 3);
    assert_eq!(m.allocated_bytes, 14_000);
    assert_eq!(m.freed_bytes, 14_000);
    assert_eq!(m.retained_bytes, 0);
}

#[test]
fn reset_peak_brings_the_peak_down_to_the_current_bytes() {
    let _serial = serial();
    let kept = Tensor::zeros([1000], (Kind::Float, Device::Cpu));
    drop(Tensor::zeros([1_000_000], (Kind::Float, Device::Cpu)));
    let high = cpu();
    assert!(high.peak_bytes >= high.current_bytes + 4_000_000, "{high:?}");
    memory::reset_peak(Device::Cpu).unwrap();
    let reset = cpu();
    assert_eq!(reset.peak_bytes, reset.current_bytes);
    drop(kept);
    // Frees never raise the peak.
    assert_eq!(cpu().peak_bytes, reset.current_bytes);
}

#[test]
fn measure_counts_what_the_closure_keeps_and_what_it_frees_of_older_tensors() {
    let _serial = serial();
    let old = Tensor::zeros([250], (Kind::Float, Device::Cpu)); // 1000 bytes
    let (kept, m) = memory::measure(Device::Cpu, move || {
        drop(old);
        Tensor::zeros([2, 100], (Kind::Double, Device::Cpu)) // 1600 bytes, returned
    })
    .unwrap();
    assert_eq!(m.retained_bytes, 600);
    assert_eq!((m.frees, m.freed_bytes), (1, 1000));
    // The peak is a level above the start: 1000 bytes were freed before 1600 were allocated.
    assert_eq!(m.peak_bytes, 600);
    assert_eq!(kept.size(), [2, 100]);
    assert_eq!(m.to_string(), "peak 600 B above the start, 1 allocation of 1.6 KiB in all");
}

#[test]
fn format_bytes_uses_binary_units_with_one_decimal_where_needed() {
    let gib = 1u64 << 30;
    for (bytes, text) in [
        (0, "0 B"),
        (4000, "3.9 KiB"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (1024 * 1024 - 1, "1 MiB"),
        (8 * gib, "8 GiB"),
        ((38.1 * gib as f64) as u64, "38.1 GiB"),
        (1 << 40, "1 TiB"),
    ] {
        assert_eq!(memory::format_bytes(bytes), text, "{bytes} bytes");
    }
}

#[test]
fn the_cpu_limit_refuses_an_allocation_past_it_with_its_message_and_then_lifts() {
    let _serial = serial();
    let before = cpu();
    memory::set_cpu_limit(Some(8 << 30)).unwrap();
    // 38.1 GiB of float32: refused before anything is asked of the system.
    let elements = (38.1 * (1u64 << 30) as f64 / 4.0) as i64;
    let refused = Tensor::f_empty([elements], (Kind::Float, Device::Cpu));
    memory::set_cpu_limit(None).unwrap();
    let message = refused.expect_err("past the limit").to_string();
    assert!(message.contains("tried to allocate 38.1 GiB; the limit is 8 GiB"), "{message}");
    // The refused allocation left no trace.
    let after = cpu();
    assert_eq!((after.current_bytes, after.allocations), (before.current_bytes, before.allocations));
}

#[test]
fn the_cpu_limit_counts_what_is_held_already_and_a_free_makes_room() {
    let _serial = serial();
    let base = cpu().current_bytes;
    memory::set_cpu_limit(Some(base + 10_000)).unwrap();
    let a = Tensor::zeros([2000], (Kind::Float, Device::Cpu)); // 8000: fits
    let b = Tensor::f_zeros([1000], (Kind::Float, Device::Cpu)); // 4000 more: 12000 > 10000
    let exactly = Tensor::f_zeros([500], (Kind::Float, Device::Cpu)); // to exactly 10000: fits
    drop(a);
    let c = Tensor::f_zeros([1000], (Kind::Float, Device::Cpu)); // fits again
    memory::set_cpu_limit(None).unwrap();
    let message = b.expect_err("past the limit").to_string();
    assert!(message.contains(memory::LIMIT_ERROR_PREFIX), "{message}");
    assert!(message.contains("tried to allocate 3.9 KiB; the limit is"), "{message}");
    assert!(exactly.is_ok() && c.is_ok());
}

#[test]
fn the_cpu_limit_reaches_learner_code_as_a_panic_of_tch() {
    let _serial = serial();
    memory::set_cpu_limit(Some(cpu().current_bytes + 1000)).unwrap();
    let result =
        std::panic::catch_unwind(|| Tensor::ones([100, 100], (Kind::Float, Device::Cpu)).sum(Kind::Float));
    memory::set_cpu_limit(None).unwrap();
    let payload = result.expect_err("a panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(message.contains("tried to allocate 39.1 KiB; the limit is"), "{message}");
}

#[test]
fn allocations_on_many_threads_are_all_counted() {
    let _serial = serial();
    let before = cpu();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let mut kept = Vec::new();
                for i in 0..200 {
                    let t = Tensor::zeros([1000], (Kind::Float, Device::Cpu));
                    if i % 2 == 0 {
                        kept.push(t);
                    }
                }
                kept
            })
        })
        .collect();
    let kept: Vec<Vec<Tensor>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let held = cpu();
    assert_eq!(held.allocations - before.allocations, 800);
    assert_eq!(held.allocated_bytes - before.allocated_bytes, 800 * 4000);
    assert_eq!(held.current_bytes - before.current_bytes, 400 * 4000);
    assert!(held.peak_bytes >= held.current_bytes);
    // Freed on other threads than the ones that allocated them.
    std::thread::spawn(move || drop(kept)).join().unwrap();
    let after = cpu();
    assert_eq!(after.current_bytes, before.current_bytes);
    assert_eq!(after.frees - before.frees, 800);
}

#[test]
fn libtorch_kernels_and_backward_leave_the_counts_balanced() {
    let _serial = serial();
    let before = cpu();
    {
        // Convolution (oneDNN may allocate through the allocator's raw interface), matmul,
        // and a backward that runs on autograd's threads.
        let x = Tensor::randn([2, 3, 16, 16], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let w = Tensor::randn([4, 3, 3, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let y = x.conv2d(&w, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
        let z = y.flatten(1, -1).matmul(&Tensor::randn([1024, 5], (Kind::Float, Device::Cpu)));
        z.square().sum(Kind::Float).backward();
        assert_eq!(x.grad().size(), x.size());
    }
    let after = cpu();
    assert!(after.allocations > before.allocations);
    assert_eq!(after.current_bytes, before.current_bytes);
    assert_eq!(after.allocated_bytes - before.allocated_bytes, after.freed_bytes - before.freed_bytes);
}

#[test]
fn install_is_idempotent() {
    let _serial = serial();
    for _ in 0..3 {
        memory::install().unwrap();
    }
    let (_, m) =
        memory::measure(Device::Cpu, || drop(Tensor::zeros([10], (Kind::Float, Device::Cpu)))).unwrap();
    // Counted once, not once per install.
    assert_eq!(m.allocated_bytes, 40);
}

#[test]
#[cfg_attr(not(tensorlings_gpu_tests), ignore = "needs a GPU: no NVIDIA driver here (TENSORLINGS_REQUIRE_GPU=1 runs it)")]
fn cuda_statistics_count_requested_bytes_as_on_cpu() {
    let _serial = serial();
    let dev = Device::Cuda(0);
    let (_, m) = memory::measure(dev, || drop(Tensor::zeros([1000], (Kind::Float, dev)))).unwrap();
    assert_eq!((m.allocations, m.allocated_bytes, m.peak_bytes), (1, 4000, 4000));
    let missing = memory::stats(Device::Cuda(100)).unwrap_err();
    assert!(matches!(missing, MemoryError::Cuda(ref m) if m.contains("does not exist")), "{missing}");
}

#[test]
#[cfg_attr(tensorlings_gpu_tests, ignore = "tests a machine without a GPU")]
fn cuda_statistics_without_cuda_are_a_clear_error_and_a_skip_in_a_check() {
    let error = memory::stats(Device::Cuda(0)).unwrap_err();
    assert_eq!(error, MemoryError::NoCuda);
    assert_eq!(memory::reset_peak(Device::Cuda(0)).unwrap_err(), MemoryError::NoCuda);
    assert!(memory::measure(Device::Cuda(0), || ()).is_err());
    assert!(error.to_string().contains("no CUDA device"), "{error}");
    assert!(Failure::from(error).is_skip());
}

#[test]
fn other_devices_are_an_error() {
    assert_eq!(memory::stats(Device::Mps).unwrap_err(), MemoryError::UnsupportedDevice(Device::Mps));
    assert!(!Failure::from(MemoryError::UnsupportedDevice(Device::Mps)).is_skip());
}
