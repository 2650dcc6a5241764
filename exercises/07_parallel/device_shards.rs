// Exercise 07_parallel/device_shards: one computation spread over several devices.
//
// The simplest model parallelism: the rows of a batch cut into shards, one shard per device,
// each device computing its part with its own copy of the weights, and the parts gathered on
// one device at the end. Every tensor an operation touches must be on that operation's device
// (libtorch refuses a matmul of a CPU tensor with a CUDA one), and every copy between devices
// costs: a copy to the host inside the loop (`.to_device(Device::Cpu)`, `double_value`,
// printing) also makes the CPU wait for the GPU, serializing what could overlap. So: move the
// shard and the weights to the device, compute there, and move only the results, once, to
// where they are gathered.
//
// Copies between devices can be non-blocking (`x.to(device, non_blocking=True)`): the call
// returns before the copy is done. Safe when the destination is a GPU: the copy is queued on the
// GPU's stream, and the kernels that use the copy are queued after it. Not safe when the
// destination is the CPU: the host would go on and read memory the GPU has not written yet (it
// would need a synchronize first). Between two places on the CPU there is nothing to overlap:
// blocking. (From the CPU a non-blocking copy only overlaps when the source is in pinned
// memory, `pin_memory()`; from ordinary memory it is done synchronously, which is still safe.)
//
// With no GPU, the device list may hold the CPU several times ([Cpu, Cpu, Cpu]): the same code
// runs, and the checks run it on a GPU as well when there is one (mixing cuda:0 and the CPU).

use tch::{Device, Kind, Tensor};

/// Whether a copy from `from` to `to` may be non-blocking: true exactly when `to` is a CUDA
/// device (from the CPU or from any GPU), false when it is the CPU.
pub fn non_blocking_is_safe(from: Device, to: Device) -> bool {
    // TODO: safe exactly when the destination is a GPU (matches!(to, Device::Cuda(_))).
    todo!("non_blocking_is_safe({from:?}, {to:?})")
}

/// `t` on `device` (itself when it is there already), by a copy that is non-blocking exactly when
/// that is safe.
///
/// PyTorch: `t.to(device, non_blocking=non_blocking_is_safe(t.device, device))`
pub fn copy_to(t: &Tensor, device: Device) -> Tensor {
    // TODO: t.to_device_(device, t.kind(), non_blocking, false), non_blocking from the rule above.
    todo!("copy_to of {:?} to {device:?}", t.size())
}

/// `layer(x, weight)` computed in shards: the rows of `x` split along dimension 0 into
/// `devices.len()` shards (`tensor_split`), shard i and a copy of `weight` moved to `devices[i]`
/// (with `copy_to`), `layer(shard, weight_there)` computed there, and the results moved to
/// `output` and concatenated along dimension 0 in the order of the shards. Gather after the
/// loop, not inside it, and nothing goes to the CPU on the way (no `Device::Cpu`, no
/// `double_value`, no printing): the parts go from their devices straight to `output`.
///
/// PyTorch:
/// ```python
/// parts = [layer(s.to(d, non_blocking=True), weight.to(d, non_blocking=True))
///          for s, d in zip(x.tensor_split(len(devices)), devices)]
/// torch.cat([p.to(output) for p in parts])
/// ```
pub fn sharded_apply(
    x: &Tensor,
    weight: &Tensor,
    devices: &[Device],
    output: Device,
    layer: impl Fn(&Tensor, &Tensor) -> Tensor,
) -> Tensor {
    // TODO: the shards (tensor_split), each with a copy of weight moved to its device and layer
    // applied there; after the loop, every part copied to `output`; then cat.
    todo!("sharded_apply of {:?} on {devices:?}, gathered on {output:?}", x.size())
}

fn main() {
    let devices =
        if tch::Cuda::is_available() { vec![Device::Cuda(0), Device::Cpu] } else { vec![Device::Cpu; 3] };
    let x = Tensor::arange(12, (Kind::Float, Device::Cpu)).reshape([6, 2]);
    let weight = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 2.0]).reshape([2, 2]);
    let y = sharded_apply(&x, &weight, &devices, Device::Cpu, |shard, w| {
        println!("a shard of {:?} on {:?}", shard.size(), shard.device());
        shard.matmul(w)
    });
    // The first column as it was, the second doubled.
    y.print();
}
