// Exercise 03_memory/gradient_checkpoint: trade compute for memory.
//
// For backward, autograd keeps what each operation saved: in a residual block
// `x + tanh(x @ w1 + b1) @ w2 + b2` with a hidden layer 4 times wider than x, the tanh's output
// (4 x's worth) and x itself. A deep stack holds all of that for every block from the end of
// forward until backward reaches it: memory grows with depth times width.
//
// Gradient checkpointing (torch.utils.checkpoint.checkpoint) keeps only each block's input.
// Forward runs the block without recording a graph, so its intermediates are freed at once;
// backward runs the block's forward again, this time recording, and backpropagates through
// that fresh graph. Each block's forward runs twice, and memory holds one input per block plus
// the intermediates of the one block being recomputed.
//
// tch has no checkpoint, and no custom autograd functions; the support library has the latter
// (`tensorlings_support::autograd::CustomFunction`, as in section 01). Its forward closure runs
// with grad mode off, which is exactly "run the block without saving intermediates"; save the
// inputs with `ctx.save_for_backward`. Its backward closure runs with grad mode off too (as
// PyTorch's does): turn it on for the recomputation (`tch::with_grad`), on fresh leaves
// (`detach()` then `set_requires_grad(true)`: without the detach you would switch on
// requires_grad of the caller's own tensors, an x that is data or a frozen parameter), and
// backpropagate the incoming gradient `g` through the recomputed output `y`, that is the
// gradient of `(y * g).sum()`, with `Tensor::run_backward(&[..], &leaves, false, false)`, which
// returns the gradient of each leaf. Return one gradient per input: x and every parameter.
// (If backward crashes with a segmentation fault, the recomputed output does not require
// grad: tch's run_backward crashes on such an output instead of reporting it. Check with_grad.)
//
// (A block with randomness, like dropout, must replay the same random numbers when it is
// recomputed; PyTorch saves and restores the RNG state for that. The blocks here have none.)

use tch::{Kind, Tensor};
use tensorlings_support::autograd::CustomFunction;

/// A block: a function of an input and its parameters, written with differentiable operations.
pub type Block = fn(&Tensor, &[Tensor]) -> Tensor;

/// The residual block of the checks: `x + tanh(x @ w1 + b1) @ w2 + b2`, with params
/// `[w1 [d, h], b1 [h], w2 [h, d], b2 [d]]`.
pub fn mlp_block(x: &Tensor, params: &[Tensor]) -> Tensor {
    let hidden = (x.matmul(&params[0]) + &params[1]).tanh();
    x + hidden.matmul(&params[2]) + &params[3]
}

/// `block(x, params)`, checkpointed: forward keeps only x and the parameters, and backward
/// recomputes the block to get the gradients for x and for every parameter that needs one
/// (`None` for an input that needs none). The block's forward runs once in forward and once
/// more in backward.
///
/// PyTorch: `torch.utils.checkpoint.checkpoint(block, x, *params, use_reentrant=True)`.
pub fn checkpoint(block: Block, x: &Tensor, params: &[Tensor]) -> Tensor {
    // TODO: a CustomFunction whose forward saves the inputs and runs the block, and whose
    // backward recomputes it with grad on (on fresh leaves) and backpropagates grads[0].
    todo!("checkpoint of x {:?} with {} parameters", x.size(), params.len())
}

/// `layers.len()` blocks one after the other, the output of each the input of the next, each
/// block with its own parameters, without checkpointing.
pub fn plain_stack(block: Block, x: &Tensor, layers: &[Vec<Tensor>]) -> Tensor {
    layers.iter().fold(x.shallow_clone(), |h, params| block(&h, params))
}

/// The same stack with every block checkpointed.
pub fn checkpointed_stack(block: Block, x: &Tensor, layers: &[Vec<Tensor>]) -> Tensor {
    // TODO
    todo!("checkpointed_stack of {} blocks", layers.len())
}

fn main() {
    let opts = (Kind::Float, tch::Device::Cpu);
    let (d, h) = (8, 32);
    let layers: Vec<Vec<Tensor>> = (0..4)
        .map(|_| {
            [vec![d, h], vec![h], vec![h, d], vec![d]]
                .iter()
                .map(|shape| (Tensor::randn(shape.as_slice(), opts) * 0.2).set_requires_grad(true))
                .collect()
        })
        .collect();
    let x = Tensor::randn([16, d], opts);
    checkpointed_stack(mlp_block, &x, &layers).square().sum(Kind::Float).backward();
    let checkpointed = layers[0][0].grad().copy();
    for params in &layers {
        for p in params {
            let _ = p.grad().zero_();
        }
    }
    plain_stack(mlp_block, &x, &layers).square().sum(Kind::Float).backward();
    println!(
        "largest difference of a gradient: {}",
        (checkpointed - layers[0][0].grad()).abs().max().double_value(&[])
    );
}
