// Exercise 05_linalg/tensor_contractions: tensordot and einsum over several axes at once.
//
// A contraction multiplies tensors entry by entry along some dimensions and sums over them.
// matmul is the contraction of one dimension of a matrix with one of another; the same idea
// covers tensors of any order:
//
// - einsum names every dimension with a letter: a letter that is missing from the output is
//   summed, a letter shared by operands pairs their entries. Three or four operands in one
//   equation are fine: "si,ij,sj->s" is x[s]^T a y[s] for every s, without ever building the
//   [batch, batch] matrix that x @ a @ y.T would be.
// - tensordot(t, m, dims_t, dims_m) sums dimensions dims_t of t against dims_m of m, pairwise,
//   and returns the remaining dimensions of t followed by the remaining dimensions of m. That
//   order is the trap: the result's dimensions are not where they were in t.
//
// The mode-n product of a 3-way tensor t ([I, J, K]) with a matrix m ([R, J] for mode 1)
// multiplies every "fibre" along dimension n by m: result[i, r, k] = sum_j t[i, j, k] m[r, j].
// It is the building block of tensor decompositions: the Tucker decomposition writes a tensor
// as a small core [P, Q, R] multiplied along each mode by a factor matrix ([I, P], [J, Q],
// [K, R]), as the SVD writes a matrix as U S V^T. Reconstructing the tensor is one einsum.
//
// Your functions are compared with plain loops over every index on small tensors, including
// transposed (non-contiguous) inputs, a batch of one, empty dimensions and float64.

use tch::{Device, Kind, Tensor};

/// `x[s]^T a y[s]` for every row `s` of `x` (`[batch, n]`) and of `y` (`[batch, m]`), with `a`
/// of shape `[n, m]`: a tensor of shape `[batch]`, `result[s] = sum_ij x[s, i] a[i, j] y[s, j]`.
///
/// PyTorch:
/// ```python
/// torch.einsum("si,ij,sj->s", x, a, y)
/// ```
pub fn bilinear_forms(x: &Tensor, a: &Tensor, y: &Tensor) -> Tensor {
    // TODO: one einsum with three operands.
    todo!("bilinear_forms of shapes {:?}, {:?}, {:?}", x.size(), a.size(), y.size())
}

/// The mode-`mode` product of `t` (any number of dimensions) with `m` (`[r, t.size()[mode]]`):
/// dimension `mode` of `t` is replaced by one of size `r`, the others stay where they are. For a
/// 3-way `t` and mode 1: `result[i, r, k] = sum_j t[i, j, k] m[r, j]`.
///
/// PyTorch:
/// ```python
/// torch.tensordot(t, m, dims=([mode], [1])).movedim(-1, mode)
/// ```
pub fn mode_product(t: &Tensor, m: &Tensor, mode: i64) -> Tensor {
    // TODO: tensordot (dims as arrays: [mode] and [1]), then put the new dimension back at `mode`.
    todo!("mode_product of shapes {:?} and {:?} along {mode}", t.size(), m.size())
}

/// The Tucker reconstruction of a core `[p, q, r]` with factor matrices `a` (`[i, p]`), `b`
/// (`[j, q]`) and `c` (`[k, r]`): the tensor `[i, j, k]` with
/// `result[i, j, k] = sum_pqr core[p, q, r] a[i, p] b[j, q] c[k, r]`.
///
/// PyTorch:
/// ```python
/// torch.einsum("pqr,ip,jq,kr->ijk", core, a, b, c)
/// ```
pub fn tucker_reconstruct(core: &Tensor, a: &Tensor, b: &Tensor, c: &Tensor) -> Tensor {
    // TODO: one einsum with four operands (or three mode products).
    todo!("tucker_reconstruct of {:?} with {:?}, {:?}, {:?}", core.size(), a.size(), b.size(), c.size())
}

fn main() {
    let x = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0]).reshape([2, 2]);
    let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]);
    // x[0] = e0 and x[1] = e1 against y = the same rows: the diagonal of a, [1, 4].
    bilinear_forms(&x, &a, &x).print();
    let t = Tensor::arange(24, (Kind::Float, Device::Cpu)).reshape([2, 3, 4]);
    let m = Tensor::ones([5, 3], (Kind::Float, Device::Cpu));
    // Each of the 5 new rows sums t over its dimension 1: shape [2, 5, 4].
    println!("{:?}", mode_product(&t, &m, 1).size());
    let core = Tensor::ones([1, 1, 1], (Kind::Float, Device::Cpu));
    let (u, v, w) = (Tensor::ones([2, 1], (Kind::Float, Device::Cpu)), x.narrow(1, 0, 1), a.narrow(1, 0, 1));
    // A rank-1 tensor: u outer v outer w, shape [2, 2, 2].
    tucker_reconstruct(&core, &u, &v, &w).print();
}
