// Exercise 04_complex_gradients/wgan_gradient_penalty: the WGAN-GP gradient penalty, a loss made
// of a gradient, trained by double backward.
//
// A Wasserstein GAN's critic must be 1-Lipschitz: its gradient with respect to its input should
// have norm at most 1. WGAN-GP (Gulrajani et al., 2017) asks for that softly, with a penalty on
// points between real and generated samples:
//
//     epsilon ~ U[0, 1), one per sample
//     x_hat   = epsilon * real + (1 - epsilon) * fake
//     g_i     = d critic(x_hat)_i / d x_hat_i       (the gradient of sample i's score)
//     penalty = lambda * mean_i (||g_i||_2 - 1)^2
//
// Each piece has a classic mistake:
// - epsilon is ONE number per sample, shape [batch], and broadcast over every other dimension:
//   reshape it to [batch, 1, 1, 1] for images [batch, C, H, W]. An epsilon of shape [batch]
//   times a [batch, D] tensor broadcasts along the LAST dimension (silently, when D == batch).
//   One epsilon for the whole batch (rand([1])) samples only one line per batch.
// - The gradient must be computed with create_graph = true. The penalty is a function of the
//   gradient, and training the critic needs the penalty's gradient with respect to the critic's
//   parameters: a second backward through the first one. Without create_graph the penalty is a
//   constant with no graph, and the critic learns nothing from it.
// - The norm is per sample, over all non-batch dimensions: reshape the gradient to
//   [batch, -1] and take the norm of each row. Not the norm of the whole batch's gradient, not
//   over dim 1 alone (the channels of an image).
// - sqrt(sum(g^2)) has an infinite derivative at 0, so a sample where the critic's gradient is
//   exactly 0 (every ReLU off) makes the parameters' gradients NaN. Use
//   `norm_scalaropt_dim(2.0, [1], false)`, whose backward is 0 there (as torch.norm's).
//
// torch.autograd.grad(outputs=scores, inputs=x_hat, grad_outputs=torch.ones_like(scores),
// create_graph=True) is, in tch, `Tensor::run_backward(&[scores.sum(..)], &[&x], true, true)`:
// tch has no grad_outputs, and backward from the sum is the same as grad_outputs of ones. Row i
// of the result is sample i's gradient alone, because sample i's score depends only on x_hat[i].

use tch::{Device, Kind, Tensor};

/// A critic: a batch `[batch, ...]` in, one score per sample out (`[batch]` or `[batch, 1]`).
/// Its parameters are inside it (captured tensors that require grad).
pub type Critic<'a> = &'a dyn Fn(&Tensor) -> Tensor;

/// `epsilon * real + (1 - epsilon) * fake` for `real` and `fake` of the same shape
/// `[batch, ...]` and `epsilon` of shape `[batch]`: `epsilon[i]` is used for every entry of
/// sample `i`. The inputs are left as they were.
///
/// PyTorch:
/// ```python
/// eps = epsilon.view(-1, *([1] * (real.dim() - 1)))   # [batch, 1, 1, ...]
/// eps * real + (1 - eps) * fake
/// ```
pub fn interpolate(real: &Tensor, fake: &Tensor, epsilon: &Tensor) -> Tensor {
    // TODO
    todo!("interpolate of shape {:?} with epsilon of shape {:?}", real.size(), epsilon.size())
}

/// `lambda * mean_i (||g_i||_2 - 1)^2`, where `g_i` is the gradient of `critic(x_hat)[i]` with
/// respect to `x_hat[i]` and the norm is over all of sample `i`'s entries. A scalar, whose
/// gradient with respect to the critic's parameters is the one training needs: compute `g`
/// with create_graph. Differentiate with respect to a leaf of your own
/// (`x_hat.detach().set_requires_grad(true)`); return the penalty without calling backward.
///
/// PyTorch:
/// ```python
/// x = x_hat.detach().requires_grad_(True)
/// scores = critic(x)
/// g, = torch.autograd.grad(scores, x, grad_outputs=torch.ones_like(scores), create_graph=True)
/// norms = g.reshape(len(g), -1).norm(2, dim=1)
/// return lambda_ * ((norms - 1) ** 2).mean()
/// ```
pub fn penalty_at(critic: Critic, x_hat: &Tensor, lambda: f64) -> Tensor {
    // TODO
    todo!("penalty_at with x_hat of shape {:?}", x_hat.size())
}

/// The WGAN-GP gradient penalty for a batch of `real` and `fake` samples: draw `epsilon`
/// uniformly in [0, 1), one per sample (`Tensor::rand([batch], (kind, device))` on the samples'
/// kind and device), `interpolate` the detached samples, and return `penalty_at` the
/// interpolates.
///
/// PyTorch:
/// ```python
/// epsilon = torch.rand(real.shape[0], dtype=real.dtype, device=real.device)
/// x_hat = interpolate(real.detach(), fake.detach(), epsilon)
/// return penalty_at(critic, x_hat, lambda_)
/// ```
pub fn gradient_penalty(critic: Critic, real: &Tensor, fake: &Tensor, lambda: f64) -> Tensor {
    // TODO
    todo!("gradient_penalty of shape {:?}", real.size())
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
