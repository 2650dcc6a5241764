// Exercise 04_complex_gradients/vjp_jacobians: Jacobians from vector-Jacobian products, row by
// row and in one batched pass.
//
// Backward never builds a Jacobian. For y = f(x) and a vector v of y's shape, it computes the
// vector-Jacobian product v^T J (of x's shape) directly: PyTorch's
// `torch.autograd.grad(y, x, grad_outputs=v)`. tch's `Tensor::run_backward` has no
// grad_outputs: it always starts from ones. Pass `(y * v).sum()` instead: its gradient with
// respect to x is exactly v^T J, because sum(y * v) = sum_i v_i y_i and v is a constant.
//
// The Jacobian is then m vector-Jacobian products, one per output element, with v one-hot:
// e_i^T J is row i. One forward pass and m backward passes through the same graph (keep_graph).
//
// Batched: m backward passes in a row are slow. If f treats a leading batch dimension entry by
// entry (as nn layers do), stack m copies of x into a batch [m, ...x.shape], run f once, and
// backward once from sum(ys * I): batch entry k meets the one-hot vector e_k, so the gradient
// of copy k is row k, all at once. (torch.func.jacrev does the same with vmap.)
//
// The shape, as torch.autograd.functional.jacobian returns it: the output's dimensions, then
// the input's. For y of shape [2, 4] and x of shape [2, 3], J has shape [2, 4, 2, 3], and
// J[i, j, k, l] = d y[i, j] / d x[k, l]. For a scalar output it is the gradient's shape.
//
// As before: when y does not require grad it does not depend on x, J = 0; never run_backward
// from it (tch crashes). An undefined gradient from run_backward is 0.

use tch::{Device, Kind, Tensor};

/// A function of a tensor. For `jacobian_batched` it must also take a batch: `f(xs)` for `xs`
/// of shape `[k, ...x.shape]` is `[k, ...f(x).shape]`, entry by entry.
pub type TensorFn<'a> = &'a dyn Fn(&Tensor) -> Tensor;

/// `v^T J`: the vector-Jacobian product of `f` at `x` with `v` (of `f(x)`'s shape), of `x`'s
/// shape, not requiring grad. `x` and `v` are left as they were.
///
/// PyTorch:
/// ```python
/// x = x.detach().requires_grad_(True)
/// vjp, = torch.autograd.grad(f(x), x, grad_outputs=v)   # tch: backward from (y * v).sum()
/// ```
pub fn vector_jacobian_product(f: TensorFn, x: &Tensor, v: &Tensor) -> Tensor {
    // TODO
    todo!("vector_jacobian_product at x of shape {:?}", x.size())
}

/// The Jacobian of `f` at `x`, of shape `f(x).size() ++ x.size()`, row by row: call `f` once,
/// then one vector-Jacobian product per element of the output, with a one-hot `v`, keeping the
/// graph between them.
///
/// PyTorch: `torch.autograd.functional.jacobian(f, x)`, or by hand:
/// ```python
/// x = x.detach().requires_grad_(True)
/// y = f(x).reshape(-1)
/// rows = [torch.autograd.grad(y, x, grad_outputs=e, retain_graph=True)[0].reshape(-1)
///         for e in torch.eye(y.numel())]
/// torch.stack(rows).reshape(f(x).shape + x.shape)
/// ```
pub fn jacobian_by_rows(f: TensorFn, x: &Tensor) -> Tensor {
    // TODO
    todo!("jacobian_by_rows at x of shape {:?}", x.size())
}

/// The same Jacobian with one batched call of `f` and one backward pass: with `m` outputs, run
/// `f` on `m` copies of `x` stacked as a batch `[m, ...x.shape]` (`x.unsqueeze(0).expand(..)`,
/// then `.copy()` so that the batch is a tensor of its own), reshape the result to `[m, m]`,
/// and backward once from `(ys * eye(m)).sum()`. (A call of `f` on `x` alone, without a graph,
/// to learn the output's shape, is fine.)
///
/// PyTorch:
/// ```python
/// m = f(x).numel()
/// xs = x.detach().expand(m, *x.shape).clone().requires_grad_(True)
/// ys = f(xs).reshape(m, m)
/// grads, = torch.autograd.grad(ys, xs, grad_outputs=torch.eye(m))
/// grads.reshape(f(x).shape + x.shape)
/// ```
pub fn jacobian_batched(f: TensorFn, x: &Tensor) -> Tensor {
    // TODO
    todo!("jacobian_batched at x of shape {:?}", x.size())
}

fn main() {
    let x = Tensor::from_slice(&[1.0f64, 2.0, 3.0]);
    let softmax = |t: &Tensor| t.softmax(-1, t.kind());
    let s = softmax(&x);
    println!("by rows:\n{}", jacobian_by_rows(&softmax, &x));
    println!("batched:\n{}", jacobian_batched(&softmax, &x));
    println!("diag(s) - s s^T:\n{}", s.diag(0) - s.outer(&s));
    // A linear map x -> A x has the Jacobian A.
    let a = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]).reshape([2, 3]);
    let linear = |t: &Tensor| t.matmul(&a.tr());
    println!("Jacobian of x -> A x:\n{}", jacobian_by_rows(&linear, &x));
    let v = Tensor::ones([2], (Kind::Double, Device::Cpu));
    println!("ones^T A: {}", vector_jacobian_product(&linear, &x, &v));
}
