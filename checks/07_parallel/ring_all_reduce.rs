//! Checks of 07_parallel/ring_all_reduce: both all-reduces on simulated ranks (threads that
//! exchange tensors over counted channels, `tensorlings_support::ranks`).
//!
//! Regimes: 1 rank (no messages at all), 2, 3, 4 and 5 ranks; gradients whose size does not
//! divide by the number of ranks ([3, 5] on 4 ranks), fewer elements than ranks ([3] on 5
//! ranks: some ring chunks are empty), a scalar, an empty gradient, a non-contiguous one (a
//! transposed view), float64. For every case: each rank's result against the mean computed here
//! (and against the reference's result), of the gradient's shape and kind; every rank's result
//! bit for bit the same as rank 0's (replicas that step with different bits drift apart); every
//! input left as it was. For the ring also the traffic, counted by the channels: every message
//! goes to the next rank, and no rank sends more than 2 (n - 1) / n of the gradient, give or
//! take the uneven chunks (at most 2 (numel - floor(numel / n)) elements).

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::ranks::{Rank, Traffic, run_ranks};
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("07_parallel/ring_all_reduce.rs");

#[derive(Clone, Copy, PartialEq)]
enum Version {
    Naive,
    Ring,
}

impl Version {
    fn name(self) -> &'static str {
        match self {
            Version::Naive => "naive_all_reduce",
            Version::Ring => "ring_all_reduce",
        }
    }
}

/// Runs one version on every rank, rank r holding `grads[r]`.
fn all_reduce(version: Version, learner: bool, grads: &[Tensor]) -> Result<(Vec<Tensor>, Traffic), Failure> {
    let inputs: Vec<Tensor> = grads.iter().map(|g| g.shallow_clone()).collect();
    let f = move |rank: &Rank<'_>, grad: Tensor| match (version, learner) {
        (Version::Naive, true) => exercise::naive_all_reduce(rank, &grad),
        (Version::Ring, true) => exercise::ring_all_reduce(rank, &grad),
        (Version::Naive, false) => solution::naive_all_reduce(rank, &grad),
        (Version::Ring, false) => solution::ring_all_reduce(rank, &grad),
    };
    run_ranks(inputs, f)
}

/// The tolerance against the mean computed in float64: a sum of n values and a division, in an
/// order of the learner's choosing: a few epsilon of the largest term per addition.
fn tolerance(kind: Kind, world: usize) -> Tolerance {
    let eps = if kind == Kind::Double { f64::EPSILON } else { f32::EPSILON as f64 };
    let atol = 4.0 * (world as f64 + 1.0) * eps * 8.0; // |gradients| <= about 5 here
    Tolerance::new(atol, 4.0 * eps)
}

/// The ring's traffic: every message to the next rank, at most 2 (numel - floor(numel / n))
/// elements per rank.
fn ring_traffic_is_right(traffic: &Traffic, world: usize, numel: i64) -> CheckResult {
    if let Some(m) = traffic.messages.iter().find(|m| m.to != (m.from + 1) % world) {
        return Err(Failure::new(format!(
            "rank {} sent a tensor to rank {}: in a ring, rank r sends only to the next rank, \
             (r + 1) % {world} = {}, and receives only from the previous one",
            m.from,
            m.to,
            (m.from + 1) % world
        )));
    }
    let bound = 2 * (numel - numel / world as i64);
    for r in 0..world {
        let sent = traffic.elements_sent_by(r);
        check_that!(
            sent <= bound,
            "rank {r} sent {sent} elements in {} messages for a gradient of {numel} elements on \
             {world} ranks: a ring all-reduce sends each rank's chunk, 1/{world} of the gradient, \
             2 ({world} - 1) times, about {:.1} elements (at most {bound} with uneven chunks); \
             send chunks of the tensor_split, not the whole gradient",
            traffic.messages_sent_by(r),
            2.0 * (world as f64 - 1.0) / world as f64 * numel as f64
        );
    }
    Ok(())
}

