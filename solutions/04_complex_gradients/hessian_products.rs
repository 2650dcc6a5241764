// Reference solution of 04_complex_gradients/hessian_products.

use tch::{Device, Kind, Tensor};

/// A scalar function of a tensor.
pub type ScalarFn<'a> = &'a dyn Fn(&Tensor) -> Tensor;

/// The gradient of `f` at `leaf` with its own graph, or `None` when it has none (f is constant
/// or linear in x: every second derivative is 0).
fn gradient_with_graph(f: ScalarFn, leaf: &Tensor) -> Option<Tensor> {
    let y = f(leaf);
    // run_backward from a root without grad would crash the process.
    if !y.requires_grad() {
        return None;
    }
    let grad = Tensor::run_backward(&[&y], &[leaf], true, true).remove(0);
    (grad.defined() && grad.requires_grad()).then_some(grad)
}

/// `H v`, the Hessian of `f` at `x` times `v`, with two backward passes and no Hessian.
pub fn hessian_vector_product(f: ScalarFn, x: &Tensor, v: &Tensor) -> Tensor {
    let leaf = x.detach().set_requires_grad(true);
    let Some(grad) = gradient_with_graph(f, &leaf) else { return x.zeros_like() };
    // d/dx (grad . v) = H v (H is symmetric); v is a constant here.
    let hv = Tensor::run_backward(&[(grad * v).sum(x.kind())], &[&leaf], false, false).remove(0);
    if hv.defined() { hv } else { x.zeros_like() }
}

/// The Hessian of `f` at `x`, of shape `x.size() ++ x.size()`.
pub fn hessian(f: ScalarFn, x: &Tensor) -> Tensor {
    let shape: Vec<i64> = x.size().iter().chain(x.size().iter()).copied().collect();
    let n = x.numel() as i64;
    let leaf = x.detach().set_requires_grad(true);
    let Some(grad) = gradient_with_graph(f, &leaf) else {
        return Tensor::zeros(&shape, (x.kind(), x.device()));
    };
    let grad = grad.reshape([-1]);
    // Row i is the gradient of grad[i]: one backward pass per row, through the same graph
    // (keep_graph), none of them needing a graph of its own.
    let rows: Vec<Tensor> = (0..n)
        .map(|i| {
            let row = Tensor::run_backward(&[grad.get(i)], &[&leaf], true, false).remove(0);
            if row.defined() { row.reshape([-1]) } else { Tensor::zeros([n], (x.kind(), x.device())) }
        })
        .collect();
    if rows.is_empty() {
        return Tensor::zeros(&shape, (x.kind(), x.device()));
    }
    Tensor::stack(&rows, 0).reshape(&shape)
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
