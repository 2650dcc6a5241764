// Reference solution of 01_custom_autograd/gumbel_softmax.

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
    let u = like.rand_like();
    // u = 0 (one chance in 2^24 in float32) gives -inf: a class that is never picked, which
    // softmax handles. PyTorch's own sampler uses -log(Exponential(1)), the same distribution.
    -(-u.log()).log()
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
        let y = &inputs[0];
        let index = y.argmax(-1, true);
        vec![y.zeros_like().scatter_value(-1, &index, 1.0)]
    }

    /// PyTorch: `return grad_output`
    fn backward(_ctx: &Context, grad_outputs: &[Tensor]) -> Vec<Option<Tensor>> {
        // The estimator: pretend forward was the identity.
        vec![Some(grad_outputs[0].shallow_clone())]
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
    let y_soft = ((logits + sample_gumbel(logits)) / tau).softmax(-1, logits.kind());
    if !hard {
        return y_soft;
    }
    StraightThrough::apply(&[&y_soft]).expect("straight_through failed").remove(0)
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
