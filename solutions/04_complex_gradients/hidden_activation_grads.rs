// Reference solution of 04_complex_gradients/hidden_activation_grads.

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

/// `(dL/dh, dL/da)` by retain_grad, from one `loss.backward()`.
pub fn hidden_grads_retain(net: &TwoLayerNet, x: &Tensor, target: &Tensor) -> (Tensor, Tensor) {
    let h = net.pre_activation(x);
    let a = h.tanh();
    // Before backward: backward decides then which gradients to keep.
    retain_grad(&h);
    retain_grad(&a);
    net.loss_from_activation(&a, target).backward();
    (h.grad(), a.grad())
}

/// `(dL/dh, dL/da)` by making each intermediate the input of the rest of the graph.
pub fn hidden_grads_by_cut(net: &TwoLayerNet, x: &Tensor, target: &Tensor) -> (Tensor, Tensor) {
    // h as a leaf of its own: the graph below it (x, w1, b1) is cut off.
    let h = net.pre_activation(x).detach().set_requires_grad(true);
    let a = h.tanh();
    // And a second cut at a: the head of the network starts from this leaf.
    let a_cut = a.detach().set_requires_grad(true);
    let loss = net.loss_from_activation(&a_cut, target);
    let grad_a = Tensor::run_backward(&[&loss], &[&a_cut], false, false).remove(0);
    // Across the cut by hand: backward from sum(a * grad_a) hands grad_a to a's backward (the
    // vector-Jacobian product grad_a^T da/dh), as a.backward(gradient=grad_a) would.
    let grad_h = Tensor::run_backward(&[(&a * &grad_a).sum(a.kind())], &[&h], false, false).remove(0);
    (grad_h, grad_a)
}

/// `(dL/dw1, dL/db1)` from `dL/dh`, without the rest of the network and without touching the
/// parameters' `grad()`.
pub fn first_layer_grads(net: &TwoLayerNet, x: &Tensor, grad_h: &Tensor) -> (Tensor, Tensor) {
    let h = net.pre_activation(x);
    // run_backward with inputs returns the gradients (torch.autograd.grad) and accumulates
    // nothing into w1.grad() or b1.grad().
    let mut grads =
        Tensor::run_backward(&[(h * grad_h).sum(grad_h.kind())], &[&net.w1, &net.b1], false, false);
    let grad_b1 = grads.remove(1);
    (grads.remove(0), grad_b1)
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
