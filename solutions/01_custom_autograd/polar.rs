// Reference solution of 01_custom_autograd/polar.

use tch::{Kind, Tensor};
use tensorlings_support::autograd::{Context, Function};

/// Polar to Cartesian coordinates, elementwise: `x = r cos(theta)`, `y = r sin(theta)`.
///
/// Inputs `[r, theta]`, outputs `[x, y]`. `r` and `theta` have the same shape, or shapes that
/// broadcast together (one radius per row, `r` of shape `[n, 1]`, against angles `[n, k]`).
/// The Jacobian, worked out by hand:
///
/// ```text
/// dx/dr = cos(theta)     dx/dtheta = -r sin(theta)
/// dy/dr = sin(theta)     dy/dtheta =  r cos(theta)
/// ```
pub struct PolarToCartesian;

impl Function for PolarToCartesian {
    const NAME: &'static str = "polar_to_cartesian";

    /// `inputs` is `[r, theta]`; return `vec![x, y]` and save what backward needs.
    ///
    /// PyTorch:
    /// ```python
    /// ctx.save_for_backward(r, theta)
    /// return r * torch.cos(theta), r * torch.sin(theta)
    /// ```
    fn forward(ctx: &mut Context, inputs: &[Tensor]) -> Vec<Tensor> {
        let (r, theta) = (&inputs[0], &inputs[1]);
        ctx.save_for_backward(&[r, theta]);
        vec![r * theta.cos(), r * theta.sin()]
    }

    /// `grad_outputs` is `[dL/dx, dL/dy]`; return `vec![Some(dL/dr), Some(dL/dtheta)]`.
    ///
    /// PyTorch:
    /// ```python
    /// r, theta = ctx.saved_tensors
    /// grad_x, grad_y = grad_outputs
    /// grad_r = grad_x * torch.cos(theta) + grad_y * torch.sin(theta)
    /// grad_theta = r * (grad_y * torch.cos(theta) - grad_x * torch.sin(theta))
    /// return grad_r, grad_theta
    /// ```
    ///
    /// With broadcasting, `grad_r` comes out in the broadcast shape `[n, k]`, not `r`'s `[n, 1]`.
    /// Autograd sums a gradient of a broadcast shape down to the input's shape for you (as
    /// PyTorch does); `grad_r.sum_to_size(r.size())` does it explicitly, which is clearer.
    fn backward(ctx: &Context, grad_outputs: &[Tensor]) -> Vec<Option<Tensor>> {
        let (r, theta) = (&ctx.saved()[0], &ctx.saved()[1]);
        let (grad_x, grad_y) = (&grad_outputs[0], &grad_outputs[1]);
        let (cos, sin) = (theta.cos(), theta.sin());
        // Each input collects its gradient through both outputs.
        let grad_r = grad_x * &cos + grad_y * &sin;
        let grad_theta = r * (grad_y * &cos - grad_x * &sin);
        // With broadcasting, each gradient has the broadcast shape: sum it back to its input's.
        vec![Some(grad_r.sum_to_size(r.size())), Some(grad_theta.sum_to_size(theta.size()))]
    }
}

/// `PolarToCartesian` applied to `r` and `theta`: returns `(x, y)`.
pub fn polar_to_cartesian(r: &Tensor, theta: &Tensor) -> (Tensor, Tensor) {
    let mut outputs = PolarToCartesian::apply(&[r, theta]).expect("polar_to_cartesian failed");
    let y = outputs.pop().expect("two outputs");
    let x = outputs.pop().expect("two outputs");
    (x, y)
}

fn main() {
    let r = Tensor::from_slice(&[1.0f64, 2.0]).set_requires_grad(true);
    let theta = Tensor::from_slice(&[0.0f64, std::f64::consts::FRAC_PI_2]).set_requires_grad(true);
    let (x, y) = polar_to_cartesian(&r, &theta);
    (&x + &y * 2.0).sum(Kind::Double).backward();
    println!("x = {x}\ny = {y}\ndL/dr = {}\ndL/dtheta = {}", r.grad(), theta.grad());
}
