// Reference solution of 04_complex_gradients/wgan_gradient_penalty.

use tch::{Device, Kind, Tensor};

/// A critic: a batch `[batch, ...]` in, one score per sample out (`[batch]` or `[batch, 1]`).
pub type Critic<'a> = &'a dyn Fn(&Tensor) -> Tensor;

/// `epsilon * real + (1 - epsilon) * fake`, with `epsilon[i]` for every entry of sample `i`.
pub fn interpolate(real: &Tensor, fake: &Tensor, epsilon: &Tensor) -> Tensor {
    // [batch] -> [batch, 1, 1, ...]: one number per sample, broadcast over every other dimension.
    let mut shape = vec![1i64; real.dim()];
    shape[0] = -1;
    let epsilon = epsilon.reshape(&shape);
    &epsilon * real + (1.0 - &epsilon) * fake
}

/// `lambda * mean over the batch of (||d critic / d x_hat[i]||_2 - 1)^2`, differentiable with
/// respect to the critic's parameters.
pub fn penalty_at(critic: Critic, x_hat: &Tensor, lambda: f64) -> Tensor {
    // The interpolates are data: a leaf of our own, so that we can differentiate with respect
    // to it without touching the caller's tensor.
    let x = x_hat.detach().set_requires_grad(true);
    let scores = critic(&x);
    // Backward from the sum is grad_outputs = ones: the scores of different samples do not mix,
    // so row i is the gradient of score i. create_graph: the penalty is a function of this
    // gradient, and its own gradient must reach the critic's parameters (double backward).
    let grads = Tensor::run_backward(&[scores.sum(scores.kind())], &[&x], true, true).remove(0);
    // One norm per sample, over every other dimension (reshape: the gradient need not be
    // contiguous). norm's backward is 0 where the norm is 0; sqrt(sum(g^2)) would give NaN there.
    let norms = grads.reshape([x.size()[0], -1]).norm_scalaropt_dim(2.0, [1], false);
    (norms - 1.0).square().mean(x.kind()) * lambda
}

/// The WGAN-GP gradient penalty: a uniform epsilon per sample, the interpolates, `penalty_at`.
pub fn gradient_penalty(critic: Critic, real: &Tensor, fake: &Tensor, lambda: f64) -> Tensor {
    let epsilon = Tensor::rand([real.size()[0]], (real.kind(), real.device()));
    // The interpolates need no graph back to the generator: the penalty trains the critic.
    let x_hat = interpolate(&real.detach(), &fake.detach(), &epsilon);
    penalty_at(critic, &x_hat, lambda)
}

fn main() {
    let options = (Kind::Double, Device::Cpu);
    // A linear critic x . w: its gradient is w for every sample, so the penalty is
    // lambda (|w| - 1)^2 = 10 * (5 - 1)^2 = 160 for w = [3, 4].
    let w = Tensor::from_slice(&[3.0f64, 4.0]).set_requires_grad(true);
    let critic = |x: &Tensor| x.mv(&w);
    let real = Tensor::randn([8, 2], options);
    let fake = Tensor::randn([8, 2], options);
    let penalty = gradient_penalty(&critic, &real, &fake, 10.0);
    println!("penalty {} (160 expected)", penalty.double_value(&[]));
    // Its gradient with respect to w: 2 lambda (|w| - 1) w / |w| = [48, 64].
    penalty.backward();
    println!("d penalty / d w = {}", w.grad());
}
