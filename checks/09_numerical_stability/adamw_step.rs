//! Checks of 09_numerical_stability/adamw_step: the learner's AdamW and tch's own nn::AdamW
//! (libtorch's torch::optim::AdamW) run side by side on the same losses, and the parameters are
//! compared after every step. Regimes: the first step (bias correction at t = 1); 10 steps;
//! gradients of 1e-9, where eps outside the square root matters; a large weight decay (decoupled,
//! not L2); a parameter that never gets a gradient (left alone) and one that gets its first at
//! step 4 (its own step count); float64. After every step the parameters must be the same
//! tensors (same storage), still leaves that require grad.

use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, within};

tensorlings_support::exercise_modules!("09_numerical_stability/adamw_step.rs");

/// The optimizer's settings for one run.
#[derive(Clone, Copy)]
struct Settings {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    steps: usize,
}

impl std::fmt::Display for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lr {}, betas {:?}, eps {}, weight decay {}",
            self.lr, self.betas, self.eps, self.weight_decay
        )
    }
}

const DEFAULT: Settings =
    Settings { lr: 0.01, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.01, steps: 10 };

/// The data of one run: initial parameters and per-step inputs, drawn once for both runs.
struct Problem {
    names: Vec<&'static str>,
    inits: Vec<Tensor>,
    xs: Vec<Tensor>,
    y: Tensor,
    tiny: Tensor,
    late_target: Tensor,
}

/// Parameters: w [4, 3] and b [3] of a least-squares fit; u [5], whose gradient is about 1e-9;
/// late [2], used by the loss from step 4 on; frozen [2], never used (no gradient).
fn problem(kind: Kind, device: Device, steps: usize) -> Problem {
    let names = vec!["w", "b", "u", "late", "frozen"];
    let shapes: [&[i64]; 5] = [&[4, 3], &[3], &[5], &[2], &[2]];
    let inits = shapes.iter().map(|s| randn(s, kind, device)).collect();
    let xs = (0..steps).map(|_| randn(&[6, 4], kind, device)).collect();
    Problem {
        names,
        inits,
        xs,
        y: randn(&[6, 3], kind, device),
        tiny: randn(&[5], kind, device),
        late_target: randn(&[2], kind, device),
    }
}

/// The loss at step `t` (0-based) of the parameters in `Problem`'s order.
fn loss(problem: &Problem, params: &[Tensor], t: usize) -> Tensor {
    let fit = (problem.xs[t].matmul(&params[0]) + &params[1] - &problem.y).square().mean(None::<Kind>);
    let tiny = (&params[2] * &problem.tiny).sum(None::<Kind>) * 1e-9;
    let mut loss = fit + tiny;
    if t >= 3 {
        loss += (&params[3] - &problem.late_target).square().sum(None::<Kind>);
    }
    loss
}

/// The parameters after each step with tch's nn::AdamW.
fn tch_run(problem: &Problem, s: Settings) -> Vec<Vec<Tensor>> {
    let mut vs = nn::VarStore::new(problem.inits[0].device());
    // Variables are created in the store's kind: float64 before they are, not converted after.
    vs.set_kind(problem.inits[0].kind());
    let vars: Vec<Tensor> =
        problem.inits.iter().enumerate().map(|(i, t)| vs.root().var_copy(&format!("p{i}"), t)).collect();
    let config =
        nn::AdamW { beta1: s.betas.0, beta2: s.betas.1, wd: s.weight_decay, eps: s.eps, amsgrad: false };
    let mut opt = config.build(&vs, s.lr).expect("tch's AdamW builds");
    (0..s.steps)
        .map(|t| {
            opt.backward_step(&loss(problem, &vars, t));
            vars.iter().map(|v| v.detach().copy()).collect()
        })
        .collect()
}

/// The learner's run, compared with `expected` after every step.
fn exercise_run(problem: &Problem, s: Settings, expected: &[Vec<Tensor>]) -> CheckResult {
    let params: Vec<Tensor> = problem.inits.iter().map(|t| t.copy().set_requires_grad(true)).collect();
    let storage: Vec<usize> = params.iter().map(|p| p.data_ptr() as usize).collect();
    let mut opt = within(format!("for AdamW::new with {s}"), || {
        Ok(exercise::AdamW::new(&params, s.lr, s.betas, s.eps, s.weight_decay))
    })?;
    let tol = if problem.inits[0].kind() == Kind::Double {
        Tolerance::new(1e-12, 1e-10)
    } else {
        Tolerance::new(1e-6, 1e-5)
    };
    for (t, expected) in expected.iter().enumerate() {
        loss(problem, &params, t).backward();
        within(format!("at step {} of {} ({s})", t + 1, s.steps), || {
            let before: Vec<Tensor> = params.iter().map(|p| p.detach().copy()).collect();
            opt.step(&params);
            for (i, p) in params.iter().enumerate() {
                let name = problem.names[i];
                if p.data_ptr() as usize != storage[i] || !p.requires_grad() || !p.is_leaf() {
                    return Err(Failure::new(format!(
                        "parameter `{name}` is no longer the tensor it was (a leaf that requires \
                         grad, in the same storage): update it in place, in no-grad mode \
                         (`tch::no_grad(|| ...)`, `let mut p = p.shallow_clone(); p.g_sub_(..)`)"
                    )));
                }
                if name == "w" && p.detach().equal(&before[i]) {
                    return Err(Failure::new(
                        "parameter `w` did not change: update the parameters themselves, in place \
                         (a shallow_clone shares their storage; a copy or an out-of-place result \
                         does not reach the caller's tensor)",
                    ));
                }
                let why = match name {
                    "u" => " (its gradient is about 1e-9: is eps outside the square root?)",
                    "late" if t < 3 => " (it has no gradient before step 4: leave it alone)",
                    "late" => " (it got its first gradient at step 4: its own step count starts then)",
                    "frozen" => " (it never had a gradient: leave it alone)",
                    _ => "",
                };
                let what = format!("parameter `{name}`{why}, compared with tch's nn::AdamW,");
                assert_close(&what, &p.detach(), &expected[i], tol)?;
            }
            Ok(())
        })?;
        for p in &params {
            let mut p = p.shallow_clone();
            p.zero_grad();
        }
    }
    Ok(())
}

fn run_matches(kind: Kind, device: Device, s: Settings) -> CheckResult {
    let problem = problem(kind, device, s.steps);
    let expected = tch_run(&problem, s);
    exercise_run(&problem, s, &expected)
}

fn main() {
    Checks::new()
        .check("the first step (bias correction at t = 1)", |ctx| {
            run_matches(Kind::Float, ctx.device(), Settings { steps: 1, ..DEFAULT })
        })
        .check("10 steps with PyTorch's defaults equal tch's nn::AdamW", |ctx| {
            run_matches(Kind::Float, ctx.device(), DEFAULT)
        })
        .check("10 steps with other betas, a larger eps and learning rate", |ctx| {
            run_matches(
                Kind::Float,
                ctx.device(),
                Settings { lr: 0.05, betas: (0.8, 0.99), eps: 1e-6, ..DEFAULT },
            )
        })
        .check("a large weight decay (decoupled, not L2)", |ctx| {
            run_matches(Kind::Float, ctx.device(), Settings { lr: 0.05, weight_decay: 0.5, ..DEFAULT })
        })
        .check("10 steps in float64", |ctx| run_matches(Kind::Double, ctx.device(), DEFAULT))
        .run()
}
