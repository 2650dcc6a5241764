// Reference solution of 09_numerical_stability/stable_layer_norm.

use tch::{Kind, Tensor};

/// float32 for the half-precision kinds, the input's own kind otherwise.
fn compute_kind(kind: Kind) -> Kind {
    match kind {
        Kind::Half | Kind::BFloat16 => Kind::Float,
        kind => kind,
    }
}

/// Layer normalization over the last `normalized_shape.len()` dimensions of `x`, with the
/// two-pass variance, then `* weight + bias` when given.
pub fn layer_norm(
    x: &Tensor,
    normalized_shape: &[i64],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Tensor {
    let kind = compute_kind(x.kind());
    let x32 = x.to_kind(kind);
    // The normalized dimensions are the last ones: [2, 3, 4, 5] with normalized_shape [4, 5]
    // normalizes over dimensions 2 and 3.
    let first = x.dim() - normalized_shape.len();
    let dims: Vec<i64> = (first..x.dim()).map(|d| d as i64).collect();
    // Two passes: the mean first, then the mean of the squared deviations from it. The deviations
    // are small numbers computed exactly-ish, so nothing cancels. E[x^2] - E[x]^2 would subtract
    // two numbers of about 1e8 (for a mean of 1e4) to get a variance of 1e-4: in float32, whose
    // spacing at 1e8 is 8, nothing of the variance is left.
    let mean = x32.mean_dim(dims.as_slice(), true, kind);
    let centered = &x32 - &mean;
    // Biased (divide by n, not n - 1), as layer_norm does.
    let var = centered.square().mean_dim(dims.as_slice(), true, kind);
    // eps inside the square root: a row of equal values gives 0 / sqrt(eps) = 0, not 0 / 0.
    let y = centered / (var + eps).sqrt();
    let y = match weight {
        Some(w) => y * w.to_kind(kind),
        None => y,
    };
    let y = match bias {
        Some(b) => y + b.to_kind(kind),
        None => y,
    };
    y.to_kind(x.kind())
}

fn main() {
    // Values of about 1e4 that differ by about 1e-2: a float32 E[x^2] - E[x]^2 is all rounding.
    let x = Tensor::from_slice(&[10000.0f32, 10000.01, 10000.02, 9999.99]).reshape([1, 4]);
    layer_norm(&x, &[4], None, None, 1e-5).print();
    let naive_var = x.square().mean(Kind::Float) - x.mean(Kind::Float).square();
    println!("E[x^2] - E[x]^2 = {} (the variance is about 1.2e-4)", naive_var.double_value(&[]));
}
