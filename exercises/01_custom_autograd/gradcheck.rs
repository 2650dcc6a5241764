// Exercise 01_custom_autograd/gradcheck: testing a backward you wrote.
//
// A custom backward is a claim: "this is the derivative of my forward". Nothing in autograd
// checks it; a wrong backward trains a model slowly, or not at all, without an error. PyTorch's
// answer is torch.autograd.gradcheck, which you now write yourself:
//
// - The numerical Jacobian, by central differences: nudge one input element by +eps and -eps,
//   and (f(x + eps) - f(x - eps)) / (2 eps) is that element's column of the Jacobian. Its error
//   is O(eps^2) from the formula plus O(machine epsilon / eps) from rounding, which is why it is
//   done in float64 (1e-16) and not float32 (1e-7, where eps = 1e-6 would leave no digits).
// - The analytical Jacobian, from the backward under test: one backward pass per output
//   element, each seeded with a one-hot incoming gradient, gives one row.
// - Compare every entry: |analytical - numerical| <= atol + rtol * |numerical|.
//
// The full Jacobian matters. Comparing only the gradient of out.sum() (one backward with an
// incoming gradient of ones) misses a backward that ignores its incoming gradient, the most
// common mistake in custom functions; comparing a mean misses a mistake in one element.
//
// Shapes: a function's inputs and output may have any shape; the Jacobian of output `out` with
// respect to input `x` is a matrix [out.numel(), x.numel()], elements taken in row-major order
// (`.reshape([-1])`). The checks call your functions on float64 inputs, and on functions whose
// backward they wrote, some right and some subtly wrong.

use tch::Tensor;

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
    // TODO
    todo!("numerical_jacobians of {} inputs with eps {eps}", inputs.len())
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
    // TODO
    todo!("analytical_jacobians of {} inputs", inputs.len())
}

/// `Ok(())` when every entry of the analytical Jacobians is within `atol + rtol * |numerical|`
/// of the numerical one, for every input. Otherwise `Err` with a message that starts with
/// `"input {i}"` and names the entry and both values, e.g.
/// `"input 1, output element 2, input element 0: analytical 0.5, numerical 0.25"`.
///
/// PyTorch: `torch.autograd.gradcheck(f, inputs, eps=eps, atol=atol, rtol=rtol)`.
pub fn gradcheck(f: Func, inputs: &[Tensor], eps: f64, atol: f64, rtol: f64) -> Result<(), String> {
    // TODO
    todo!("gradcheck of {} inputs (eps {eps}, atol {atol}, rtol {rtol})", inputs.len())
}

fn main() {
    let x = Tensor::from_slice(&[0.5f64, -1.0, 2.0]);
    let softplus = |xs: &[Tensor]| xs[0].softplus();
    println!("numerical: {}", numerical_jacobians(&softplus, &[x.shallow_clone()], 1e-6)[0]);
    println!("analytical: {}", analytical_jacobians(&softplus, &[x.shallow_clone()])[0]);
    println!("gradcheck: {:?}", gradcheck(&softplus, &[x], 1e-6, 1e-5, 1e-3));
}
