// Reference solution of 01_custom_autograd/relu_benchmark.

use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};
use tensorlings_support::autograd::{Context, Function};

/// Waits until every kernel queued on `device` has finished: `tch::Cuda::synchronize(index)` for
/// `Device::Cuda(index)`; nothing to wait for on the CPU.
///
/// PyTorch: `torch.cuda.synchronize(device)`.
pub fn synchronize(device: Device) {
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
}

/// The median time of one call of `f`: `warmup` untimed calls first, then `repeats` timed
/// calls, each timed as `synchronize(); start the clock; f(); synchronize(); stop the clock`.
/// For an even number of repeats, the median is the mean of the middle two. Panics when
/// `repeats` is 0.
///
/// PyTorch:
/// ```python
/// for _ in range(warmup): f()
/// times = []
/// for _ in range(repeats):
///     synchronize(); start = time.perf_counter()
///     f()
///     synchronize(); times.append(time.perf_counter() - start)
/// return statistics.median(times)
/// ```
pub fn median_time(warmup: usize, repeats: usize, synchronize: &dyn Fn(), f: &mut dyn FnMut()) -> Duration {
    assert!(repeats > 0, "median_time needs at least one timed repeat");
    for _ in 0..warmup {
        f();
    }
    let mut samples: Vec<Duration> = (0..repeats)
        .map(|_| {
            // Work queued before this run (the warm-up's, say) is not this run's.
            synchronize();
            let start = Instant::now();
            f();
            // f returned when its work was queued; it is done after this.
            synchronize();
            start.elapsed()
        })
        .collect();
    samples.sort_unstable();
    let middle = samples.len() / 2;
    if samples.len() % 2 == 1 { samples[middle] } else { (samples[middle - 1] + samples[middle]) / 2 }
}

/// The ReLU of the first exercise, written for you.
pub struct CustomRelu;

impl Function for CustomRelu {
    const NAME: &'static str = "custom_relu";

    fn forward(ctx: &mut Context, inputs: &[Tensor]) -> Vec<Tensor> {
        ctx.save_for_backward(&inputs[..1]);
        vec![inputs[0].clamp_min(0.0)]
    }

    fn backward(ctx: &Context, grad_outputs: &[Tensor]) -> Vec<Option<Tensor>> {
        let flows = ctx.saved()[0].gt(0.0).to_kind(grad_outputs[0].kind());
        vec![Some(&grad_outputs[0] * flows)]
    }
}

/// The median time of one forward and backward pass of `relu` on `x`: each run makes a leaf of
/// its own that requires grad, then `relu(&leaf).sum().backward()`. Measured with `median_time`
/// and `synchronize(x.device())`; `x` is left as it was.
///
/// PyTorch:
/// ```python
/// def run():
///     leaf = x.detach().requires_grad_(True)
///     relu(leaf).sum().backward()
/// return median_time(warmup, repeats, lambda: synchronize(x.device), run)
/// ```
pub fn forward_backward_time(
    x: &Tensor,
    relu: &dyn Fn(&Tensor) -> Tensor,
    warmup: usize,
    repeats: usize,
) -> Duration {
    let device = x.device();
    // A fresh leaf per run: gradients would otherwise accumulate into the same tensor, and
    // set_requires_grad on x itself would change the caller's tensor.
    let mut run = || {
        let leaf = x.detach().set_requires_grad(true);
        relu(&leaf).sum(leaf.kind()).backward();
    };
    median_time(warmup, repeats, &|| synchronize(device), &mut run)
}

/// `(custom, builtin)`: `forward_backward_time` of `CustomRelu` and of the built-in `relu`.
///
/// PyTorch: `forward_backward_time(x, CustomReLU.apply, ...), forward_backward_time(x, torch.relu, ...)`
pub fn relu_times(x: &Tensor, warmup: usize, repeats: usize) -> (Duration, Duration) {
    let custom = |t: &Tensor| CustomRelu::apply(&[t]).expect("custom_relu failed").remove(0);
    let builtin = |t: &Tensor| t.relu();
    (forward_backward_time(x, &custom, warmup, repeats), forward_backward_time(x, &builtin, warmup, repeats))
}

fn main() {
    let device = if tch::Cuda::is_available() { Device::Cuda(0) } else { Device::Cpu };
    for n in [1_000, 1_000_000, 10_000_000] {
        let x = Tensor::randn([n], (Kind::Float, device));
        let (custom, builtin) = relu_times(&x, 3, 20);
        let ratio = custom.as_secs_f64() / builtin.as_secs_f64();
        println!("{n:>10} elements on {device:?}: custom {custom:?}, built-in {builtin:?}, ratio {ratio:.2}");
    }
}
