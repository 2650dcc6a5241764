//! Checks of 07_parallel/device_shards. `layer` is a probe that records, per call, the devices
//! of the shard and of the weights it got and the shard's size, then multiplies them.
//!
//! Regimes: `non_blocking_is_safe` for every pair of CPU, cuda:0 and cuda:1 (a pure function,
//! checked without a GPU); `copy_to` onto the device a tensor is on and, on a GPU, to and from
//! it; `sharded_apply` on 3 devices with 10 rows (uneven shards 4, 3, 3), more devices than rows,
//! one device, a transposed (non-contiguous) input, float64: the result against `x @ weight`,
//! on `output`, the shards in order with the sizes of `tensor_split`, each call with the shard
//! and the weights on the device of its shard, the inputs left as they were. The code is read:
//! no copy to the CPU, no reading of values and no printing in `copy_to` and `sharded_apply`
//! (they would make the host wait for the devices inside the loop). On a GPU, shards on cuda:0
//! and the CPU, gathered on each. With the CPU alone, a device list holds the CPU several times,
//! so placement mistakes show only on a GPU: the GPU check is where they are caught.

use std::cell::RefCell;

use tch::{Device, Kind, Tensor};
use tensorlings_support::device::cuda_or_skip;
use tensorlings_support::random::randn;
use tensorlings_support::source::{assert_does_not_call, function};
use tensorlings_support::{
    CheckResult, Checks, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("07_parallel/device_shards.rs");

/// One call of `layer`: the shard's device, the weights' device, the shard's rows.
type Call = (Device, Device, i64);

fn sharded_matches(x: &Tensor, weight: &Tensor, devices: &[Device], output: Device) -> CheckResult {
    let layout = if x.is_contiguous() { "" } else { " (transposed)" };
    let description = format!(
        "for x of shape {:?}{layout} on {:?}, shards on {devices:?}, gathered on {output:?}",
        x.size(),
        x.device()
    );
    within(description, || {
        let (x_before, w_before) = (x.copy(), weight.copy());
        // On the CPU: x and the weights may be on different devices.
        let cpu = |t: &Tensor| t.to_device(Device::Cpu).to_kind(Kind::Double);
        let expected = cpu(x).matmul(&cpu(weight)).to_kind(x.kind()).to_device(output);
        let calls: RefCell<Vec<Call>> = RefCell::new(Vec::new());
        let got = exercise::sharded_apply(x, weight, devices, output, |shard, w| {
            calls.borrow_mut().push((shard.device(), w.device(), shard.size()[0]));
            shard.matmul(w)
        });
        assert_unchanged("x", x, &x_before)?;
        assert_unchanged("weight", weight, &w_before)?;
        let tol = if x.kind() == Kind::Double {
            Tolerance::for_kind(Kind::Double)
        } else {
            Tolerance::new(1e-5, 1e-5)
        };
        assert_close("sharded_apply(x, weight, devices, output, layer)", &got, &expected, tol)?;
        let calls = calls.into_inner();
        for (i, &(shard_device, weight_device, _)) in calls.iter().enumerate() {
            check_that!(
                shard_device == weight_device,
                "call {i} of layer got a shard on {shard_device:?} and the weights on {weight_device:?}: \
                 copy the weights to each shard's device"
            );
        }
        // The non-empty shards, in order: (device, rows).
        let sizes: Vec<i64> = x.tensor_split(devices.len() as i64, 0).iter().map(|s| s.size()[0]).collect();
        let expected_shards: Vec<(Device, i64)> =
            devices.iter().copied().zip(sizes).filter(|&(_, rows)| rows > 0).collect();
        let got_shards: Vec<(Device, i64)> = calls.iter().filter(|c| c.2 > 0).map(|c| (c.0, c.2)).collect();
        check_that!(
            got_shards == expected_shards,
            "layer got the shards (device, rows) {got_shards:?}, in this order; the shards are \
             {expected_shards:?}: x.tensor_split({}, 0), shard i on devices[i]",
            devices.len()
        );
        Ok(())
    })
}

fn no_host_round_trips() -> CheckResult {
    for name in ["copy_to", "sharded_apply"] {
        let code = function(EXERCISE_SOURCE, name);
        for (path, what) in [
            ("Device::Cpu", "moves something to the CPU"),
            ("double_value", "reads a value on the host"),
            ("int64_value", "reads a value on the host"),
            ("try_from", "copies values to the host"),
            ("print", "prints a tensor"),
            ("synchronize", "waits for the GPU"),
        ] {
            let why = format!(
                "in `{name}`, it {what}, which makes the host wait for the devices inside the loop; keep \
                 the parts on their devices and move them once, to `output`"
            );
            assert_does_not_call(&code, path, &why)?;
        }
    }
    Ok(())
}

fn main() {
    Checks::new()
        .check("non_blocking_is_safe: to a GPU yes, to the CPU no", |_ctx| {
            let (cpu, gpu0, gpu1) = (Device::Cpu, Device::Cuda(0), Device::Cuda(1));
            for (from, to, safe, why) in [
                (cpu, gpu0, true, "the copy is queued on the GPU before the kernels that read it"),
                (gpu0, gpu0, true, "a copy on one GPU is ordered on its stream"),
                (gpu0, gpu1, true, "libtorch orders a copy between GPUs with both devices' streams"),
                (gpu1, gpu0, true, "libtorch orders a copy between GPUs with both devices' streams"),
                (gpu0, cpu, false, "the host would read the memory before the GPU has written it"),
                (cpu, cpu, false, "there is nothing to overlap on the CPU"),
            ] {
                let got = exercise::non_blocking_is_safe(from, to);
                check_that!(
                    got == safe,
                    "non_blocking_is_safe({from:?}, {to:?}) is {got}, but it is {}: {why}",
                    if safe { "safe" } else { "not safe" }
                );
            }
            Ok(())
        })
        .check("copy_to onto the device a tensor is on, and between the CPU and a GPU", |ctx| {
            let t = randn(&[3, 4], Kind::Float, ctx.device());
            let before = t.copy();
            let got = exercise::copy_to(&t, ctx.device());
            assert_unchanged("t", &t, &before)?;
            assert_close("copy_to(t, its own device)", &got, &before, Tolerance::EXACT)?;
            if let Ok(gpu) = cuda_or_skip() {
                let cpu = randn(&[5, 2], Kind::Float, Device::Cpu);
                assert_close(
                    "copy_to(t, cuda:0)",
                    &exercise::copy_to(&cpu, gpu),
                    &cpu.to_device(gpu),
                    Tolerance::EXACT,
                )?;
                let on_gpu = randn(&[5, 2], Kind::Float, gpu);
                let back = exercise::copy_to(&on_gpu, Device::Cpu);
                assert_close(
                    "copy_to(t on cuda:0, cpu)",
                    &back,
                    &on_gpu.to_device(Device::Cpu),
                    Tolerance::EXACT,
                )?;
            }
            Ok(())
        })
        .check("sharded_apply on 3 devices: 10 rows in shards of 4, 3, 3, in order", |ctx| {
            let d = ctx.device();
            sharded_matches(&randn(&[10, 4], Kind::Float, d), &randn(&[4, 3], Kind::Float, d), &[d; 3], d)
        })
        .check("sharded_apply with more devices than rows, one device, a transposed x, float64", |ctx| {
            let d = ctx.device();
            sharded_matches(&randn(&[2, 4], Kind::Float, d), &randn(&[4, 3], Kind::Float, d), &[d; 3], d)?;
            sharded_matches(&randn(&[5, 4], Kind::Float, d), &randn(&[4, 2], Kind::Float, d), &[d], d)?;
            sharded_matches(
                &randn(&[4, 7], Kind::Float, d).tr(),
                &randn(&[4, 3], Kind::Float, d),
                &[d; 2],
                d,
            )?;
            sharded_matches(&randn(&[6, 3], Kind::Double, d), &randn(&[3, 3], Kind::Double, d), &[d; 4], d)
        })
        .check("no copy to the CPU, no reading of values, no printing on the way", |_ctx| {
            no_host_round_trips()
        })
        .check("on a GPU: shards on cuda:0 and the CPU, gathered on either", |_ctx| {
            let gpu = cuda_or_skip()?;
            let cpu = Device::Cpu;
            let (x, w) = (randn(&[9, 4], Kind::Float, cpu), randn(&[4, 3], Kind::Float, cpu));
            sharded_matches(&x, &w, &[gpu, cpu, gpu], gpu)?;
            sharded_matches(&x.to_device(gpu), &w, &[cpu, gpu], cpu)?;
            sharded_matches(&x.to_device(gpu), &w.to_device(gpu), &[gpu, gpu], cpu)
        })
        .run()
}