/// One version on these gradients (one per rank): results, agreement between ranks, inputs,
/// and for the ring its traffic.
fn reduces(version: Version, grads: &[Tensor]) -> CheckResult {
    let world = grads.len();
    let shape = grads[0].size();
    let kind = grads[0].kind();
    let non_contiguous = if grads[0].is_contiguous() { "" } else { " (non-contiguous)" };
    within(format!("for {world} rank(s) with gradients of shape {shape:?}{non_contiguous}"), || {
        let before: Vec<Tensor> = grads.iter().map(|g| g.copy()).collect();
        let copies: Vec<Tensor> = grads.iter().map(|g| g.copy()).collect();
        let (expected, _) = all_reduce(version, false, &copies)?;
        let (got, traffic) = all_reduce(version, true, grads)?;
        for (r, (g, b)) in grads.iter().zip(&before).enumerate() {
            assert_unchanged(&format!("grad of rank {r}"), g, b)?;
        }
        let mean = Tensor::stack(&before.iter().map(|g| g.to_kind(Kind::Double)).collect::<Vec<_>>(), 0)
            .mean_dim(0, false, Kind::Double)
            .to_kind(kind);
        let tol = tolerance(kind, world);
        let name = version.name();
        for (r, (got, expected)) in got.iter().zip(&expected).enumerate() {
            assert_close(&format!("{name} on rank {r}"), got, &mean, tol)?;
            assert_close(&format!("{name} on rank {r}, compared with the reference,"), got, expected, tol)?;
        }
        if version == Version::Ring {
            ring_traffic_is_right(&traffic, world, grads[0].numel() as i64)?;
        }
        for (r, result) in got.iter().enumerate().skip(1) {
            let same = result.size() == got[0].size() && (result.numel() == 0 || result.equal(&got[0]));
            check_that!(
                same,
                "`{name}` on rank {r} is not bit for bit the same as on rank 0 (they differ by up \
                 to {:e}): every rank must end with exactly the same gradient, or the replicas \
                 drift apart step after step; floating-point addition depends on the order, so \
                 add the gradients in the same order on every rank (rank 0's first)",
                (result - &got[0]).abs().max().double_value(&[])
            );
        }
        Ok(())
    })
}

/// `world` random gradients of `shape` and `kind` on `device`, one per rank.
fn random_grads(world: usize, shape: &[i64], kind: Kind, device: Device) -> Vec<Tensor> {
    (0..world).map(|_| randn(shape, kind, device)).collect()
}

/// The cases both versions are checked on, by name.
fn cases(version: Version, device: Device) -> CheckResult {
    reduces(version, &random_grads(4, &[3, 5], Kind::Float, device))?;
    reduces(version, &random_grads(3, &[2, 3, 4], Kind::Float, device))?;
    reduces(version, &random_grads(2, &[7], Kind::Float, device))
}

fn edge_cases(version: Version, device: Device) -> CheckResult {
    reduces(version, &random_grads(1, &[4, 2], Kind::Float, device))?;
    reduces(version, &random_grads(5, &[3], Kind::Float, device))?;
    reduces(version, &random_grads(3, &[], Kind::Float, device))?;
    reduces(version, &random_grads(4, &[0, 3], Kind::Float, device))
}

fn non_contiguous_and_double(version: Version, device: Device) -> CheckResult {
    let transposed: Vec<Tensor> =
        random_grads(3, &[5, 4], Kind::Float, device).iter().map(|g| g.tr()).collect();
    reduces(version, &transposed)?;
    reduces(version, &random_grads(3, &[6, 2], Kind::Double, device))
}

fn main() {
    use Version::{Naive, Ring};
    Checks::new()
        .check(
            "naive_all_reduce gives every rank the mean: 4 ranks of [3, 5], 3 of [2, 3, 4], 2 of [7]",
            |ctx| cases(Naive, ctx.device()),
        )
        .check("naive_all_reduce with 1 rank, more ranks than elements, a scalar, an empty gradient", |ctx| {
            edge_cases(Naive, ctx.device())
        })
        .check("naive_all_reduce of a transposed gradient, and in float64", |ctx| {
            non_contiguous_and_double(Naive, ctx.device())
        })
        .check("ring_all_reduce gives every rank the mean and sends 2 (n - 1) / n of the data", |ctx| {
            cases(Ring, ctx.device())
        })
        .check("ring_all_reduce with 1 rank, more ranks than elements, a scalar, an empty gradient", |ctx| {
            edge_cases(Ring, ctx.device())
        })
        .check("ring_all_reduce of a transposed gradient, and in float64", |ctx| {
            non_contiguous_and_double(Ring, ctx.device())
        })
        .run()
}
