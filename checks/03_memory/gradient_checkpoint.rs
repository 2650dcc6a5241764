//! Checks of 03_memory/gradient_checkpoint:
//!
//! - values: `checkpoint(block, x, params)` equals `block(x, params)`, for a transposed x, in
//!   float64, with grad mode off;
//! - gradients for x and every parameter, of one block and of a stack of 4, equal the plain
//!   version's, for a loss that weighs each output differently (so the incoming gradient must be
//!   used, not a plain sum); with x as data (no gradient) and a frozen parameter, whose
//!   requires_grad must stay off;
//! - counts (a block that counts its calls): a stack of 6 checkpointed blocks runs 6 forwards in
//!   forward and 6 more in backward, no fewer (no recomputation) and no more;
//! - memory, measured in this process against the plain stack of 8 blocks on [1024, 64] with a
//!   hidden layer of 256: held after forward at most half the plain stack's (it is about a
//!   fifth), and the peak of forward and backward at most 0.7 of the plain one (about 0.47).

use std::sync::atomic::{AtomicUsize, Ordering};

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, memory, within,
};

tensorlings_support::exercise_modules!("03_memory/gradient_checkpoint.rs");

static CALLS: AtomicUsize = AtomicUsize::new(0);

/// The residual block, counting its calls.
fn counting_block(x: &Tensor, params: &[Tensor]) -> Tensor {
    CALLS.fetch_add(1, Ordering::SeqCst);
    solution::mlp_block(x, params)
}

/// Parameters of `depth` blocks of width d with a hidden layer of h, leaves that require grad.
fn layers(depth: usize, d: i64, h: i64, kind: Kind, dev: Device) -> Vec<Vec<Tensor>> {
    (0..depth)
        .map(|_| {
            [vec![d, h], vec![h], vec![h, d], vec![d]]
                .iter()
                .map(|shape| (randn(shape, kind, dev) * 0.3).set_requires_grad(true))
                .collect()
        })
        .collect()
}

/// Fresh leaves with the same values (and the same requires_grad).
fn fresh(layers: &[Vec<Tensor>]) -> Vec<Vec<Tensor>> {
    layers
        .iter()
        .map(|ps| ps.iter().map(|p| p.detach().copy().set_requires_grad(p.requires_grad())).collect())
        .collect()
}

/// Gradients of `(f(x) * r).sum()` for x (if it requires grad) and every parameter that does.
fn gradients(
    f: &dyn Fn(&Tensor, &[Vec<Tensor>]) -> Tensor,
    x: &Tensor,
    layers: &[Vec<Tensor>],
    r: &Tensor,
) -> Vec<Tensor> {
    let x = x.detach().copy().set_requires_grad(x.requires_grad());
    let layers = fresh(layers);
    let loss = (f(&x, &layers) * r).sum(Kind::Double);
    let mut inputs: Vec<&Tensor> = layers.iter().flatten().filter(|p| p.requires_grad()).collect();
    if x.requires_grad() {
        inputs.insert(0, &x);
    }
    Tensor::run_backward(&[loss], &inputs, false, false)
}

/// The checkpointed stack's gradients against the plain stack's.
fn gradients_match(what: &str, x: &Tensor, layers: &[Vec<Tensor>]) -> CheckResult {
    within(what, || {
        let r = randn(&x.size(), Kind::Double, x.device());
        let expected = gradients(&|x, l| solution::plain_stack(solution::mlp_block, x, l), x, layers, &r);
        let got = gradients(&|x, l| exercise::checkpointed_stack(solution::mlp_block, x, l), x, layers, &r);
        let mut names = Vec::new();
        if x.requires_grad() {
            names.push("x".to_string());
        }
        for (i, ps) in layers.iter().enumerate() {
            for (p, name) in ps.iter().zip(["w1", "b1", "w2", "b2"]) {
                if p.requires_grad() {
                    names.push(format!("{name} of block {i}"));
                }
            }
        }
        for ((got, expected), name) in got.iter().zip(&expected).zip(&names) {
            assert_close(
                &format!("the gradient for {name}"),
                got,
                expected,
                Tolerance::for_kind(Kind::Double),
            )?;
        }
        Ok(())
    })
}

