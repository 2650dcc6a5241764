// Reference solution of 04_complex_gradients/elementwise_derivatives.

use tch::{Device, Kind, Tensor};

/// `[f'(x), f''(x), ..., f^(order)(x)]` at every element of `x`, for an elementwise `f`.
pub fn derivatives(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor, order: usize) -> Vec<Tensor> {
    // A leaf of our own: the caller's x keeps its requires_grad and gets no gradient.
    let leaf = x.detach().set_requires_grad(true);
    let mut current = f(&leaf);
    let mut result = Vec::with_capacity(order);
    for _ in 0..order {
        // A derivative that no longer depends on x (the third of x^2) has no graph: the next one
        // is 0, and run_backward from it would crash the process.
        current = if current.requires_grad() {
            // The sum's gradient is each element's derivative, f being elementwise.
            // create_graph: the derivative is recorded too, so it can be differentiated again.
            let grad = Tensor::run_backward(&[current.sum(current.kind())], &[&leaf], true, true).remove(0);
            // Undefined when the graph does not reach x (the derivative is 0).
            if grad.defined() { grad } else { x.zeros_like() }
        } else {
            x.zeros_like()
        };
        // Detached: the caller gets values, not the graph that made them.
        result.push(current.detach());
    }
    result
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
