// Exercise 01_custom_autograd/gumbel_softmax: sampling a category, differentiably.
//
// A discrete choice (which token, which action, which expert) has no gradient: argmax is flat
// almost everywhere. Gumbel-Softmax (Jang et al. 2017; Maddison et al. 2017) gets around that
// in two steps:
//
// 1. The Gumbel-max trick: with g_i independent Gumbel(0, 1) noise, argmax_i(logits_i + g_i) is
//    an exact sample from softmax(logits). Gumbel(0, 1) noise is -log(-log(u)), u uniform in
//    [0, 1).
// 2. Relax the argmax into a softmax at temperature tau: softmax((logits + g) / tau). As
//    tau -> 0 this approaches the one-hot sample; larger tau gives smoother, lower-variance
//    gradients.
//
// The "hard" variant returns the one-hot sample itself but gives it the soft sample's gradient:
// the straight-through estimator. That is a job for a custom function: a forward that rounds
// to one-hot, and a backward that passes the gradient through as if it had not. (PyTorch's
// F.gumbel_softmax writes the same thing as `y_hard - y_soft.detach() + y_soft`.)
//
// Random numbers: the checks seed libtorch's generator and call your code and the reference
// with the same seed, so draw exactly as the docs say (one `rand_like` per sample) to get the
// same numbers as the reference.

use tch::{Device, Kind, Tensor};
use tensorlings_support::autograd::{Context, Function};

/// Gumbel(0, 1) noise of the shape, dtype and device of `like`: `-log(-log(u))` with
/// `u = like.rand_like()`, drawn once.
///
/// PyTorch:
/// ```python
/// u = torch.rand_like(like)
/// return -torch.log(-torch.log(u))
/// ```
pub fn sample_gumbel(like: &Tensor) -> Tensor {
    // TODO
    todo!("sample_gumbel like a tensor of shape {:?}", like.size())
}

/// The straight-through one-hot: forward returns the one-hot of the argmax over the last
/// dimension (same shape and dtype as the input, 1 at the largest entry of each row, 0
/// elsewhere); backward returns the incoming gradient unchanged, as if forward were the
/// identity.
pub struct StraightThrough;

impl Function for StraightThrough {
    const NAME: &'static str = "straight_through";

    /// PyTorch:
    /// ```python
    /// index = y.argmax(dim=-1, keepdim=True)
    /// return torch.zeros_like(y).scatter_(-1, index, 1.0)
    /// ```
    fn forward(_ctx: &mut Context, inputs: &[Tensor]) -> Vec<Tensor> {
        // TODO
        todo!("forward of straight_through on y of shape {:?}", inputs[0].size())
    }

    /// PyTorch: `return grad_output`
    fn backward(_ctx: &Context, grad_outputs: &[Tensor]) -> Vec<Option<Tensor>> {
        // TODO
        todo!("backward of straight_through with a gradient of shape {:?}", grad_outputs[0].size())
    }
}

/// One Gumbel-Softmax sample per row of `logits` (the classes are the last dimension): the soft
/// sample `softmax((logits + g) / tau)` with `g = sample_gumbel(logits)`, or with `hard`, its
/// one-hot through `StraightThrough`. Draw the noise once, and divide the noise by `tau` as
/// well as the logits. `logits` is left as it was.
///
/// PyTorch (`F.gumbel_softmax(logits, tau, hard)` with our noise):
/// ```python
/// y_soft = ((logits + sample_gumbel(logits)) / tau).softmax(-1)
/// return StraightThrough.apply(y_soft) if hard else y_soft
/// ```
pub fn gumbel_softmax(logits: &Tensor, tau: f64, hard: bool) -> Tensor {
    // TODO
    todo!("gumbel_softmax of logits of shape {:?}, tau {tau}, hard {hard}", logits.size())
}

fn main() {
    tch::manual_seed(0);
    let logits = Tensor::from_slice(&[2.0f32, 1.0, 0.1]).to_device(Device::Cpu);
    println!("soft sample: {}", gumbel_softmax(&logits, 0.5, false));
    println!("hard sample: {}", gumbel_softmax(&logits, 0.5, true));
    let draws = gumbel_softmax(&logits.expand([10_000, 3], false), 1.0, true);
    println!("frequencies: {}", draws.mean_dim(0, false, Kind::Float));
    println!("softmax:     {}", logits.softmax(-1, Kind::Float));
}