fn main() {
    Checks::new()
        .check("checkpoint(block, x, params) equals block(x, params)", |ctx| {
            let dev = ctx.device();
            let params = &layers(1, 4, 8, Kind::Float, dev)[0];
            for (x, what) in [
                (randn(&[5, 4], Kind::Float, dev), "x of shape [5, 4]"),
                (randn(&[4, 3], Kind::Float, dev).tr(), "a transposed x of shape [3, 4]"),
                (randn(&[1, 4], Kind::Float, dev), "x of shape [1, 4]"),
            ] {
                within(format!("for {what}"), || {
                    let x0 = x.copy();
                    let expected = solution::mlp_block(&x, params);
                    let got = exercise::checkpoint(solution::mlp_block, &x, params);
                    assert_unchanged("x", &x, &x0)?;
                    assert_close("checkpoint(mlp_block, x, params)", &got, &expected, Tolerance::for_kind(Kind::Float))?;
                    let got = tch::no_grad(|| exercise::checkpoint(solution::mlp_block, &x, params));
                    assert_close("checkpoint(mlp_block, x, params) under no_grad", &got, &expected, Tolerance::for_kind(Kind::Float))
                })?;
            }
            let params = &layers(1, 4, 8, Kind::Double, dev)[0];
            let x = randn(&[3, 4], Kind::Double, dev);
            within("for x of shape [3, 4] in float64", || {
                let got = exercise::checkpoint(solution::mlp_block, &x, params);
                assert_close("checkpoint(mlp_block, x, params)", &got, &solution::mlp_block(&x, params), Tolerance::for_kind(Kind::Double))
            })
        })
        .check("one checkpointed block has the plain block's gradients for x and every parameter", |ctx| {
            let dev = ctx.device();
            let x = randn(&[5, 4], Kind::Double, dev).set_requires_grad(true);
            gradients_match("for one block on x of shape [5, 4], with a weighted loss", &x, &layers(1, 4, 8, Kind::Double, dev))
        })
        .check("a stack of 4 checkpointed blocks has the plain stack's gradients", |ctx| {
            let dev = ctx.device();
            let x = randn(&[6, 4], Kind::Double, dev).set_requires_grad(true);
            gradients_match("for a stack of 4 blocks on x of shape [6, 4]", &x, &layers(4, 4, 8, Kind::Double, dev))
        })
        .check("x as data and a frozen parameter: the other gradients are right", |ctx| {
            let dev = ctx.device();
            let x = randn(&[5, 4], Kind::Double, dev);
            let mut layers = layers(2, 4, 8, Kind::Double, dev);
            layers[0][3] = layers[0][3].detach();
            gradients_match("for 2 blocks on an x that requires no grad, with b2 of block 0 frozen", &x, &layers)?;
            // The caller's own tensors keep their flags.
            within("for backward through 2 checkpointed blocks on an x that requires no grad", || {
                exercise::checkpointed_stack(solution::mlp_block, &x, &layers).sum(Kind::Double).backward();
                Ok(())
            })?;
            for (t, name) in [(&x, "x"), (&layers[0][3], "frozen b2 of block 0")] {
                check_that!(
                    !t.requires_grad(),
                    "after backward through 2 checkpointed blocks, the caller's {name} now requires grad: backward \
                     switched on requires_grad of a saved input itself; detach() it first, then \
                     set_requires_grad(true) on the detached copy"
                );
            }
            Ok(())
        })
        .check("each block's forward runs once in forward and once more in backward", |ctx| {
            let dev = ctx.device();
            let layers = layers(6, 4, 8, Kind::Float, dev);
            let x = randn(&[5, 4], Kind::Float, dev).set_requires_grad(true);
            CALLS.store(0, Ordering::SeqCst);
            let y = within("for a stack of 6 checkpointed blocks", || Ok(exercise::checkpointed_stack(counting_block, &x, &layers)))?;
            let forward = CALLS.load(Ordering::SeqCst);
            check_that!(
                forward == 6,
                "a stack of 6 checkpointed blocks called the block {forward} times in forward; expected 6 (once each)"
            );
            within("for backward through a stack of 6 checkpointed blocks", || {
                y.sum(Kind::Float).backward();
                Ok(())
            })?;
            let backward = CALLS.load(Ordering::SeqCst) - forward;
            check_that!(
                backward == 6,
                "backward through a stack of 6 checkpointed blocks called the block {backward} times; expected 6: \
                 checkpointing recomputes each block's forward once in backward (0 means nothing was recomputed: \
                 the graph of the first forward was kept, which is what checkpointing avoids)"
            );
            Ok(())
        })
        .check("a checkpointed stack holds and peaks at a fraction of the plain stack's memory", |ctx| {
            memory::install()?;
            let dev = ctx.device();
            let layers = layers(8, 64, 256, Kind::Float, dev);
            let x = randn(&[1024, 64], Kind::Float, dev);
            let run = |f: &dyn Fn(&Tensor, &[Vec<Tensor>]) -> Tensor| -> Result<_, Failure> {
                let layers = fresh(&layers);
                let (y, forward) = memory::measure(dev, || f(&x, &layers))?;
                let ((), both) = memory::measure(dev, || y.sum(Kind::Float).backward())?;
                Ok((forward, both, forward.retained_bytes as u64 + both.peak_bytes))
            };
            run(&|x, l| solution::plain_stack(solution::mlp_block, x, l))?; // warm-up
            let (plain, _, plain_peak) = run(&|x, l| solution::plain_stack(solution::mlp_block, x, l))?;
            let (got, _, got_peak) = within("for a stack of 8 checkpointed blocks on x of shape [1024, 64]", || {
                run(&|x, l| exercise::checkpointed_stack(solution::mlp_block, x, l))
            })?;
            check_that!(
                got.retained_bytes * 2 <= plain.retained_bytes,
                "after forward, a stack of 8 checkpointed blocks held {} and the plain stack {}: checkpointed, \
                 forward keeps only each block's inputs (run the block with grad mode off: a CustomFunction's \
                 forward does)",
                memory::format_bytes(got.retained_bytes.max(0) as u64),
                memory::format_bytes(plain.retained_bytes.max(0) as u64)
            );
            check_that!(
                got_peak * 10 <= plain_peak * 7,
                "through forward and backward, a stack of 8 checkpointed blocks peaked at {} and the plain stack at \
                 {}: checkpointed, only one block's intermediates exist at a time",
                memory::format_bytes(got_peak),
                memory::format_bytes(plain_peak)
            );
            Ok(())
        })
        .run()
}
