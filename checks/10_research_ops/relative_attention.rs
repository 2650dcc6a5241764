//! Checks of 10_research_ops/relative_attention. relative_positions: exactly equal to a loop,
//! with distances clipped (length 6, K 2), not clipped (length 3, K 4), K 0, one token; int64 on
//! the given device. relative_attention: against a loop over queries and keys in float64, with
//! and without clipping, one token, K 0, a batch of 2, a transposed (non-contiguous) query,
//! float64; the inputs unchanged; gradients of q and of both tables against the reference, and
//! gradcheck of all five inputs.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::{assert_equal, assert_grad_close};
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("10_research_ops/relative_attention.rs");

/// The index of the embedding for query i and key j.
fn index(i: i64, j: i64, max_distance: i64) -> i64 {
    (j - i).clamp(-max_distance, max_distance) + max_distance
}

fn positions_match(len: i64, max_distance: i64, device: Device) -> CheckResult {
    within(format!("for a length of {len} and max_distance {max_distance}"), || {
        let values: Vec<i64> =
            (0..len).flat_map(|i| (0..len).map(move |j| index(i, j, max_distance))).collect();
        let expected = Tensor::from_slice(&values).reshape([len, len]).to_device(device);
        let got = exercise::relative_positions(len, max_distance, device);
        assert_equal("relative_positions(len, max_distance, device)", &got, &expected)
    })
}

/// Relative attention with a loop over queries i and keys j, in float64.
fn loop_reference(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    rel_k: &Tensor,
    rel_v: &Tensor,
    max_distance: i64,
) -> Tensor {
    let f = |t: &Tensor| t.to_kind(Kind::Double);
    let (q, k, v, rel_k, rel_v) = (f(q), f(k), f(v), f(rel_k), f(rel_v));
    let (len, d) = (q.size()[1], q.size()[2]);
    let outputs: Vec<Tensor> = (0..len)
        .map(|i| {
            let qi = q.select(1, i);
            let scores: Vec<Tensor> = (0..len)
                .map(|j| {
                    let a = rel_k.get(index(i, j, max_distance));
                    ((&qi * k.select(1, j)).sum_dim_intlist(-1, false, None::<Kind>)
                        + (&qi * a).sum_dim_intlist(-1, false, None::<Kind>))
                        / (d as f64).sqrt()
                })
                .collect();
            let weights = Tensor::stack(&scores, 1).softmax(1, Kind::Double);
            (0..len)
                .map(|j| {
                    weights.select(1, j).unsqueeze(1)
                        * (v.select(1, j) + rel_v.get(index(i, j, max_distance)))
                })
                .reduce(|a, b| a + b)
                .expect("one key at least")
        })
        .collect();
    Tensor::stack(&outputs, 1)
}

/// Random inputs: q, k, v of [b, len, d], tables of [2 K + 1, d].
fn inputs(b: i64, len: i64, d: i64, max_distance: i64, kind: Kind, device: Device) -> Vec<Tensor> {
    let rows = 2 * max_distance + 1;
    [[b, len, d], [b, len, d], [b, len, d]]
        .iter()
        .map(|s| randn(s, kind, device))
        .chain([randn(&[rows, d], kind, device), randn(&[rows, d], kind, device)])
        .collect()
}

fn attention_matches(x: &[Tensor], max_distance: i64) -> CheckResult {
    let kind = x[0].kind();
    within(
        format!("for q, k, v of shape {:?} ({kind:?}) and max_distance {max_distance}", x[0].size()),
        || {
            let before: Vec<Tensor> = x.iter().map(Tensor::copy).collect();
            let copies: Vec<Tensor> = x.iter().map(Tensor::copy).collect();
            let expected = solution::relative_attention(
                &copies[0],
                &copies[1],
                &copies[2],
                &copies[3],
                &copies[4],
                max_distance,
            );
            let got = exercise::relative_attention(&x[0], &x[1], &x[2], &x[3], &x[4], max_distance);
            for (name, (now, was)) in ["q", "k", "v", "rel_k", "rel_v"].iter().zip(x.iter().zip(&before)) {
                assert_unchanged(name, now, was)?;
            }
            let tol =
                if kind == Kind::Double { Tolerance::new(1e-10, 1e-10) } else { Tolerance::new(1e-5, 1e-5) };
            let looped = loop_reference(&x[0], &x[1], &x[2], &x[3], &x[4], max_distance).to_kind(kind);
            assert_close(
                "relative_attention(..), compared with a loop over queries and keys,",
                &got,
                &looped,
                tol,
            )?;
            assert_close("relative_attention(..)", &got, &expected, tol)
        },
    )
}

