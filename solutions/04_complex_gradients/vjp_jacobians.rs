// Reference solution of 04_complex_gradients/vjp_jacobians.

use tch::{Device, Kind, Tensor};

/// A function of a tensor. For `jacobian_batched` it must also take a batch: `f(xs)` for `xs`
/// of shape `[k, ...x.shape]` is `[k, ...f(x).shape]`, entry by entry.
pub type TensorFn<'a> = &'a dyn Fn(&Tensor) -> Tensor;

/// `shape_a ++ shape_b`.
fn concat(a: &[i64], b: &[i64]) -> Vec<i64> {
    a.iter().chain(b).copied().collect()
}

/// `v^T J`: the gradient of `(f(x) * v).sum()` with respect to `x`, of `x`'s shape.
pub fn vector_jacobian_product(f: TensorFn, x: &Tensor, v: &Tensor) -> Tensor {
    let leaf = x.detach().set_requires_grad(true);
    let y = f(&leaf);
    // A y without a graph does not depend on x: v^T J = 0 (and run_backward would crash).
    if !y.requires_grad() {
        return x.zeros_like();
    }
    let vjp = Tensor::run_backward(&[(y * v).sum(x.kind())], &[&leaf], false, false).remove(0);
    if vjp.defined() { vjp } else { x.zeros_like() }
}

/// The Jacobian of `f` at `x`, shape `f(x).size() ++ x.size()`: one forward pass, and one
/// vector-Jacobian product per output element, with a one-hot `v`.
pub fn jacobian_by_rows(f: TensorFn, x: &Tensor) -> Tensor {
    let leaf = x.detach().set_requires_grad(true);
    let y = f(&leaf);
    let shape = concat(&y.size(), &x.size());
    let (m, n) = (y.numel() as i64, x.numel() as i64);
    let zeros = || Tensor::zeros(&shape, (x.kind(), x.device()));
    if !y.requires_grad() || m == 0 {
        return zeros();
    }
    let y = y.reshape([-1]);
    let one_hot = Tensor::eye(m, (y.kind(), y.device()));
    let rows: Vec<Tensor> = (0..m)
        .map(|i| {
            // Row i = e_i^T J; keep the graph for the next row.
            let row =
                Tensor::run_backward(&[(&y * one_hot.get(i)).sum(y.kind())], &[&leaf], true, false).remove(0);
            if row.defined() { row.reshape([n]) } else { Tensor::zeros([n], (x.kind(), x.device())) }
        })
        .collect();
    Tensor::stack(&rows, 0).reshape(&shape)
}

/// The same Jacobian from one batched forward pass and one backward pass: `m` copies of `x` (m
/// = the number of outputs) go through `f` as a batch, and copy `k` gets the one-hot vector
/// `e_k`, so its gradient is row `k`.
pub fn jacobian_batched(f: TensorFn, x: &Tensor) -> Tensor {
    // The output's shape, from one evaluation without a graph.
    let out_shape = tch::no_grad(|| f(x)).size();
    let shape = concat(&out_shape, &x.size());
    let m: i64 = out_shape.iter().product();
    let zeros = || Tensor::zeros(&shape, (x.kind(), x.device()));
    if m == 0 {
        return zeros();
    }
    // [m, ...x.shape]: copy k of x is batch entry k. copy() makes it a tensor of its own.
    let copies =
        x.detach().unsqueeze(0).expand(concat(&[m], &x.size()), false).copy().set_requires_grad(true);
    let ys = f(&copies).reshape([m, m]);
    if !ys.requires_grad() {
        return zeros();
    }
    // Entry k of the batch gets e_k: the sum of ys * I is the sum of ys[k, k].
    let eye = Tensor::eye(m, (ys.kind(), ys.device()));
    let grads = Tensor::run_backward(&[(ys * eye).sum(x.kind())], &[&copies], false, false).remove(0);
    if grads.defined() { grads.reshape(&shape) } else { zeros() }
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
