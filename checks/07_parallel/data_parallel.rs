//! Checks of 07_parallel/data_parallel. The loss function passed in is a probe: a two-layer
//! MLP's mean squared error that records, per call, the thread, which replica's parameters it
//! got (by their memory address), the device of its shard and the shard's size, and counts how
//! many calls run at once (a call waits, up to `WAIT`, for a second one: overlapping threads
//! always show it, a serial answer waits once and is told). Never timed.
//!
//! Regimes: `replicate` gives copies that are leaves requiring grad and share no memory (also on
//! the device the parameters are on); the gradients of 4 replicas on a batch of 10 (shards of
//! unequal size: an unweighted mean is wrong), of 2 replicas on 8 (equal shards), of 1 replica,
//! of 4 replicas on a batch of 3 (a replica without samples: a mean over nothing is NaN), in
//! float64, each equal to the full-batch gradient of one model, on the first replica's device,
//! the same when asked twice (nothing accumulates in `.grad`), the inputs left as they were;
//! every replica with samples called once, in a thread, concurrently, on its own parameters and
//! device; after 3 steps of SGD every replica bit for bit the same as the others and equal to
//! one model trained on the full batch. On a GPU, replicas on cuda:0 and the CPU.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};
use tensorlings_support::device::cuda_or_skip;
use tensorlings_support::random::randn;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that,
    compare::assert_equal, within,
};

tensorlings_support::exercise_modules!("07_parallel/data_parallel.rs");

/// How long a call of the probe waits for a second call to start: starting a thread takes
/// microseconds, this is for a machine under heavy load. A serial answer waits this long once per
/// process: after that no probe waits (`GAVE_UP`), and the checks fail fast.
const WAIT: Duration = Duration::from_secs(5);

/// Set when a probe has waited `WAIT` in vain.
static GAVE_UP: AtomicBool = AtomicBool::new(false);

/// One call of the loss function, as the probe saw it.
#[derive(Clone, Debug)]
struct Call {
    thread: ThreadId,
    /// The address of the first parameter's data: which replica it was.
    params: usize,
    device: Device,
    rows: i64,
}

/// The two-layer MLP's mean squared error; `params` is `[w1 [d, h], b1 [h], w2 [h, 1], b2 [1]]`.
fn mlp_mse(params: &[Tensor], x: &Tensor, y: &Tensor) -> Tensor {
    let hidden = (x.matmul(&params[0]) + &params[1]).tanh();
    (hidden.matmul(&params[2]) + &params[3] - y).square().mean(x.kind())
}

/// The loss function the checks pass, instrumented.
struct Probe {
    want: usize,
    running: AtomicUsize,
    max_running: AtomicUsize,
    calls: Mutex<Vec<Call>>,
}

impl Probe {
    fn new(want: usize) -> Self {
        Probe {
            want,
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn loss(&self, params: &[Tensor], x: &Tensor, y: &Tensor) -> Tensor {
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.max_running.fetch_max(now, SeqCst);
        let deadline = Instant::now() + WAIT;
        while self.max_running.load(SeqCst) < self.want && !GAVE_UP.load(SeqCst) {
            if Instant::now() > deadline {
                GAVE_UP.store(true, SeqCst);
            }
            thread::sleep(Duration::from_millis(1));
        }
        let call = Call {
            thread: thread::current().id(),
            params: params.first().map_or(0, |p| p.data_ptr() as usize),
            device: x.device(),
            rows: x.size().first().copied().unwrap_or(0),
        };
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
        let loss = mlp_mse(params, x, y);
        self.running.fetch_sub(1, SeqCst);
        loss
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Random MLP parameters (4 inputs, 6 hidden units), leaves that require grad.
fn random_params(kind: Kind, device: Device) -> Vec<Tensor> {
    [vec![4, 6], vec![6], vec![6, 1], vec![1]]
        .iter()
        .map(|shape| (randn(shape, kind, device) * 0.5).set_requires_grad(true))
        .collect()
}

/// The replicas, made here (not by the exercise), so that the gradient checks do not depend on
/// the learner's `replicate`.
fn copies(params: &[Tensor], devices: &[Device]) -> Vec<Vec<Tensor>> {
    devices
        .iter()
        .map(|&d| params.iter().map(|p| p.detach().to_device(d).copy().set_requires_grad(true)).collect())
        .collect()
}

/// The gradient of one model on the whole batch.
fn full_batch_gradients(params: &[Tensor], x: &Tensor, y: &Tensor) -> Vec<Tensor> {
    Tensor::run_backward(&[mlp_mse(params, x, y)], params, false, false)
}

/// Gradients are sums of a few dozen products, weighted and added in another order than the
/// full-batch gradient's: a few hundred epsilon relative to their size.
fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-12, 1e-10) } else { Tolerance::new(1e-5, 1e-4) }
}

const NAMES: [&str; 4] = ["w1", "b1", "w2", "b2"];

fn kind_name(kind: Kind) -> &'static str {
    if kind == Kind::Double { " in float64" } else { "" }
}

