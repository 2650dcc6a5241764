// Reference solution of 05_linalg/tensor_contractions.

use tch::{Device, Kind, Tensor};

/// `x[s]^T a y[s]` for every row `s` of `x` (`[batch, n]`) and of `y` (`[batch, m]`), with
/// `a` of shape `[n, m]`: a tensor of shape `[batch]`.
pub fn bilinear_forms(x: &Tensor, a: &Tensor, y: &Tensor) -> Tensor {
    // i and j are summed, s pairs x[s] with y[s]: three operands in one contraction, and no
    // [batch, batch] matrix of every x[s] against every y[t].
    Tensor::einsum("si,ij,sj->s", &[x, a, y], None::<i64>)
}

/// The mode-`mode` product of `t` with `m` (`[r, t.size()[mode]]`): dimension `mode` of `t`
/// becomes one of size `r`, the others stay where they are.
pub fn mode_product(t: &Tensor, m: &Tensor, mode: i64) -> Tensor {
    // tensordot sums t's dimension `mode` against m's dimension 1 (its columns) and puts what is
    // left of t first, then what is left of m (r): the new dimension is last. Move it back.
    t.tensordot(m, [mode], [1]).movedim([-1], [mode])
}

/// The Tucker reconstruction `core x_0 a x_1 b x_2 c` of a core `[p, q, r]` with factor
/// matrices `a` (`[i, p]`), `b` (`[j, q]`) and `c` (`[k, r]`): a tensor `[i, j, k]`.
pub fn tucker_reconstruct(core: &Tensor, a: &Tensor, b: &Tensor, c: &Tensor) -> Tensor {
    // result[i, j, k] = sum over p, q, r of core[p, q, r] a[i, p] b[j, q] c[k, r]: one einsum
    // over three summed letters (libtorch orders the pairwise contractions).
    Tensor::einsum("pqr,ip,jq,kr->ijk", &[core, a, b, c], None::<i64>)
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
