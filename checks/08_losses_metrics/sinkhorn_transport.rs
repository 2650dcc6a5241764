//! Checks of 08_losses_metrics/sinkhorn_transport.
//!
//! - Against the reference with the same iterations (f first, then g, from zeros): the cost and
//!   the plan, on 5 against 4 points (a transposed plan has the wrong shape), at epsilon 0.1 and
//!   0.01, in float64 and float32; one source point, one target point; a transposed
//!   (non-contiguous) cost matrix.
//! - The plan's marginals: rows sum to a, columns to b, once converged.
//! - Stability: epsilon 0.001, where the kernel exp(-cost / epsilon) is 0 in float64 and the
//!   textbook iterations give NaN; the plan must be finite.
//! - The limit: as epsilon goes 0.1, 0.01, 0.001, the cost approaches the exact optimal
//!   transport cost, which the checks carry as literals: 0.746 for a 2-D problem with squared
//!   Euclidean cost (scipy.optimize.linprog, HiGHS), and 0.445 for a 1-D problem with cost
//!   |x - y|, which is also scipy.stats.wasserstein_distance (see `exact_costs` below).
//! - Inputs left as they were.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::kind_name;
use tensorlings_support::random::{randn, uniform};
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("08_losses_metrics/sinkhorn_transport.rs");

/// A transport problem: weights, points and the cost between them.
struct Problem {
    a: Tensor,
    b: Tensor,
    cost: Tensor,
}

/// Squared Euclidean distances between the rows of `x` and `y`.
fn squared_distances(x: &Tensor, y: &Tensor) -> Tensor {
    (x.unsqueeze(1) - y.unsqueeze(0)).square().sum_dim_intlist(-1, false, None::<Kind>)
}

/// Positive weights that sum to 1.
fn random_weights(n: i64, kind: Kind, device: Device) -> Tensor {
    let w = uniform(&[n], 0.2, 1.0, kind, device);
    &w / w.sum(kind)
}

fn random_problem(n: i64, m: i64, kind: Kind, device: Device) -> Problem {
    let x = randn(&[n, 2], kind, device);
    let y = randn(&[m, 2], kind, device) * 0.8 + 0.3;
    Problem {
        a: random_weights(n, kind, device),
        b: random_weights(m, kind, device),
        cost: squared_distances(&x, &y),
    }
}