/// The sizes of the shards the calls got, largest first (the calls come in any order).
fn shard_sizes(calls: &[Call]) -> Vec<i64> {
    let mut rows: Vec<i64> = calls.iter().map(|c| c.rows).collect();
    rows.sort_unstable_by(|a, b| b.cmp(a));
    rows
}

/// Every replica with samples called the loss once, on its own parameters and device, in
/// threads that overlapped.
fn calls_are_right(probe: &Probe, replicas: &[Vec<Tensor>], batch: i64) -> CheckResult {
    let calls = probe.calls();
    let with_samples = (replicas.len() as i64).min(batch) as usize;
    check_that!(
        calls.len() == with_samples,
        "loss_fn was called {} times, on shards of {:?} samples (largest first): call it once per replica that has \
         samples ({with_samples} here), on that replica's shard",
        calls.len(),
        shard_sizes(&calls)
    );
    for (i, replica) in replicas.iter().enumerate().take(with_samples) {
        let address = replica[0].data_ptr() as usize;
        let Some(call) = calls.iter().find(|c| c.params == address) else {
            return Err(Failure::new(format!(
                "no call of loss_fn got the parameters of replica {i}: replica i runs on its own \
                 parameters (replicas[i]), not on a copy and not on replica 0's"
            )));
        };
        let device = replica[0].device();
        check_that!(
            call.device == device,
            "replica {i} (on {device:?}) was given a shard on {:?}: move each shard to its replica's \
             device",
            call.device
        );
    }
    let mut threads: Vec<ThreadId> = Vec::new();
    for call in &calls {
        if !threads.contains(&call.thread) {
            threads.push(call.thread);
        }
    }
    check_that!(
        with_samples < 2 || probe.max_running.load(SeqCst) >= 2,
        "the replicas ran one after another: loss_fn was called {} times on {} thread(s), never two \
         at the same time; spawn a thread per replica inside std::thread::scope, and join them after \
         spawning them all",
        calls.len(),
        threads.len()
    );
    Ok(())
}

/// The learner's gradients on `batch` samples with one replica per device, against one model's
/// full-batch gradients.
fn gradients_match(devices: &[Device], batch: i64, kind: Kind, device: Device) -> CheckResult {
    let params = random_params(kind, device);
    let x = randn(&[batch, 4], kind, device);
    let y = randn(&[batch, 1], kind, device);
    let description =
        format!("for a batch of {batch}{} on {} replica(s) on {devices:?}", kind_name(kind), devices.len());
    within(description, || {
        let (x_before, y_before) = (x.copy(), y.copy());
        let replicas = copies(&params, devices);
        let replicas_before: Vec<Vec<Tensor>> =
            replicas.iter().map(|r| r.iter().map(|p| p.detach().copy()).collect()).collect();
        let expected = full_batch_gradients(&replicas[0], &x.to_device(devices[0]), &y.to_device(devices[0]));
        let probe = Probe::new(devices.len().min(batch as usize).min(2));
        let got = exercise::data_parallel_gradients(&replicas, &x, &y, |p, xs, ys| probe.loss(p, xs, ys));
        assert_unchanged("x", &x, &x_before)?;
        assert_unchanged("y", &y, &y_before)?;
        for (r, (replica, before)) in replicas.iter().zip(&replicas_before).enumerate() {
            for (j, (p, b)) in replica.iter().zip(before).enumerate() {
                assert_unchanged(&format!("replicas[{r}][{j}] ({})", NAMES[j]), &p.detach(), b)?;
            }
        }
        check_that!(
            got.len() == params.len(),
            "`data_parallel_gradients` returned {} gradients for {} parameters",
            got.len(),
            params.len()
        );
        for (j, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_close(&format!("the gradient of {} (parameter {j})", NAMES[j]), g, e, tolerance(kind))
                .map_err(|f| explain_unweighted(f, devices.len(), batch))?;
        }
        calls_are_right(&probe, &replicas, batch)?;
        // Asked again: the same (nothing accumulated in .grad along the way).
        let again = exercise::data_parallel_gradients(&replicas, &x, &y, mlp_mse);
        for (j, (g, e)) in again.iter().zip(&expected).enumerate() {
            assert_close(&format!("the gradient of {} (parameter {j}), asked a second time,", NAMES[j]), g, e, tolerance(kind))
                .map_err(|f| f.context("the second call gives another gradient: take gradients with Tensor::run_backward (returned, not accumulated into .grad), or zero .grad first"))?;
        }
        Ok(())
    })
}

/// Adds the likely cause to a gradient that differs on shards of unequal size.
fn explain_unweighted(failure: Failure, replicas: usize, batch: i64) -> Failure {
    if batch % replicas as i64 != 0 {
        Failure::new(format!(
            "{}\n  the shards of a batch of {batch} on {replicas} replicas differ in size: weight each \
             replica's gradient by its shard's share of the batch (n_i / N), not 1 / {replicas}, and \
             leave out replicas without samples",
            failure.message()
        ))
    } else {
        failure
    }
}

