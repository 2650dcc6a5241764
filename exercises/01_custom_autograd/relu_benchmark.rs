// Exercise 01_custom_autograd/relu_benchmark: is the custom ReLU slower than the built-in?
//
// A custom function costs something: its forward and backward are separate kernels that
// libtorch cannot fuse, and each call crosses into Rust and back. Whether that matters is a
// question for a benchmark, and a benchmark is easy to get wrong:
//
// - The first calls are slow (allocator caches, lazy initialisation, on a GPU kernel loading
//   and cuDNN autotuning): run warm-up calls that are not timed.
// - One run is noise (another process, a page fault): repeat, and report the median, which one
//   slow run does not move, unlike the mean.
// - A GPU runs asynchronously: a call returns once its kernels are queued, not done. Wait for
//   the device (torch.cuda.synchronize()) before starting the clock, so earlier work is not
//   counted, and before stopping it, so this run's work is.
//
// The checks test your benchmark on work whose cost they know: calls that sleep, a slow first
// call, one slow run among fast ones, and a pretend GPU whose work only finishes when you call
// `synchronize`.

use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};
use tensorlings_support::autograd::{Context, Function};

/// Waits until every kernel queued on `device` has finished: `tch::Cuda::synchronize(index)` for
/// `Device::Cuda(index)`; nothing to wait for on the CPU.
///
/// PyTorch: `torch.cuda.synchronize(device)`.
pub fn synchronize(device: Device) {
    // TODO
    todo!("synchronize {device:?}")
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
    // TODO
    todo!("median_time with {warmup} warm-up calls and {repeats} repeats")
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
    // TODO
    todo!("forward_backward_time on x of shape {:?}", x.size())
}

/// `(custom, builtin)`: `forward_backward_time` of `CustomRelu` and of the built-in `relu`.
///
/// PyTorch: `forward_backward_time(x, CustomReLU.apply, ...), forward_backward_time(x, torch.relu, ...)`
pub fn relu_times(x: &Tensor, warmup: usize, repeats: usize) -> (Duration, Duration) {
    // TODO
    todo!("relu_times on x of shape {:?}", x.size())
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
