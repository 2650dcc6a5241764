// Reference solution of 01_custom_autograd/custom_relu.

use tch::{Kind, Tensor};
use tensorlings_support::autograd::{Context, Function};

/// ReLU, `max(x, 0)`, with a backward of your own.
///
/// Its derivative is 1 where `x > 0` and 0 where `x < 0`. At exactly `x = 0` ReLU has no
/// derivative; `torch.relu` uses 0 there, and so must you (`x > 0`, not `x >= 0`): checks
/// compare your gradient with `relu`'s, zeros included.
pub struct CustomRelu;

impl Function for CustomRelu {
    const NAME: &'static str = "custom_relu";

    /// `inputs[0]` is `x`; return `vec![relu(x)]`, a new tensor (`x` must not change), and save
    /// what backward needs.
    ///
    /// PyTorch:
    /// ```python
    /// ctx.save_for_backward(x)
    /// return x.clamp(min=0)
    /// ```
    fn forward(ctx: &mut Context, inputs: &[Tensor]) -> Vec<Tensor> {
        let x = &inputs[0];
        // Saved for backward: the input decides where the gradient flows.
        ctx.save_for_backward(&[x]);
        // clamp_min returns a new tensor; clamp_min_ would change the caller's x.
        vec![x.clamp_min(0.0)]
    }

    /// `grad_outputs[0]` is the gradient of the loss with respect to relu(x); return
    /// `vec![Some(gradient with respect to x)]`.
    ///
    /// PyTorch:
    /// ```python
    /// x, = ctx.saved_tensors
    /// return grad_output * (x > 0)
    /// ```
    fn backward(ctx: &Context, grad_outputs: &[Tensor]) -> Vec<Option<Tensor>> {
        let x = &ctx.saved()[0];
        let grad_output = &grad_outputs[0];
        // Strictly greater: the gradient at exactly 0 is 0, as torch.relu's is.
        let flows = x.gt(0.0).to_kind(grad_output.kind());
        vec![Some(grad_output * flows)]
    }
}

/// `CustomRelu` applied to one tensor, as `CustomReLU.apply(x)` in PyTorch.
pub fn custom_relu(x: &Tensor) -> Tensor {
    CustomRelu::apply(&[x]).expect("custom_relu failed").remove(0)
}

fn main() {
    let x = Tensor::from_slice(&[-2.0f64, -0.5, 0.0, 0.5, 2.0]).set_requires_grad(true);
    let y = custom_relu(&x);
    (&y * Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0, 5.0])).sum(Kind::Double).backward();
    println!("relu(x) = {y}\ngradient = {}", x.grad());
}
