// Exercise 10_research_ops/learnable_pooling: pooling with parameters that are learned.
//
// Average pooling and max pooling are two ends of one family. Generalized-mean (GeM) pooling
// (Radenović et al. 2018, image retrieval) learns where to be between them:
//
//     GeM_p(x) = (mean over H, W of x^p)^(1/p)      p = 1: the average; p -> inf: the maximum
//
// with p a learned scalar. Two things make it stable. The features must be positive (x^p of a
// negative x is NaN for non-integer p, and log x is needed for the gradient of p): clamp x at
// eps first (features after a ReLU have exact zeros). And x^p overflows for large p (4^100 is
// beyond float32's 3.4e38): compute in log space, which is logsumexp from section 09,
//
//     GeM_p(x) = exp((logsumexp over H, W of (p * log x) - log(H * W)) / p),
//
// and clamp p at P_MIN = 1 (its gradient is then 0 below it, like any clamp).
//
// Attention pooling (as in set transformers' PMA or CLIP's attention pool) learns WHAT to keep:
// a learned query vector scores every position, and the output is the softmax-weighted average
// of the positions:
//
//     weights[n, l] = softmax over l of (x[n, l] . query / sqrt(D))      (masked positions: -inf)
//     out[n]        = sum over l of weights[n, l] * x[n, l]
//
// The checks compare values and the gradients of x, p and query with the reference and with
// PyTorch's building blocks (avg_pool2d, amax, softmax), and run gradcheck in float64.

use tch::Tensor;

/// The smallest p: below 1, GeM pools below the average, which is not what it is for.
pub const P_MIN: f64 = 1.0;

/// Generalized-mean pooling of `x` ([N, C, H, W]) over H and W: [N, C], in `x`'s kind. `p` is a
/// 0-dimensional tensor (it may require grad), clamped at `P_MIN`; `x` is clamped at `eps`
/// (> 0). Computed in log space, so that no x^p overflows.
///
/// PyTorch (the usual, naive form, which overflows for large p):
/// ```python
/// p = p.clamp(min=1.0)
/// F.avg_pool2d(x.clamp(min=eps).pow(p), (x.size(-2), x.size(-1))).pow(1.0 / p).flatten(1)
/// ```
pub fn gem_pool(x: &Tensor, p: &Tensor, eps: f64) -> Tensor {
    // TODO
    todo!("GeM pooling of x {:?} with p {:?}, eps {eps}", x.size(), p.size())
}

/// Attention pooling of `x` ([N, L, D]) with the learned `query` ([D]): [N, D]. `mask`, when
/// given, is a boolean [N, L], true where a position may be pooled (every row has a true).
///
/// PyTorch:
/// ```python
/// scores = x @ query / math.sqrt(x.size(-1))              # [N, L]
/// if mask is not None:
///     scores = scores.masked_fill(~mask, float("-inf"))
/// weights = scores.softmax(dim=1)
/// return (weights.unsqueeze(1) @ x).squeeze(1)            # [N, D]
/// ```
pub fn attention_pool(x: &Tensor, query: &Tensor, mask: Option<&Tensor>) -> Tensor {
    // TODO
    todo!(
        "attention pooling of x {:?} with query {:?} and mask {:?}",
        x.size(),
        query.size(),
        mask.map(Tensor::size)
    )
}

fn main() {
    let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([1, 1, 2, 2]);
    for p in [1.0f32, 3.0, 100.0] {
        // p = 1 is the average (2.5); a large p approaches the maximum (4).
        println!("p = {p}: {}", gem_pool(&x, &Tensor::from(p), 1e-6).double_value(&[0, 0]));
    }
    let seq = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0]).reshape([1, 3, 2]);
    attention_pool(&seq, &Tensor::from_slice(&[10.0f32, 0.0]), None).print();
}
