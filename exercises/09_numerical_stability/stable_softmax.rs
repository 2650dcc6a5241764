// Exercise 09_numerical_stability/stable_softmax: softmax, log_softmax and logsumexp that neither
// overflow, nor lose half precision, nor turn a fully masked row into NaN.
//
// softmax(x)_i = exp(x_i) / sum_j exp(x_j). Written like that it breaks at once: exp(89) is
// inf in float32 (exp(710) in float64, exp(12) in float16), and inf / inf is NaN. Logits of 1e4
// are not exotic (an unscaled attention score, a log-likelihood). The cure: softmax does not
// change when the same number is subtracted from every entry of a row, so subtract the row's
// maximum m first. Then every exp is at most 1, and the largest is exactly 1, so the sum is
// between 1 and n: nothing overflows, and the sum cannot underflow to 0 either.
//
//     logsumexp(x)   = m + log(sum_j exp(x_j - m))
//     log_softmax(x) = (x - m) - log(sum_j exp(x_j - m))     (not log(softmax(x)): a probability
//                                                             of exp(-200) is 0 in float32, and
//                                                             its log -inf instead of -200)
//
// Half precision (float16, bfloat16) keeps 11 or 8 significant bits. Compute in float32 and
// return the input's kind, as PyTorch's autocast does: logsumexp(-0.7, -0.7) = -0.7 + log 2 =
// -0.0061 is -0.0078 when each step rounds to bfloat16.
//
// A fully masked row (every entry -inf, e.g. an attention query that may see no key) has no
// finite maximum, and -inf - (-inf) is NaN. PyTorch returns NaN for its softmax. This course
// chooses instead, and your functions must do the same:
//     softmax of a fully masked row is all zeros (the row attends to nothing),
//     log_softmax of it is all -inf (the log of those zeros),
//     logsumexp of it is -inf (the log of an empty sum), as torch.logsumexp gives.
// Use 0 as the maximum of such a row. Beware of `where`: a NaN computed in the branch that is
// thrown away still makes the gradient NaN, so keep NaN out of every branch (for example, replace
// a sum of 0 by 1 before dividing by it or taking its log). The checks want gradients free of NaN
// on masked inputs, and equal to the built-ins' on rows that are not fully masked.
//
// Other rows must equal torch's softmax, log_softmax and logsumexp, and gradients must flow (use
// tensor operations, no Rust loops over rows). Do not call those three built-ins: they are what
// your functions are compared with. `dim` may be negative, and the inputs may be views.
//
// Speed (`tensorlings profile stable_softmax`): written with tensor operations, softmax and
// log_softmax are 2.5x to 5x slower than the built-ins on 4096 rows of 1024, and logsumexp about
// 1.5x (BENCHMARKS.md): each step (the max, the shift, exp, the sum, the masks of fully masked
// rows, the division) is a pass over the data with a result of its own, 20 allocations where the
// built-in makes 1 fused pass. The exercise is about what the fused kernel does for you;
// `tensorlings profile` shows the cost.

use tch::{Kind, Tensor};

/// log(sum(exp(x))) over `dim`, which disappears from the shape (keepdim false); -inf for a fully
/// masked row. Half-precision inputs are computed in float32; the result has the input's kind.
///
/// PyTorch: `torch.logsumexp(x, dim)`, or by hand
/// ```python
/// x32 = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
/// m = x32.amax(dim, keepdim=True).detach()
/// m = torch.where(m.isfinite(), m, torch.zeros_like(m))
/// s = (x32 - m).exp().sum(dim, keepdim=True)
/// return (s.log() + m).squeeze(dim).to(x.dtype)      # plus care for s == 0
/// ```
pub fn stable_logsumexp(x: &Tensor, dim: i64) -> Tensor {
    // TODO
    todo!("logsumexp of x {:?} over dim {dim}", x.size())
}

/// softmax over `dim` (the shape is kept); all zeros for a fully masked row. Half-precision
/// inputs are computed in float32; the result has the input's kind.
///
/// PyTorch: `torch.softmax(x, dim)`, or by hand `e = (x32 - m).exp(); e / e.sum(dim, keepdim=True)`.
pub fn stable_softmax(x: &Tensor, dim: i64) -> Tensor {
    // TODO
    todo!("softmax of x {:?} over dim {dim}", x.size())
}

/// log_softmax over `dim` (the shape is kept); all -inf for a fully masked row. Half-precision
/// inputs are computed in float32; the result has the input's kind.
///
/// PyTorch: `torch.log_softmax(x, dim)`, or by hand `(x32 - m) - (x32 - m).exp().sum(dim, keepdim=True).log()`.
pub fn stable_log_softmax(x: &Tensor, dim: i64) -> Tensor {
    // TODO
    todo!("log_softmax of x {:?} over dim {dim}", x.size())
}

fn main() {
    // exp(1e4) is inf in every float kind: a naive softmax is inf / inf = NaN here.
    let x = Tensor::from_slice(&[1e4f32, 1e4 - 1.0, 1e4 - 2.0]);
    stable_softmax(&x, 0).print();
    stable_logsumexp(&x, 0).print();
    // A row of a mask where nothing is allowed: zeros, -inf and -inf.
    let masked = Tensor::from_slice(&[f32::NEG_INFINITY; 3]).reshape([1, 3]);
    stable_softmax(&masked, 1).print();
    stable_log_softmax(&masked, 1).print();
    stable_logsumexp(&masked, 1).print();
    // -0.7 + log 2 = -0.0061: computed in float32, it survives the rounding to bfloat16.
    let close_to_zero = Tensor::from_slice(&[-0.7f32, -0.7]).to_kind(Kind::BFloat16);
    stable_logsumexp(&close_to_zero, 0).print();
}
