// Exercise 09_numerical_stability/adamw_step: the AdamW optimizer from tensor operations, in
// place, in no-grad mode.
//
// An optimizer step is tensor code like any other, with three rules of its own:
//   - it runs in no-grad mode (`tch::no_grad(|| ...)`): the update is not part of the model's
//     graph, and an in-place operation on a leaf that requires grad is an error outside it;
//   - it changes the parameters in place: the model holds these very tensors. `params` are
//     `&Tensor`, and tch's in-place operations (`g_sub_`, `g_mul_scalar_`, `copy_`) take
//     `&mut self`: `let mut p = p.shallow_clone();` gives a handle to the same storage;
//   - it keeps state per parameter: AdamW's running averages of the gradient and of its square,
//     and the number of steps each parameter has taken (PyTorch keeps one count per parameter: a
//     parameter that got no gradient took no step).
//
// AdamW, for each parameter p with gradient g, at its step t (1, 2, ...), as torch.optim.AdamW:
//
//     p     = p * (1 - lr * weight_decay)        # decoupled weight decay, before the update
//     m     = beta1 * m + (1 - beta1) * g        # running averages, zeros before step 1
//     v     = beta2 * v + (1 - beta2) * g * g
//     m_hat = m / (1 - beta1^t)                  # bias correction: at t = 1, m_hat = g
//     v_hat = v / (1 - beta2^t)
//     p     = p - lr * m_hat / (sqrt(v_hat) + eps)     # eps OUTSIDE the square root
//
// Adam with L2 regularization would add weight_decay * p to g instead: then the decay is
// divided by sqrt(v_hat) like the gradient, which is what "decoupled" avoids. eps outside the
// root matters when gradients are tiny: with g of 1e-9 the step is about lr / 11 here, but with
// sqrt(v_hat + eps) it would be lr / 1e5.
//
// The checks run your optimizer and tch's own nn::AdamW (libtorch's torch::optim::AdamW) side by
// side for 10 steps and compare the parameters after every step.

use tch::{Kind, Tensor};

/// AdamW from tensor operations (no amsgrad). Add the fields it needs.
pub struct AdamW {
    // TODO: fields
}

impl AdamW {
    /// An optimizer for `params` (the same slice, in the same order, is passed to every `step`).
    ///
    /// PyTorch: `torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)`
    pub fn new(params: &[Tensor], lr: f64, betas: (f64, f64), eps: f64, weight_decay: f64) -> Self {
        // TODO
        todo!(
            "AdamW for {} parameters, lr {lr}, betas {betas:?}, eps {eps}, weight decay {weight_decay}",
            params.len()
        )
    }

    /// One step on every parameter that has a gradient (`p.grad().defined()`), in place, in
    /// no-grad mode; a parameter without a gradient is left alone, and its step count too.
    ///
    /// PyTorch: `optimizer.step()`
    pub fn step(&mut self, params: &[Tensor]) {
        // TODO
        todo!("one AdamW step on {} parameters", params.len())
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
