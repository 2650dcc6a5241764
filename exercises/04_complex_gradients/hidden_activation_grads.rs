// Exercise 04_complex_gradients/hidden_activation_grads: the gradient of the loss with respect to
// a hidden activation, which autograd computes and then throws away.
//
// `loss.backward()` fills `grad()` only for leaves (the parameters). The gradient with respect to
// a hidden activation is computed on the way, since backpropagation passes through it, but it is
// not kept. To see it (to inspect vanishing gradients, for saliency maps, to pass it between two
// halves of a model) there are two ways:
//
// 1. retain_grad: mark the intermediate BEFORE backward, and backward keeps its gradient in
//    `grad()`. PyTorch's `h.retain_grad()`; tch has none, `tensorlings_support::autograd::
//    retain_grad(&h)` does it.
// 2. Make the intermediate an input: cut the graph there with `h.detach().set_requires_grad(true)`,
//    run the rest of the network from that new leaf, and ask for the gradient with respect to it
//    (`Tensor::run_backward(&[&loss], &[&leaf], false, false)`, PyTorch's torch.autograd.grad).
//    Below the cut, nothing gets a gradient any more: to go on, hand the cut's gradient `g` to
//    the lower part yourself. That is a vector-Jacobian product, `h.backward(gradient=g)` in
//    PyTorch. tch's run_backward has no `gradient` (grad_outputs) argument: it always starts
//    from ones. Backward from `(h * g).sum()` does the same thing, because the gradient of
//    sum(h * g) with respect to anything below h is g^T dh/d(that).
//    This is how pipeline parallelism passes gradients between stages.
//
// The network: h = x @ w1 + b1, a = tanh(h), out = a @ w2 + b2, loss = mean((out - target)^2).
// Its forward is written for you (`pre_activation` and `loss_from_activation`): use it.

use tch::{Device, Kind, Tensor};
use tensorlings_support::autograd::retain_grad;

/// A two-layer network: `h = x @ w1 + b1`, `a = tanh(h)`, `out = a @ w2 + b2`, and the loss
/// `mean((out - target)^2)`. The parameters are leaves that require grad.
pub struct TwoLayerNet {
    pub w1: Tensor,
    pub b1: Tensor,
    pub w2: Tensor,
    pub b2: Tensor,
}

impl TwoLayerNet {
    /// The hidden pre-activation `h = x @ w1 + b1`, `[batch, hidden]`.
    pub fn pre_activation(&self, x: &Tensor) -> Tensor {
        x.matmul(&self.w1) + &self.b1
    }

    /// The rest of the network from the hidden activation `a = tanh(h)`: the loss
    /// `mean((a @ w2 + b2 - target)^2)`, a scalar.
    pub fn loss_from_activation(&self, a: &Tensor, target: &Tensor) -> Tensor {
        (a.matmul(&self.w2) + &self.b2 - target).square().mean(a.kind())
    }
}

/// `(dL/dh, dL/da)`: the gradients of the loss with respect to the pre-activation `h` and the
/// activation `a = tanh(h)`, in that order, by retain_grad. Do what a training step does, one
/// `loss.backward()`: the parameters' gradients are filled too (the checks look).
///
/// PyTorch:
/// ```python
/// h = net.pre_activation(x); a = h.tanh()
/// h.retain_grad(); a.retain_grad()
/// net.loss_from_activation(a, target).backward()
/// return h.grad, a.grad
/// ```
pub fn hidden_grads_retain(net: &TwoLayerNet, x: &Tensor, target: &Tensor) -> (Tensor, Tensor) {
    // TODO: retain_grad(&h) and retain_grad(&a), then backward.
    todo!("hidden_grads_retain with x of shape {:?}", x.size())
}

/// The same `(dL/dh, dL/da)`, without retain_grad: cut the graph at `h` (a leaf of your own),
/// compute `a = tanh(h)` from it, cut again at `a`, and compute the loss from that second leaf.
/// The loss's gradient with respect to the second leaf is `dL/da`; backward from
/// `(a * dL/da).sum()` to the first leaf gives `dL/dh`. Leave the parameters' `grad()` alone.
///
/// PyTorch:
/// ```python
/// h = net.pre_activation(x).detach().requires_grad_(True)
/// a = h.tanh()
/// a_cut = a.detach().requires_grad_(True)
/// grad_a, = torch.autograd.grad(net.loss_from_activation(a_cut, target), a_cut)
/// grad_h, = torch.autograd.grad(a, h, grad_outputs=grad_a)   # = grad((a * grad_a).sum(), h)
/// return grad_h, grad_a
/// ```
pub fn hidden_grads_by_cut(net: &TwoLayerNet, x: &Tensor, target: &Tensor) -> (Tensor, Tensor) {
    // TODO
    todo!("hidden_grads_by_cut with x of shape {:?}", x.size())
}

/// `(dL/dw1, dL/db1)` from `grad_h = dL/dh`: the backward of the first layer alone, given the
/// gradient that arrives at its output. Return the gradients; do not accumulate them into
/// `net.w1.grad()` (this may be called many times on the same net).
///
/// PyTorch:
/// ```python
/// h = net.pre_activation(x)
/// return torch.autograd.grad(h, [net.w1, net.b1], grad_outputs=grad_h)
/// ```
pub fn first_layer_grads(net: &TwoLayerNet, x: &Tensor, grad_h: &Tensor) -> (Tensor, Tensor) {
    // TODO: run_backward from (h * grad_h).sum() with inputs [w1, b1].
    todo!("first_layer_grads with x of shape {:?}", x.size())
}

fn main() {
    let options = (Kind::Double, Device::Cpu);
    let leaf = |t: Tensor| t.set_requires_grad(true);
    let net = TwoLayerNet {
        w1: leaf(Tensor::randn([3, 4], options)),
        b1: leaf(Tensor::zeros([4], options)),
        w2: leaf(Tensor::randn([4, 2], options)),
        b2: leaf(Tensor::zeros([2], options)),
    };
    let x = Tensor::randn([5, 3], options);
    let target = Tensor::randn([5, 2], options);
    let (grad_h, grad_a) = hidden_grads_retain(&net, &x, &target);
    let (cut_h, cut_a) = hidden_grads_by_cut(&net, &x, &target);
    println!("dL/dh by retain_grad:\n{grad_h}\nby a cut:\n{cut_h}");
    println!("dL/da by retain_grad:\n{grad_a}\nby a cut:\n{cut_a}");
    let (grad_w1, _) = first_layer_grads(&net, &x, &grad_h);
    println!("dL/dw1 through the cut:\n{grad_w1}\nby backward():\n{}", net.w1.grad());
}
