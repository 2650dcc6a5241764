// A wrong answer to 00_intro/autograd.
// Sets requires_grad on the caller's tensor instead of a leaf of its own.
// expect: the caller's x now requires grad

use tch::{Device, Kind, Tensor};

/// `f(x) = sum(x * sin(x))` and its gradient, by autograd.
pub fn value_and_grad(x: &Tensor) -> (Tensor, Tensor) {
    // A leaf of our own: the caller's tensor keeps requires_grad = false and no gradient.
    let x = x.set_requires_grad(true);
    let y = (&x * x.sin()).sum(x.kind());
    y.backward();
    (y.detach(), x.grad())
}

/// One step of gradient descent for least squares.
pub fn sgd_step(w: &Tensor, x: &Tensor, y: &Tensor, lr: f64) -> Tensor {
    let w = w.detach().set_requires_grad(true);
    let loss = (x.matmul(&w) - y).square().mean(w.kind());
    loss.backward();
    // The update itself must not be recorded: the result is a plain tensor.
    tch::no_grad(|| &w - w.grad() * lr)
}

fn main() {
    let x = Tensor::from_slice(&[0.0f64, 1.0, 2.0]);
    let (value, grad) = value_and_grad(&x);
    println!("f(x) = {}, df/dx = {grad}", value.double_value(&[]));
    let features = Tensor::randn([4, 2], (Kind::Double, Device::Cpu));
    let target = Tensor::ones([4], (Kind::Double, Device::Cpu));
    let w = Tensor::zeros([2], (Kind::Double, Device::Cpu));
    sgd_step(&w, &features, &target, 0.1).print();
}
