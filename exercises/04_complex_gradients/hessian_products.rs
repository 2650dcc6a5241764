// Exercise 04_complex_gradients/hessian_products: Hessian-vector products and the Hessian, by
// double backward.
//
// The Hessian H of a scalar f(x) has n^2 entries for n parameters: a billion for a model of 30,000
// parameters, and far beyond that for a real one. What optimizers (Newton-CG, trust region), and
// tools (the sharpness of a minimum, influence functions) need is H v for a vector v, and that
// costs two backward passes, no more:
//
//     g  = grad(f, x, create_graph=True)      # the gradient, with a graph of its own
//     Hv = grad((g * v).sum(), x)             # d/dx (g . v) = H v  (H is symmetric)
//
// v is a constant, so (g * v).sum() is a scalar function of x whose gradient is H v. In tch,
// torch.autograd.grad is `Tensor::run_backward(&[root], &[inputs], keep_graph, create_graph)`,
// and it has no grad_outputs: `(g * v).sum()` is how you give it the vector (a backward from
// g alone would use v = ones).
//
// The full Hessian, for small n, is n backward passes through the same gradient's graph: row i
// is the gradient of g[i] (keep the graph between them). Its shape follows
// torch.autograd.functional.hessian: x's shape twice, [2, 3, 2, 3] for an x of shape [2, 3].
//
// As in elementwise_derivatives: a gradient without a graph (f linear, or constant) means H = 0;
// never run_backward from a tensor that does not require grad (tch crashes, PyTorch raises).

use tch::{Device, Kind, Tensor};

/// A scalar function of a tensor.
pub type ScalarFn<'a> = &'a dyn Fn(&Tensor) -> Tensor;

/// `H v`: the Hessian of the scalar function `f` at `x` times `v` (of `x`'s shape), without
/// computing the Hessian: two backward passes. The result has `x`'s shape and kind and does not
/// require grad; `x` and `v` are left as they were.
///
/// PyTorch:
/// ```python
/// x = x.detach().requires_grad_(True)
/// g, = torch.autograd.grad(f(x), x, create_graph=True)
/// hv, = torch.autograd.grad((g * v).sum(), x)
/// ```
pub fn hessian_vector_product(f: ScalarFn, x: &Tensor, v: &Tensor) -> Tensor {
    // TODO
    todo!("hessian_vector_product at x of shape {:?}", x.size())
}

/// The Hessian of the scalar function `f` at `x`: entry `[i..., j...]` is d^2 f / dx[i...] dx[j...],
/// of shape `x.size()` followed by `x.size()` (`[n, n]` for an `x` of shape `[n]`). It does not
/// require grad; `x` is left as it was.
///
/// PyTorch: `torch.autograd.functional.hessian(f, x)`, or by hand:
/// ```python
/// x = x.detach().requires_grad_(True)
/// g, = torch.autograd.grad(f(x), x, create_graph=True)
/// g = g.reshape(-1)
/// rows = [torch.autograd.grad(g[i], x, retain_graph=True)[0].reshape(-1) for i in range(g.numel())]
/// torch.stack(rows).reshape(x.shape + x.shape)
/// ```
pub fn hessian(f: ScalarFn, x: &Tensor) -> Tensor {
    // TODO
    todo!("hessian at x of shape {:?}", x.size())
}

fn main() {
    let x = Tensor::from_slice(&[0.5f64, 1.0, 2.0]);
    let f = |t: &Tensor| (t.pow_tensor_scalar(3) * t.sin()).sum(Kind::Double);
    // Diagonal: f is a sum of functions of one element each.
    println!("Hessian of sum(x^3 sin x):\n{}", hessian(&f, &x));
    let v = Tensor::from_slice(&[1.0f64, 0.0, 0.0]);
    println!("H e0: {}", hessian_vector_product(&f, &x, &v));
    // A quadratic form 0.5 x^T A x has the Hessian (A + A^T) / 2.
    let a = Tensor::from_slice(&[1.0f64, 2.0, 0.0, 3.0]).reshape([2, 2]);
    let quadratic = |t: &Tensor| t.dot(&a.mv(t)) * 0.5;
    println!(
        "Hessian of 0.5 x^T A x:\n{}",
        hessian(&quadratic, &Tensor::ones([2], (Kind::Double, Device::Cpu)))
    );
}
