// Exercise 09_numerical_stability/stable_layer_norm: layer normalization that keeps its digits.
//
// Layer norm normalizes each sample over its last dimensions (the features), then applies a
// learned scale and shift:
//
//     mean = E[x]              (over the normalized dimensions)
//     var  = E[(x - mean)^2]   biased: divided by n, not n - 1, as torch.nn.LayerNorm
//     y    = (x - mean) / sqrt(var + eps) * weight + bias        eps INSIDE the square root
//
// The textbook shortcut var = E[x^2] - E[x]^2 is a catastrophic cancellation: for features of
// mean 1e4 and standard deviation 1e-2, E[x^2] is about 1e8, where float32 numbers are 8 apart,
// and the variance 1e-4 is the difference of two such numbers: what remains is rounding (often
// negative, so sqrt gives NaN). Compute the mean first, then the mean of the squared deviations
// (two passes; Welford's online update is the one-pass equivalent). Even then float32 knows the
// mean of numbers near 1e4 only to about 1e-3, a tenth of their spread: the checks hold float32 at
// that scale to the error this rounding allows, and float64 to the full precision.
//
// Half-precision inputs (float16, bfloat16) are computed in float32 and returned in their kind,
// like PyTorch's autocast does for layer_norm; the weight and bias then have the input's kind.
//
// The checks compare values and gradients (of x, weight and bias: build y from differentiable
// tensor operations) with torch's layer_norm. Do not call layer_norm (nor native_layer_norm,
// group_norm...): it is what yours is compared with.
//
// Speed (`tensorlings profile stable_layer_norm`): two passes of tensor operations are 4x to
// 10x slower than torch's layer_norm on 4096 rows of 1024 (BENCHMARKS.md, and our runs): the mean, the
// deviations, their squares, the variance, the normalization, the weight and the bias each make a
// tensor (15 allocations against 3), where the built-in computes them in one fused kernel.

use tch::{Kind, Tensor};

/// Layer normalization of `x` over its last `normalized_shape.len()` dimensions (whose sizes are
/// `normalized_shape`), with the two-pass biased variance and eps inside the square root, then
/// times `weight` and plus `bias` (each of shape `normalized_shape`) when given.
///
/// PyTorch: `torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps)`, or by hand
/// ```python
/// dims = tuple(range(x.ndim - len(normalized_shape), x.ndim))
/// x32 = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
/// mean = x32.mean(dims, keepdim=True)
/// var = ((x32 - mean) ** 2).mean(dims, keepdim=True)
/// y = (x32 - mean) / torch.sqrt(var + eps)
/// return (y * weight + bias).to(x.dtype)       # when weight and bias are given
/// ```
pub fn layer_norm(
    x: &Tensor,
    normalized_shape: &[i64],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Tensor {
    // TODO
    todo!(
        "layer_norm of x {:?} over {normalized_shape:?}, weight {:?}, bias {:?}, eps {eps}",
        x.size(),
        weight.map(Tensor::size),
        bias.map(Tensor::size)
    )
}

fn main() {
    // Values of about 1e4 that differ by about 1e-2: a float32 E[x^2] - E[x]^2 is all rounding.
    let x = Tensor::from_slice(&[10000.0f32, 10000.01, 10000.02, 9999.99]).reshape([1, 4]);
    layer_norm(&x, &[4], None, None, 1e-5).print();
    let naive_var = x.square().mean(Kind::Float) - x.mean(Kind::Float).square();
    println!("E[x^2] - E[x]^2 = {} (the variance is about 1.2e-4)", naive_var.double_value(&[]));
}
