// Exercise 09_numerical_stability/loss_scaling: watching gradients explode and vanish, and the
// dynamic loss scaler of mixed-precision training.
//
// Deep networks multiply many Jacobians: gradients shrink or grow geometrically with depth.
// The first thing to log is the gradient norm of each layer (vanishing: the first layers' norms
// are orders of magnitude below the last ones'; exploding: above). The second is whether any
// gradient is inf or NaN, which one bad step spreads into every weight.
//
// Mixed precision makes both matter. float16 gradients below about 6e-8 flush to zero, so the
// loss is multiplied by a large scale S before backward (every gradient is then S times larger,
// out of the underflow zone) and the gradients are divided by S before the optimizer sees them.
// Too large an S overflows to inf instead. torch.amp.GradScaler adapts S:
//
//     scaler.scale(loss).backward()   # loss * S
//     scaler.step(optimizer)          # unscale (grad / S); if any grad is inf or NaN, SKIP the step
//     scaler.update()                 # inf/NaN found: S *= 0.5 (backoff), count of good steps = 0
//                                     # else: count += 1; if count == growth_interval: S *= 2, count = 0
//
// Your LossScaler does the same, with `step` doing GradScaler's step and update together. The
// checks drive it through a scripted sequence of good steps, infs and NaNs, and read the scale
// after each step, whether your step called the optimizer, and the gradients it saw.
//
// Half precision: compute norms in float32 (float64 stays float64). A float16 gradient of a
// scaled loss whose entries are all finite can have a norm beyond 65504, float16's largest value.
// And test finiteness entry by entry (isfinite): a sum of large finite entries overflows to inf,
// and `max() < inf` misses NaN and -inf.

use tch::{Kind, Tensor};

/// The L2 norm of each parameter's gradient (`p.grad()`), in the order of `params`, computed in
/// float32 (float64 for float64 gradients); 0 for a parameter without a gradient (tch gives an
/// undefined tensor: `grad.defined()` is false).
///
/// PyTorch: `[p.grad.float().norm().item() if p.grad is not None else 0.0 for p in params]`
pub fn grad_norms(params: &[Tensor]) -> Vec<f64> {
    // TODO
    todo!("the gradient norms of {} parameters", params.len())
}

/// Whether every gradient of `params` is finite: no inf, -inf or NaN anywhere. A parameter
/// without a gradient counts as finite.
///
/// PyTorch: `all(p.grad is None or torch.isfinite(p.grad).all() for p in params)`
pub fn grads_are_finite(params: &[Tensor]) -> bool {
    // TODO
    todo!("whether the gradients of {} parameters are finite", params.len())
}

/// A dynamic loss scaler with the semantics of torch.amp.GradScaler (growth factor 2, backoff
/// factor 0.5): add the fields it needs.
pub struct LossScaler {
    // TODO: fields
}

impl LossScaler {
    /// A scaler that starts at `init_scale` and doubles the scale after `growth_interval`
    /// consecutive steps without inf or NaN. PyTorch: `GradScaler(init_scale=init_scale,
    /// growth_factor=2.0, backoff_factor=0.5, growth_interval=growth_interval)`.
    pub fn new(init_scale: f64, growth_interval: i64) -> Self {
        // TODO
        todo!("a LossScaler starting at {init_scale}, growing every {growth_interval} good steps")
    }

    /// The current scale. PyTorch: `scaler.get_scale()`.
    pub fn scale(&self) -> f64 {
        // TODO
        todo!("the current scale")
    }

    /// The loss times the current scale, to call backward on. PyTorch: `scaler.scale(loss)`.
    pub fn scale_loss(&self, loss: &Tensor) -> Tensor {
        // TODO
        todo!("the loss {:?} times the scale", loss.size())
    }

    /// Divides every gradient of `params` by the current scale, in place (`p.grad()` shares its
    /// storage with the parameter's gradient: an in-place operation on it, such as
    /// `g_mul_scalar_`, changes the gradient), and returns whether they are all finite.
    /// PyTorch: `scaler.unscale_(optimizer)`.
    pub fn unscale(&self, params: &[Tensor]) -> bool {
        // TODO
        todo!("unscale the gradients of {} parameters", params.len())
    }

    /// One optimizer step: unscale the gradients (with the scale the loss was multiplied by);
    /// call `optimizer_step` only if they are all finite; then update the scale: after inf or
    /// NaN halve it and reset the count of good steps; otherwise count the step, and double the
    /// scale when the count reaches `growth_interval` (the count then starts again from 0).
    /// Returns whether the step was taken. PyTorch: `scaler.step(optimizer); scaler.update()`.
    pub fn step(&mut self, params: &[Tensor], optimizer_step: impl FnOnce()) -> bool {
        // TODO: unscale, call optimizer_step() if every gradient is finite, update the scale
        // (and remove the next line, which only keeps the unused argument from a warning).
        let _ = optimizer_step;
        todo!("a scaled step of {} parameters", params.len())
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
