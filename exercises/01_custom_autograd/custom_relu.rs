// Exercise 01_custom_autograd/custom_relu: your first custom autograd function.
//
// PyTorch lets you define an operation's forward and backward yourself by subclassing
// `torch.autograd.Function`. You do that when autograd cannot, or should not, derive the
// gradient: a fused kernel, a numerically safer formula, a surrogate gradient for a step
// function. tch has no such API; the course's support library provides one,
// `tensorlings_support::autograd`, shaped like PyTorch's:
//
//   class CustomReLU(torch.autograd.Function):       impl Function for CustomRelu {
//       @staticmethod                                    const NAME: &'static str = "...";
//       def forward(ctx, x): ...                         fn forward(ctx: &mut Context, inputs: &[Tensor]) -> Vec<Tensor>
//       @staticmethod                                    fn backward(ctx: &Context, grad_outputs: &[Tensor])
//       def backward(ctx, grad_output): ...                  -> Vec<Option<Tensor>>
//   CustomReLU.apply(x)                              CustomRelu::apply(&[&x])  // Result<Vec<Tensor>, TchError>
//
// `forward` runs with autograd off and returns the outputs. `backward` gets one gradient per
// output (the gradient of the loss with respect to that output) and returns one entry per
// input: `Some(gradient of the loss with respect to that input)`, of the input's shape. What
// backward needs from forward travels in `ctx`: `ctx.save_for_backward(&[&x])` in forward,
// `ctx.saved()[0]` in backward (PyTorch's ctx.saved_tensors).
//
// The chain rule is your job in backward: multiply the incoming gradient by the local
// derivative. Returning the local derivative alone is right only when the loss is a plain sum.
//
// Speed (`tensorlings profile custom_relu`): expect your function, like the reference, to be
// about 2x slower than the built-in relu on a forward and a backward of a million elements
// (2.4x in BENCHMARKS.md, "The course's own numbers"). It is meant to be: its backward is a Rust closure
// that libtorch calls back, which builds a mask and a product where relu's own backward is one
// fused kernel, and the profile shows the extra allocations. A custom function buys control of
// the gradient, not speed; relu_benchmark measures that trade fairly.

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
        // TODO
        todo!("forward of custom_relu on x of shape {:?}", inputs[0].size())
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
        // TODO
        todo!("backward of custom_relu with a gradient of shape {:?}", grad_outputs[0].size())
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
