// Reference solution of 09_numerical_stability/adamw_step.

use tch::{Kind, Tensor};

/// AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization"), from tensor
/// operations, with PyTorch's defaults for what is not given and no amsgrad.
pub struct AdamW {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    /// Per parameter: the number of steps it has taken, and its running averages of the
    /// gradient and of its square (created at its first step, like PyTorch's lazy state).
    state: Vec<Option<ParamState>>,
}

struct ParamState {
    step: i32,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
}

impl AdamW {
    /// An optimizer for `params` (the same slice is passed to every `step`).
    pub fn new(params: &[Tensor], lr: f64, betas: (f64, f64), eps: f64, weight_decay: f64) -> Self {
        AdamW { lr, betas, eps, weight_decay, state: params.iter().map(|_| None).collect() }
    }

    /// One step on every parameter that has a gradient, in place, in no-grad mode.
    pub fn step(&mut self, params: &[Tensor]) {
        let (beta1, beta2) = self.betas;
        tch::no_grad(|| {
            for (p, state) in params.iter().zip(self.state.iter_mut()) {
                let grad = p.grad();
                if !grad.defined() {
                    // No gradient, no step: its count and averages stay as they are.
                    continue;
                }
                let state = state.get_or_insert_with(|| ParamState {
                    step: 0,
                    exp_avg: p.zeros_like(),
                    exp_avg_sq: p.zeros_like(),
                });
                state.step += 1;
                // A shallow clone shares the parameter's storage: in-place operations on it
                // change the caller's parameter (the model's weights), which is the point.
                let mut p = p.shallow_clone();
                // Decoupled weight decay: shrink the weights, apart from the gradient's averages
                // (Adam with L2 would add weight_decay * p to the gradient instead).
                let _ = p.g_mul_scalar_(1.0 - self.lr * self.weight_decay);
                let _ = state.exp_avg.g_mul_scalar_(beta1);
                let _ = state.exp_avg.g_add_(&(&grad * (1.0 - beta1)));
                let _ = state.exp_avg_sq.g_mul_scalar_(beta2);
                let _ = state.exp_avg_sq.g_add_(&(&grad * &grad * (1.0 - beta2)));
                // Bias correction: the averages start at 0, so early on they underestimate; the
                // first step divides by 1 - beta1 and 1 - beta2 exactly.
                let bias_correction1 = 1.0 - beta1.powi(state.step);
                let bias_correction2 = 1.0 - beta2.powi(state.step);
                // eps outside the square root, added after the correction, as PyTorch does.
                let denom = state.exp_avg_sq.sqrt() / bias_correction2.sqrt() + self.eps;
                let _ = p.g_sub_(&(&state.exp_avg / denom * (self.lr / bias_correction1)));
            }
        });
    }
}

fn main() {
    // Minimize (w - 3)^2 from w = 0: AdamW moves about lr per step at first, whatever the scale of
    // the gradient.
    let w = Tensor::zeros([1], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
    let params = [w.shallow_clone()];
    let mut opt = AdamW::new(&params, 0.1, (0.9, 0.999), 1e-8, 0.01);
    for step in 1..=5 {
        let loss = (&w - 3.0).square().sum(Kind::Float);
        loss.backward();
        opt.step(&params);
        let _ = w.grad().zero_();
        println!("step {step}: w = {:.4}", w.double_value(&[0]));
    }
}