/// The problems whose exact costs the checks carry. Computed with
///
/// ```python
/// C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)      # the 2-D problem
/// linprog(C.ravel(), A_eq=<rows sum to a, columns to b>, b_eq=concat([a, b]), bounds=(0, None),
///         method="highs").fun                            # 0.7460000000000001
/// wasserstein_distance([0.3, -1.2, 2.5, 0.7, -0.4], [0.1, 1.1, -0.8, 3.0],
///                      [0.1, 0.3, 0.2, 0.25, 0.15], [0.4, 0.1, 0.3, 0.2])   # 0.44499999999999995
/// ```
fn exact_costs(device: Device) -> [(&'static str, Problem, f64); 2] {
    let t = |values: &[f64]| Tensor::from_slice(values).to_device(device);
    let a = t(&[0.1, 0.3, 0.2, 0.25, 0.15]);
    let b = t(&[0.4, 0.1, 0.3, 0.2]);
    let x = t(&[0.0, 0.0, 1.0, 0.2, 0.3, 1.1, 1.4, 1.3, -0.5, 0.6]).reshape([5, 2]);
    let y = t(&[0.2, 0.1, 1.2, 1.0, -0.3, 1.2, 0.8, -0.4]).reshape([4, 2]);
    let plane = Problem { a: a.copy(), b: b.copy(), cost: squared_distances(&x, &y) };
    let x1 = t(&[0.3, -1.2, 2.5, 0.7, -0.4]);
    let y1 = t(&[0.1, 1.1, -0.8, 3.0]);
    let line = Problem { a, b, cost: (x1.unsqueeze(1) - y1.unsqueeze(0)).abs() };
    [
        ("5 against 4 points in the plane, squared Euclidean cost", plane, 0.746_000_000_000_000_1),
        ("5 against 4 points on a line, cost |x - y|", line, 0.444_999_999_999_999_95),
    ]
}

fn tolerance(kind: Kind) -> Tolerance {
    // The same iterations: only the rounding of another way of writing them differs.
    if kind == Kind::Double { Tolerance::new(1e-10, 1e-7) } else { Tolerance::new(1e-6, 1e-4) }
}

/// The exercise's `(cost, plan)`, checked for shapes, and its inputs unchanged.
fn exercise_sinkhorn(p: &Problem, epsilon: f64, iterations: i64) -> Result<(Tensor, Tensor), Failure> {
    let (a_before, b_before, cost_before) = (p.a.copy(), p.b.copy(), p.cost.copy());
    let (total, plan) = exercise::sinkhorn(&p.a, &p.b, &p.cost, epsilon, iterations);
    assert_unchanged("a", &p.a, &a_before)?;
    assert_unchanged("b", &p.b, &b_before)?;
    assert_unchanged("cost", &p.cost, &cost_before)?;
    check_that!(
        total.size().is_empty() && plan.size() == p.cost.size(),
        "sinkhorn returned a first value of shape {:?} and a second of shape {:?}: return (the \
         transport cost, a scalar, then the plan, of the cost's shape {:?})",
        total.size(),
        plan.size(),
        p.cost.size()
    );
    Ok((total, plan))
}

/// No NaN or infinity in the plan or the cost, with a word on why there would be.
fn finite(total: &Tensor, plan: &Tensor, epsilon: f64) -> CheckResult {
    let bad =
        plan.isfinite().logical_not().any().int64_value(&[]) != 0 || !total.double_value(&[]).is_finite();
    check_that!(
        !bad,
        "the plan or the cost has NaN or infinite values at epsilon {epsilon}: exp(-cost / epsilon) \
         underflows to 0 (and 1 / 0 is inf) when epsilon is small; stay in the log domain, with \
         logsumexp over (g - cost) / epsilon, and exponentiate only the final plan"
    );
    Ok(())
}

/// The exercise against the reference with the same iterations.
fn matches(p: &Problem, epsilon: f64, iterations: i64) -> CheckResult {
    let description = format!(
        "for {} a of shape {:?}, b of shape {:?}, epsilon {epsilon}, {iterations} iterations",
        kind_name(p.a.kind()),
        p.a.size(),
        p.b.size()
    );
    within(description, || {
        let (expected_total, expected_plan) =
            solution::sinkhorn(&p.a.copy(), &p.b.copy(), &p.cost.copy(), epsilon, iterations);
        let (total, plan) = exercise_sinkhorn(p, epsilon, iterations)?;
        finite(&total, &plan, epsilon)?;
        let tol = tolerance(p.a.kind());
        assert_close("the plan (the second value)", &plan, &expected_plan, tol)?;
        assert_close("the transport cost sum(plan * cost) (the first value)", &total, &expected_total, tol)
    })
}

/// Rows of the plan sum to a and columns to b.
fn marginals_hold(p: &Problem, epsilon: f64, iterations: i64) -> CheckResult {
    within(
        format!("for a of shape {:?} and b of shape {:?}, epsilon {epsilon}", p.a.size(), p.b.size()),
        || {
            let (_, plan) = exercise_sinkhorn(p, epsilon, iterations)?;
            let tol = Tolerance::new(1e-9, 1e-9);
            let rows = plan.sum_dim_intlist(1, false, None::<Kind>);
            let columns = plan.sum_dim_intlist(0, false, None::<Kind>);
            assert_close("the sums of the plan's rows (they must equal a)", &rows, &p.a, tol)?;
            assert_close("the sums of the plan's columns (they must equal b)", &columns, &p.b, tol)
        },
    )
}

fn main() {
    Checks::new()
        .check("sinkhorn on 5 against 4 random points at epsilon 0.1 and 0.01 (float64)", |ctx| {
            let p = random_problem(5, 4, Kind::Double, ctx.device());
            matches(&p, 0.1, 50)?;
            matches(&p, 0.01, 300)
        })
        .check("sinkhorn's plan has the marginals a and b once converged", |ctx| {
            let p = random_problem(6, 3, Kind::Double, ctx.device());
            marginals_hold(&p, 0.1, 500)
        })
        .check("sinkhorn with one source point, and with one target point", |ctx| {
            let p = random_problem(1, 4, Kind::Double, ctx.device());
            matches(&p, 0.05, 20)?;
            let q = random_problem(3, 1, Kind::Double, ctx.device());
            matches(&q, 0.05, 20)
        })
        .check("sinkhorn on a transposed (non-contiguous) cost matrix, and in float32", |ctx| {
            let p = random_problem(4, 6, Kind::Double, ctx.device());
            let transposed = Problem { a: p.b.copy(), b: p.a.copy(), cost: p.cost.tr() };
            matches(&transposed, 0.1, 50)?;
            let q = random_problem(5, 3, Kind::Float, ctx.device());
            matches(&q, 0.05, 100)
        })
        .check("sinkhorn stays finite at epsilon 0.001 (the log domain)", |ctx| {
            let [(what, p, _), _] = exact_costs(ctx.device());
            within(what, || matches(&p, 0.001, 3000))
        })
        .check("sinkhorn's cost approaches the exact transport cost as epsilon shrinks", |ctx| {
            for (what, p, exact) in exact_costs(ctx.device()) {
                within(format!("for {what} (exact cost {exact})"), || {
                    let mut previous_error = f64::INFINITY;
                    // About 3 / epsilon iterations converge here (measured).
                    for (epsilon, iterations) in [(0.1, 300), (0.01, 1000), (0.001, 3000)] {
                        let (total, plan) = exercise_sinkhorn(&p, epsilon, iterations)?;
                        finite(&total, &plan, epsilon)?;
                        let error = (total.double_value(&[]) - exact).abs();
                        check_that!(
                            error < previous_error + 1e-9,
                            "at epsilon {epsilon} your cost is {} ({error:.2e} from the exact cost), \
                             further than at a larger epsilon ({previous_error:.2e})",
                            total.double_value(&[])
                        );
                        previous_error = error;
                    }
                    check_that!(
                        previous_error < 1e-6,
                        "at epsilon 0.001 after 3000 iterations your cost is {previous_error:.2e} from the \
                         exact cost {exact}: return sum(plan * cost), with the plan of the last f and g"
                    );
                    Ok(())
                })?;
            }
            Ok(())
        })
        .run()
}
