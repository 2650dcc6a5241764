// Reference solution of 09_numerical_stability/loss_scaling.

use tch::{Kind, Tensor};

/// The L2 norm of each parameter's gradient, in the order of `params`; 0 for a parameter without
/// a gradient.
pub fn grad_norms(params: &[Tensor]) -> Vec<f64> {
    params
        .iter()
        .map(|p| {
            let grad = p.grad();
            if !grad.defined() {
                return 0.0;
            }
            // In float32 (float64 stays float64): the norm of a float16 gradient of a scaled loss
            // is easily beyond float16's largest value, 65504, while every entry is finite.
            let kind = if grad.kind() == Kind::Double { Kind::Double } else { Kind::Float };
            grad.to_kind(kind).norm().double_value(&[])
        })
        .collect()
}

/// Whether every gradient of `params` is finite: no inf, -inf or NaN. A parameter without a
/// gradient has nothing that is not finite.
pub fn grads_are_finite(params: &[Tensor]) -> bool {
    params.iter().all(|p| {
        let grad = p.grad();
        // isfinite entry by entry: a sum would overflow for large finite entries and say inf,
        // and max() < inf would miss NaN and -inf.
        !grad.defined() || grad.isfinite().all().int64_value(&[]) != 0
    })
}

/// A dynamic loss scaler with the semantics of torch.amp.GradScaler.
pub struct LossScaler {
    scale: f64,
    growth_interval: i64,
    good_steps: i64,
}

impl LossScaler {
    /// A scaler that starts at `init_scale` and doubles the scale after `growth_interval`
    /// consecutive steps without inf or NaN.
    pub fn new(init_scale: f64, growth_interval: i64) -> Self {
        LossScaler { scale: init_scale, growth_interval, good_steps: 0 }
    }

    /// The current scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The loss times the current scale, to call backward on.
    pub fn scale_loss(&self, loss: &Tensor) -> Tensor {
        loss * self.scale
    }

    /// Divides every gradient of `params` by the current scale, in place, and returns whether
    /// they are all finite.
    pub fn unscale(&self, params: &[Tensor]) -> bool {
        for p in params {
            let mut grad = p.grad();
            if grad.defined() {
                // grad() shares its storage with the parameter's gradient: this changes it.
                let _ = grad.g_mul_scalar_(1.0 / self.scale);
            }
        }
        grads_are_finite(params)
    }

    /// One optimizer step: unscale the gradients; call `optimizer_step` only if they are all
    /// finite; then update the scale. Returns whether the step was taken.
    pub fn step(&mut self, params: &[Tensor], optimizer_step: impl FnOnce()) -> bool {
        // Unscale with the scale the loss was multiplied by, before the update changes it.
        let finite = self.unscale(params);
        if finite {
            optimizer_step();
        }
        self.update(!finite);
        finite
    }

    /// After an overflow, halve the scale and start counting again; after `growth_interval`
    /// good steps in a row, double it.
    fn update(&mut self, found_inf: bool) {
        if found_inf {
            self.scale *= 0.5;
            self.good_steps = 0;
        } else {
            self.good_steps += 1;
            if self.good_steps == self.growth_interval {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        }
    }
}

fn main() {
    let w = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
    let mut scaler = LossScaler::new(1024.0, 2);
    for x in [1.0f32, f32::INFINITY, 1.0, 1.0] {
        let loss = (&w * Tensor::from_slice(&[x, 1.0])).sum(None::<Kind>);
        scaler.scale_loss(&loss).backward();
        let taken = scaler.step(std::slice::from_ref(&w), || {
            println!("  step with gradient norms {:?}", grad_norms(std::slice::from_ref(&w)))
        });
        println!("x = {x}: step taken {taken}, scale now {}", scaler.scale());
        let _ = w.grad().zero_();
    }
}
