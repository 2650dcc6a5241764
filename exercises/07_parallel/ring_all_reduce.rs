// Exercise 07_parallel/ring_all_reduce: gradient synchronization between ranks, naively and as a
// ring.
//
// In data-parallel training every rank (a GPU, a machine) computes gradients on its own part of
// the batch, and before the optimizer step all ranks need the same thing: the mean of everyone's
// gradients. That is an all-reduce (`torch.distributed.all_reduce(g); g /= world_size`).
//
// Here the ranks are threads of one process (tensorlings_support::ranks): each gets a `Rank`
// with its number, the world size, `send(to, &tensor)` (a copy, never blocks) and
// `recv(from)` (waits for the next tensor that rank sent to this one). Every message is counted,
// as LLM-Training-Puzzles does, so the checks can see what a ring saves.
//
// The naive way: every rank sends its whole gradient to every other rank, and each adds up all
// n. Each rank sends (n - 1) times the gradient: with 8 ranks and 1 GB of gradients, 7 GB out
// of every rank, per step.
//
// The ring (Baidu's, then NCCL's): split the gradient into n chunks; rank r only ever sends to
// rank r + 1 and receives from rank r - 1 (mod n).
// - Reduce-scatter, n - 1 steps: at step s rank r sends its partial sum of chunk (r - s) and adds
//   what it receives into chunk (r - s - 1). After n - 1 steps rank r holds the complete sum of
//   chunk (r + 1): each chunk has gone once around the ring, collecting every rank's part.
// - All-gather, n - 1 steps: at step s rank r sends its complete chunk (r + 1 - s) and stores the
//   complete chunk (r - s) it receives, so that every rank ends with every complete chunk.
// Each rank sends 2 (n - 1) chunks, 2 (n - 1) / n of the gradient: less than twice the gradient
// however many ranks there are, and every link of the ring busy at once.
//
// One more rule, which decides whether training stays in sync: every rank must end with exactly
// the same numbers. Floating-point addition is not associative, so ranks that add the same
// gradients in different orders get results that differ in the last bits, and replicas that
// step with different gradients drift apart. The ring gives every rank the same bits (each
// chunk is summed once, then copied); the naive version must add in the same order everywhere.

use tch::{Device, Kind, Tensor};
use tensorlings_support::ranks::{Rank, run_ranks};

/// The mean over all ranks of `grad` (every rank passes its own gradient, all of the same
/// shape), by sending the whole gradient to every other rank. Every rank returns the same
/// tensor, bit for bit: add the gradients in rank order (rank 0's first), whatever the rank.
///
/// PyTorch (`torch.distributed`):
/// ```python
/// grads = [torch.empty_like(grad) for _ in range(world)]
/// dist.all_gather(grads, grad)
/// mean = sum(grads) / world        # in rank order on every rank
/// ```
pub fn naive_all_reduce(rank: &Rank, grad: &Tensor) -> Tensor {
    // TODO: send `grad` to every other rank; then add all n gradients in rank order (your own
    // at its place) and divide by the world size.
    todo!("naive_all_reduce on rank {} of {}", rank.rank(), rank.world_size())
}

/// The same mean by a ring all-reduce: the flattened gradient split into `world` chunks with
/// `tensor_split` (sizes differ by at most one, and some are empty when the gradient has fewer
/// elements than there are ranks), a reduce-scatter, then an all-gather, sending only to rank
/// `(r + 1) % world` and receiving only from `(r + world - 1) % world`. Returns a tensor of
/// `grad`'s shape, the same on every rank.
///
/// PyTorch: `dist.all_reduce(grad); grad /= world` (NCCL runs a ring like this one), or by hand
/// with `dist.send` / `dist.recv`.
pub fn ring_all_reduce(rank: &Rank, grad: &Tensor) -> Tensor {
    // TODO: chunks = grad.reshape([-1]).tensor_split(n, 0); n - 1 reduce-scatter steps, n - 1
    // all-gather steps; then cat, reshape to grad's shape and divide by n.
    todo!("ring_all_reduce on rank {} of {}", rank.rank(), rank.world_size())
}

fn main() {
    // Four ranks; rank r's gradient is full of r + 1: the mean is 2.5 everywhere.
    let grads: Vec<Tensor> =
        (0..4).map(|r| Tensor::full([2, 3], r as f64 + 1.0, (Kind::Float, Device::Cpu))).collect();
    let copies = grads.iter().map(|g| g.copy()).collect();
    let (naive, traffic) = run_ranks(copies, |rank, grad| naive_all_reduce(rank, &grad)).unwrap();
    naive[0].print();
    println!("naive: rank 0 sent {} elements", traffic.elements_sent_by(0));
    let (ring, traffic) = run_ranks(grads, |rank, grad| ring_all_reduce(rank, &grad)).unwrap();
    ring[3].print();
    // 2 (n - 1) / n of 6 elements: 9.
    println!("ring: rank 0 sent {} elements", traffic.elements_sent_by(0));
}
