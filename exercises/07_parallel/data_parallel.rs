// Exercise 07_parallel/data_parallel: data parallelism by hand.
//
// What `torch.nn.DataParallel` and `DistributedDataParallel` do, in a few lines: every replica
// (a copy of the model on its device) takes a shard of the batch, runs forward and backward on
// it, the replicas' gradients are averaged, and every replica takes the same optimizer step
// with the average. If they start identical and always step with the same gradient, they stay
// identical: that is the whole trick, and the checks hold you to it, bit for bit.
//
// Three details decide whether the result equals training one model on the full batch:
// - Replicas are copies. `p.to_device(d)` to the device `p` is already on returns `p` itself,
//   not a copy: two "replicas" on the same device would then be one tensor, stepped twice.
//   Copy (`.copy()`), and make each copy a leaf that requires grad.
// - The average weights each replica by its shard size. With a loss that is a mean over its
//   shard, the full-batch gradient is sum_i (n_i / N) grad_i; a plain mean of the grad_i is only
//   right when every shard has the same size. A batch of 10 on 4 replicas has shards 3, 3, 2, 2.
//   A batch of 3 on 4 replicas leaves one replica with no samples: the mean over 0 samples is
//   NaN, so a replica without samples contributes nothing (and gets the average all the same).
// - Gradients of a replica are taken with `Tensor::run_backward(&[loss], &params, false, false)`:
//   returned, not accumulated into `.grad`, so no zeroing between steps.
//
// Each replica runs forward and backward in a thread of its own (std::thread::scope). A
// `Tensor` is `Send` but not `Sync`, so threads cannot share `&replicas`: move a
// `shallow_clone` of each replica's parameters (the same tensors, another handle) into its
// thread, with its shard. The loss function is shared, so it is `Sync`.

use std::thread;

use tch::{Device, Kind, Tensor};

/// Copies of `params`, one list per device in `devices`: each parameter copied to that device
/// (a new tensor even on the device it is on), detached, and a leaf that requires grad.
///
/// PyTorch: `[[p.detach().to(d, copy=True).requires_grad_() for p in params] for d in devices]`
/// (what `torch.nn.parallel.replicate` does for `DataParallel`).
pub fn replicate(params: &[Tensor], devices: &[Device]) -> Vec<Vec<Tensor>> {
    // TODO: for every device, every parameter detached, moved there, copied (a new tensor even on
    // its own device) and set_requires_grad(true).
    todo!("replicate {} parameters on {devices:?}", params.len())
}

/// The gradient of `loss_fn` over the whole batch, computed by the replicas: `x` and `y` split
/// along dimension 0 into `replicas.len()` shards (`tensor_split`), shard i moved to replica
/// i's device, `loss_fn(&replicas[i], &x_i, &y_i)` (a mean over the shard) and its gradients in
/// a thread of replica i's own, then the sum of the gradients weighted by `n_i / N`. Replicas
/// whose shard is empty are left out. One gradient per parameter, on the device of replica 0.
///
/// PyTorch (one process; DDP does the average with an all-reduce):
/// ```python
/// grads = []
/// for params, xs, ys in zip(replicas, x.tensor_split(k), y.tensor_split(k)):
///     if len(xs):
///         loss = loss_fn(params, xs.to(dev), ys.to(dev))
///         grads.append([g * len(xs) / len(x) for g in torch.autograd.grad(loss, params)])
/// [sum(g.to(dev0) for g in gs) for gs in zip(*grads)]
/// ```
pub fn data_parallel_gradients(
    replicas: &[Vec<Tensor>],
    x: &Tensor,
    y: &Tensor,
    loss_fn: impl Fn(&[Tensor], &Tensor, &Tensor) -> Tensor + Sync,
) -> Vec<Tensor> {
    // TODO: shards of x and y (tensor_split into replicas.len()), empty ones left out; in
    // thread::scope, one worker per replica with samples: shallow_clones of its parameters and its
    // shards moved in, the shards moved to its device, loss_fn, Tensor::run_backward, each gradient
    // times n_i / N and moved to replica 0's device; then the sums over the replicas.
    todo!("data_parallel_gradients on {} replicas, batch of {}", replicas.len(), x.size()[0])
}

/// One step of SGD on every replica with the averaged gradient: `p -= lr * g` in place, without
/// recording it in the graph (`no_grad`), `g` moved to `p`'s device. Every replica steps with
/// the same gradient, so replicas that were equal stay equal.
///
/// PyTorch:
/// ```python
/// grads = data_parallel_gradients(replicas, x, y, loss_fn)
/// with torch.no_grad():
///     for params in replicas:
///         for p, g in zip(params, grads):
///             p -= lr * g.to(p.device)
/// ```
pub fn data_parallel_step(
    replicas: &[Vec<Tensor>],
    x: &Tensor,
    y: &Tensor,
    lr: f64,
    loss_fn: impl Fn(&[Tensor], &Tensor, &Tensor) -> Tensor + Sync,
) {
    // TODO: the averaged gradients, then, under tch::no_grad, `p -= g * lr` on every replica's
    // parameters (`let mut p = p.shallow_clone();` gives a handle to update in place).
    todo!("data_parallel_step on {} replicas with lr {lr}", replicas.len())
}

/// A linear model's mean squared error: `params` is `[w, b]`.
fn linear_mse(params: &[Tensor], x: &Tensor, y: &Tensor) -> Tensor {
    (x.matmul(&params[0]) + &params[1] - y).square().mean(Kind::Float)
}

fn main() {
    // y = 2x + 1, 10 samples, 3 replicas (shards of 4, 3 and 3).
    let x = Tensor::linspace(-1.0, 1.0, 10, (Kind::Float, Device::Cpu)).reshape([10, 1]);
    let y = &x * 2.0 + 1.0;
    let params =
        [Tensor::zeros([1, 1], (Kind::Float, Device::Cpu)), Tensor::zeros([1], (Kind::Float, Device::Cpu))];
    let replicas = replicate(&params, &[Device::Cpu; 3]);
    for _ in 0..200 {
        data_parallel_step(&replicas, &x, &y, 0.3, linear_mse);
    }
    // Close to w = 2, b = 1, and the same on every replica.
    for params in &replicas {
        println!("w = {:.4}, b = {:.4}", params[0].double_value(&[0, 0]), params[1].double_value(&[0]));
    }
}