/// `replicate` on these devices.
fn replicates(devices: &[Device], device: Device) -> CheckResult {
    let params = random_params(Kind::Float, device);
    within(format!("for replicate(params, {devices:?})"), || {
        let before: Vec<Tensor> = params.iter().map(|p| p.detach().copy()).collect();
        let replicas = exercise::replicate(&params, devices);
        check_that!(
            replicas.len() == devices.len(),
            "{} replicas for {} devices",
            replicas.len(),
            devices.len()
        );
        let mut addresses = params.iter().map(|p| p.data_ptr() as usize).collect::<Vec<_>>();
        for (r, (replica, &d)) in replicas.iter().zip(devices).enumerate() {
            check_that!(
                replica.len() == params.len(),
                "replica {r} has {} parameters, not {}",
                replica.len(),
                params.len()
            );
            for (j, (p, original)) in replica.iter().zip(&before).enumerate() {
                let what = format!("replicas[{r}][{j}] ({})", NAMES[j]);
                assert_close(&what, &p.detach(), &original.to_device(d), Tolerance::EXACT)?;
                check_that!(
                    p.requires_grad() && p.is_leaf(),
                    "`{what}` is not a leaf that requires grad: detach the copy and set_requires_grad(true)"
                );
                let address = p.data_ptr() as usize;
                check_that!(
                    !addresses.contains(&address),
                    "`{what}` shares its memory with another replica or with the original: \
                     to_device to the device a tensor is already on returns the tensor itself, so \
                     copy it (.copy()), or a step on one replica changes another"
                );
                addresses.push(address);
            }
        }
        for (j, (p, b)) in params.iter().zip(&before).enumerate() {
            assert_unchanged(&format!("params[{j}]"), &p.detach(), b)?;
        }
        Ok(())
    })
}

/// Three steps on replicas on `devices`, against one model trained on the full batch.
fn steps_match(devices: &[Device], batch: i64, device: Device) -> CheckResult {
    let params = random_params(Kind::Float, device);
    let x = randn(&[batch, 4], Kind::Float, device);
    let y = randn(&[batch, 1], Kind::Float, device);
    within(format!("for 3 steps on a batch of {batch} on {} replicas on {devices:?}", devices.len()), || {
        let replicas = copies(&params, devices);
        let single = copies(&params, &[devices[0]]).remove(0);
        let lr = 0.1;
        for _ in 0..3 {
            exercise::data_parallel_step(&replicas, &x, &y, lr, mlp_mse);
            let grads = full_batch_gradients(&single, &x.to_device(devices[0]), &y.to_device(devices[0]));
            tch::no_grad(|| {
                for (p, g) in single.iter().zip(&grads) {
                    let mut p = p.shallow_clone();
                    p -= g * lr;
                }
            });
        }
        for (r, replica) in replicas.iter().enumerate() {
            for (j, p) in replica.iter().enumerate() {
                check_that!(
                    p.requires_grad(),
                    "after the steps, replicas[{r}][{j}] no longer requires grad: update it in place under no_grad"
                );
                let what = format!("{} of replica {r} after 3 steps", NAMES[j]);
                assert_close(
                    &what,
                    &p.detach().to_device(devices[0]),
                    &single[j].detach(),
                    tolerance(Kind::Float),
                )?;
                if r > 0 {
                    assert_equal(
                        &format!("{what}, compared bit for bit with replica 0's,"),
                        &p.detach().to_device(devices[0]),
                        &replicas[0][j].detach(),
                    )?;
                }
            }
        }
        Ok(())
    })
}

fn main() {
    let cpus = |n: usize| vec![Device::Cpu; n];
    Checks::new()
        .check("replicate makes copies that require grad and share no memory", |ctx| {
            replicates(&cpus(3), ctx.device())?;
            replicates(&[ctx.device(), ctx.device()], ctx.device())
        })
        .check(
            "the gradients of 4 replicas on a batch of 10 (shards 3, 3, 2, 2) are the full-batch gradients",
            |ctx| gradients_match(&[ctx.device(); 4], 10, Kind::Float, ctx.device()),
        )
        .check("the gradients of 2 replicas on 8, of 1 replica, and in float64", |ctx| {
            gradients_match(&[ctx.device(); 2], 8, Kind::Float, ctx.device())?;
            gradients_match(&[ctx.device()], 5, Kind::Float, ctx.device())?;
            gradients_match(&[ctx.device(); 3], 7, Kind::Double, ctx.device())
        })
        .check("a replica without samples (a batch of 3 on 4 replicas) contributes nothing", |ctx| {
            gradients_match(&[ctx.device(); 4], 3, Kind::Float, ctx.device())
        })
        .check("after 3 steps every replica is the same, and equal to one model on the full batch", |ctx| {
            steps_match(&[ctx.device(); 3], 10, ctx.device())
        })
        .check("on a GPU: replicas on cuda:0 and on the CPU", |_ctx| {
            let gpu = cuda_or_skip()?;
            replicates(&[gpu, Device::Cpu], Device::Cpu)?;
            gradients_match(&[gpu, Device::Cpu, gpu], 10, Kind::Float, Device::Cpu)?;
            gradients_match(&[Device::Cpu, gpu], 5, Kind::Float, gpu)?;
            steps_match(&[gpu, Device::Cpu], 9, gpu)
        })
        .run()
}
