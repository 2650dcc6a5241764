// Reference solution of 10_research_ops/learnable_pooling.

use tch::Tensor;

/// The smallest p: below 1, GeM pools below the average, which is not what it is for.
pub const P_MIN: f64 = 1.0;

/// Generalized-mean pooling of `x` ([N, C, H, W]) over H and W: [N, C].
pub fn gem_pool(x: &Tensor, p: &Tensor, eps: f64) -> Tensor {
    let kind = x.kind();
    let p = p.clamp_min(P_MIN);
    let n = (x.size()[2] * x.size()[3]) as f64;
    // (mean of x^p)^(1/p) = exp((log(sum exp(p log x)) - log n) / p): in log space, so that x^p
    // cannot overflow for a large p (4^100 is beyond float32). The clamp keeps log away from 0.
    let logs = x.clamp_min(eps).log() * &p;
    let log_sum = logs.flatten(2, 3).logsumexp([2], false);
    ((log_sum - n.ln()) / &p).exp().to_kind(kind)
}

/// Attention pooling of `x` ([N, L, D]) with the learned `query` ([D]): [N, D].
pub fn attention_pool(x: &Tensor, query: &Tensor, mask: Option<&Tensor>) -> Tensor {
    let d = x.size()[2] as f64;
    // One score per position: how well it matches the query, scaled like attention.
    let scores = x.matmul(query) / d.sqrt();
    let scores = match mask {
        Some(mask) => scores.masked_fill(&mask.logical_not(), f64::NEG_INFINITY),
        None => scores,
    };
    // softmax subtracts the maximum: scores of 1e4 do not overflow.
    let weights = scores.softmax(1, scores.kind());
    // The weighted mean of the positions: [N, 1, L] @ [N, L, D] = [N, 1, D].
    weights.unsqueeze(1).matmul(x).squeeze_dim(1)
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
