// Exercise 04_complex_gradients/elementwise_derivatives: second (and higher) derivatives, by
// differentiating a derivative.
//
// Autograd's backward is itself made of tensor operations. Normally they are not recorded: the
// gradient it returns is a plain tensor. With create_graph = true they are, so the gradient is a
// function of x with a graph of its own, and backward from it gives the second derivative. In
// PyTorch:
//
//     g, = torch.autograd.grad(y.sum(), x, create_graph=True)   # f'(x), with a graph
//     h, = torch.autograd.grad(g.sum(), x)                       # f''(x)
//
// In tch, torch.autograd.grad is `Tensor::run_backward(&[root], &[inputs], keep_graph,
// create_graph)`: it returns the gradients of the root with respect to the inputs (it
// accumulates nothing into `.grad()`). Pass keep_graph = true with create_graph = true, as
// PyTorch does. For an elementwise f (each y[i] depends only on x[i]) the gradient of y.sum() is
// f' at every element at once.
//
// Two things to handle:
// - A derivative can stop depending on x: the second derivative of x^2 is the constant 2, and
//   it has no graph (`requires_grad()` is false). Every later derivative is 0. Do not call
//   run_backward on it: PyTorch raises "element 0 of tensors does not require grad", but tch
//   crashes the whole process with a segmentation fault. Test `requires_grad()` first.
// - run_backward returns an undefined tensor (`!g.defined()`) for an input the graph does not
//   reach: that gradient is 0 too.

use tch::{Device, Kind, Tensor};

/// `[f'(x), f''(x), ..., f^(order)(x)]`: the first `order` derivatives of the elementwise
/// function `f` at every element of `x`, each of `x`'s shape and kind, none requiring grad.
/// `order` 0 gives an empty list. `x` is left as it was (do not set requires_grad on it: make a
/// leaf of your own with `x.detach().set_requires_grad(true)`).
///
/// PyTorch:
/// ```python
/// x = x.detach().requires_grad_(True)
/// current, result = f(x), []
/// for _ in range(order):
///     if not current.requires_grad:               # a constant: the rest are 0
///         current = torch.zeros_like(x)
///     else:
///         current, = torch.autograd.grad(current.sum(), x, create_graph=True)
///     result.append(current.detach())
/// ```
pub fn derivatives(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor, order: usize) -> Vec<Tensor> {
    // TODO
    todo!("derivatives up to order {order} of shape {:?}", x.size())
}

fn main() {
    let x = Tensor::from_slice(&[0.0f64, 0.5, 1.0, 2.0]);
    let x3_sin = |t: &Tensor| t.pow_tensor_scalar(3) * t.sin();
    for (k, d) in derivatives(&x3_sin, &x, 3).iter().enumerate() {
        println!("derivative {} of x^3 sin(x): {d}", k + 1);
    }
    // [2x, 2, 0, 0]: from the third derivative on, there is no graph left.
    let square = |t: &Tensor| t.square();
    let x = Tensor::full([2], 1.5, (Kind::Double, Device::Cpu));
    for d in derivatives(&square, &x, 4) {
        d.print();
    }
}
