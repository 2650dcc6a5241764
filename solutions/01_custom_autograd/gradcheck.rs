// Reference solution of 01_custom_autograd/gradcheck.

use tch::{Kind, Tensor};

/// A differentiable function of several tensors, returning one tensor.
pub type Func<'a> = &'a dyn Fn(&[Tensor]) -> Tensor;

/// The Jacobians of `f` at `inputs` by central differences with step `eps`: one matrix per
/// input, of shape `[f(inputs).numel(), inputs[i].numel()]`, whose column `j` is
/// `(f(.., x_i + eps e_j, ..) - f(.., x_i - eps e_j, ..)).reshape([-1]) / (2 eps)`.
///
/// Work on copies (`x.detach().copy()`): the caller's tensors must come back exactly as they
/// were (adding and then subtracting eps does not restore a float exactly).
///
/// PyTorch: `torch.autograd.functional.jacobian` with finite differences, one input at a time.
pub fn numerical_jacobians(f: Func, inputs: &[Tensor], eps: f64) -> Vec<Tensor> {
    // Copies: nudging the caller's tensors in place would leave rounding behind.
    let base: Vec<Tensor> = inputs.iter().map(|x| x.detach().copy()).collect();
    // No graph is needed to evaluate f here.
    tch::no_grad(|| {
        (0..base.len())
            .map(|i| {
                let x = &base[i];
                let n = x.numel() as i64;
                // Row j of this is eps at element j, in x's shape: the nudge of element j.
                let nudges = Tensor::eye(n, (x.kind(), x.device())) * eps;
                let columns: Vec<Tensor> = (0..n)
                    .map(|j| {
                        let nudge = nudges.get(j).reshape(x.size());
                        let with = |shifted: Tensor| {
                            let mut args: Vec<Tensor> = base.iter().map(Tensor::shallow_clone).collect();
                            args[i] = shifted;
                            f(&args).reshape([-1])
                        };
                        (with(x + &nudge) - with(x - &nudge)) / (2.0 * eps)
                    })
                    .collect();
                Tensor::stack(&columns, 1)
            })
            .collect()
    })
}

/// The Jacobians of `f` at `inputs` from its backward: one matrix per input, of the same shapes
/// as `numerical_jacobians`. Row `o` holds the gradients of output element `o` with respect to
/// every input, from one backward pass.
///
/// PyTorch:
/// ```python
/// leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
/// out = f(leaves).reshape(-1)
/// rows = [torch.autograd.grad(out[o], leaves, retain_graph=True) for o in range(out.numel())]
/// ```
/// tch: `Tensor::run_backward(&[out.get(o)], &leaves, true, false)` is `torch.autograd.grad`
/// with `retain_graph=True` (keep_graph), so the graph survives for the next row.
pub fn analytical_jacobians(f: Func, inputs: &[Tensor]) -> Vec<Tensor> {
    let leaves: Vec<Tensor> = inputs.iter().map(|x| x.detach().copy().set_requires_grad(true)).collect();
    let out = f(&leaves).reshape([-1]);
    let mut rows: Vec<Vec<Tensor>> = leaves.iter().map(|_| Vec::new()).collect();
    for o in 0..out.size()[0] {
        // Backward from out[o] alone seeds a one-hot incoming gradient: this is row o. The
        // graph is kept for the next row.
        let grads = Tensor::run_backward(&[out.get(o)], &leaves, true, false);
        for (row, grad) in rows.iter_mut().zip(grads) {
            row.push(grad.reshape([-1]));
        }
    }
    rows.iter()
        .zip(&leaves)
        .map(|(row, x)| {
            if row.is_empty() {
                Tensor::zeros([0, x.numel() as i64], (Kind::Double, x.device()))
            } else {
                Tensor::stack(row, 0)
            }
        })
        .collect()
}

/// `Ok(())` when every entry of the analytical Jacobians is within `atol + rtol * |numerical|`
/// of the numerical one, for every input. Otherwise `Err` with a message that starts with
/// `"input {i}"` and names the entry and both values, e.g.
/// `"input 1, output element 2, input element 0: analytical 0.5, numerical 0.25"`.
///
/// PyTorch: `torch.autograd.gradcheck(f, inputs, eps=eps, atol=atol, rtol=rtol)`.
pub fn gradcheck(f: Func, inputs: &[Tensor], eps: f64, atol: f64, rtol: f64) -> Result<(), String> {
    let numerical = numerical_jacobians(f, inputs, eps);
    let analytical = analytical_jacobians(f, inputs);
    for (i, (a, n)) in analytical.iter().zip(&numerical).enumerate() {
        // Every entry, not a summary: one wrong element must fail.
        let bad = (a - n).abs().gt_tensor(&(n.abs() * rtol + atol));
        let offending = bad.nonzero();
        if offending.size()[0] > 0 {
            let (o, j) = (offending.int64_value(&[0, 0]), offending.int64_value(&[0, 1]));
            return Err(format!(
                "input {i}, output element {o}, input element {j}: analytical {}, numerical {}",
                a.double_value(&[o, j]),
                n.double_value(&[o, j])
            ));
        }
    }
    Ok(())
}

fn main() {
    let x = Tensor::from_slice(&[0.5f64, -1.0, 2.0]);
    let softplus = |xs: &[Tensor]| xs[0].softplus();
    println!("numerical: {}", numerical_jacobians(&softplus, &[x.shallow_clone()], 1e-6)[0]);
    println!("analytical: {}", analytical_jacobians(&softplus, &[x.shallow_clone()])[0]);
    println!("gradcheck: {:?}", gradcheck(&softplus, &[x], 1e-6, 1e-5, 1e-3));
}