fn main() {
    Checks::new()
        .check("relative_positions, clipped and not", |ctx| {
            positions_match(6, 2, ctx.device())?;
            positions_match(3, 4, ctx.device())?;
            positions_match(4, 0, ctx.device())?;
            positions_match(1, 3, ctx.device())
        })
        .check("relative_attention where distances are clipped (length 6, K 2)", |ctx| {
            attention_matches(&inputs(2, 6, 4, 2, Kind::Float, ctx.device()), 2)
        })
        .check("relative_attention where no distance is clipped (length 3, K 4)", |ctx| {
            attention_matches(&inputs(2, 3, 4, 4, Kind::Float, ctx.device()), 4)
        })
        .check("relative_attention with K 0 and with one token", |ctx| {
            attention_matches(&inputs(1, 4, 3, 0, Kind::Float, ctx.device()), 0)?;
            attention_matches(&inputs(3, 1, 4, 2, Kind::Float, ctx.device()), 2)
        })
        .check("relative_attention with a transposed query, and in float64", |ctx| {
            let mut x = inputs(2, 5, 3, 1, Kind::Float, ctx.device());
            x[0] = randn(&[2, 3, 5], Kind::Float, ctx.device()).transpose(1, 2);
            attention_matches(&x, 1)?;
            attention_matches(&inputs(2, 5, 3, 2, Kind::Double, ctx.device()), 2)
        })
        .check("gradients of q and of the tables equal the reference's", |ctx| {
            let x = inputs(2, 5, 4, 1, Kind::Float, ctx.device());
            within("for q, k, v of shape [2, 5, 4] and max_distance 1", || {
                let g = randn(&[2, 5, 4], Kind::Float, ctx.device());
                let run = |f: &dyn Fn(&[Tensor]) -> Tensor| -> Result<Vec<Tensor>, Failure> {
                    let leaves: Vec<Tensor> = x.iter().map(|t| t.copy().set_requires_grad(true)).collect();
                    let y = f(&leaves);
                    if !y.requires_grad() {
                        return Err(Failure::new(
                            "`relative_attention(..)` does not require grad for inputs that do",
                        ));
                    }
                    let wanted = [&leaves[0], &leaves[3], &leaves[4]];
                    Tensor::f_run_backward(&[(y * &g).sum(None::<Kind>)], &wanted, false, true)
                        .map_err(Failure::from)
                };
                let got = run(&|t| exercise::relative_attention(&t[0], &t[1], &t[2], &t[3], &t[4], 1))?;
                let expected = run(&|t| solution::relative_attention(&t[0], &t[1], &t[2], &t[3], &t[4], 1))?;
                for ((name, got), expected) in ["q", "rel_k", "rel_v"].iter().zip(got).zip(expected) {
                    assert_grad_close(name, &got, &expected, Tolerance::new(1e-5, 1e-4))?;
                }
                Ok(())
            })
        })
        .check("gradcheck of all five inputs in float64", |ctx| {
            let x = inputs(1, 3, 2, 1, Kind::Double, ctx.device());
            within("for q, k, v of shape [1, 3, 2] and max_distance 1", || {
                gradcheck(
                    |t| exercise::relative_attention(&t[0], &t[1], &t[2], &t[3], &t[4], 1),
                    &x,
                    GradcheckOptions::default(),
                )
            })
        })
        .run()
}
