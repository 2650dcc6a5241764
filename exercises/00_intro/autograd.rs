// Exercise 00_intro/autograd: gradients in tch.
//
// Autograd in tch is PyTorch's autograd: a tensor that requires grad records the operations
// applied to it, `backward()` on a scalar result fills `grad()` of every leaf, and
// `tch::no_grad(|| ...)` runs code without recording (torch.no_grad()).
//
// Two things differ from Python and bite:
// - `x.set_requires_grad(true)` changes `x` itself, the caller's tensor too, because a tch
//   Tensor is a handle. Make a leaf of your own first: `x.detach().set_requires_grad(true)`.
// - Gradients accumulate: a leaf used in two backward passes sums both gradients, as in
//   PyTorch. A fresh leaf per call avoids that.

use tch::{Device, Kind, Tensor};

/// `f(x) = sum(x * sin(x))` and its gradient `df/dx`, computed by autograd (not by hand).
/// Returns `(f(x), df/dx)`, neither of which requires grad; `x` is left as it was.
///
/// PyTorch:
/// ```python
/// x = x.detach().requires_grad_(True)
/// y = (x * x.sin()).sum()
/// y.backward()
/// return y.detach(), x.grad
/// ```
pub fn value_and_grad(x: &Tensor) -> (Tensor, Tensor) {
    // TODO
    todo!("value_and_grad of shape {:?}", x.size())
}

/// One step of gradient descent for least squares: with `loss(w) = mean((x @ w - y)^2)`,
/// returns `w - lr * d loss / d w`, a tensor that does not require grad. `w` is left as it was.
///
/// Shapes: `x` is `[n, d]`, `w` is `[d]`, `y` is `[n]`.
///
/// PyTorch:
/// ```python
/// w = w.detach().requires_grad_(True)
/// loss = ((x @ w - y) ** 2).mean()
/// loss.backward()
/// with torch.no_grad():
///     return w - lr * w.grad
/// ```
pub fn sgd_step(w: &Tensor, x: &Tensor, y: &Tensor, lr: f64) -> Tensor {
    // TODO
    todo!("sgd_step with w of shape {:?}, x {:?}, y {:?}, lr {lr}", w.size(), x.size(), y.size())
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
