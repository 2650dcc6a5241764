// Reference solution of 02_einsum/pairwise_distances.

use tch::{Device, Kind, Tensor};

/// Every distance `|x[i] - y[j]|`, by broadcasting.
pub fn pairwise_distances(x: &Tensor, y: &Tensor) -> Tensor {
    // [n, 1, d] - [1, m, d] = [n, m, d]; the 2-norm over d (torch.norm(diff, p=2, dim=-1))
    // leaves [n, m]. Subtracting first keeps every digit of the differences.
    (x.unsqueeze(1) - y.unsqueeze(0)).norm_scalaropt_dim(2.0, [-1], false)
}

/// Every distance, through `|x|^2 + |y|^2 - 2 x . y`: nothing larger than `[n, m]`.
pub fn pairwise_distances_fast(x: &Tensor, y: &Tensor) -> Tensor {
    // keepdim leaves the squared norms of x as a column [n, 1]; those of y become a row [1, m].
    let x2 = x.square().sum_dim_intlist(-1, true, None::<Kind>);
    let y2 = y.square().sum_dim_intlist(-1, false, None::<Kind>).unsqueeze(0);
    // Every dot product x[i] . y[j] at once: d is shared and summed.
    let xy = Tensor::einsum("id,jd->ij", &[x, y], None::<i64>);
    // Rounding leaves tiny negative values where the points coincide: clamp before sqrt.
    (x2 + y2 - xy * 2.0).clamp_min(0.0).sqrt()
}

fn main() {
    // The corners (0, 0), (3, 0) and (0, 4) of a right triangle, and the origin.
    let x = Tensor::from_slice(&[0.0f32, 0.0, 3.0, 0.0, 0.0, 4.0]).reshape([3, 2]);
    let origin = Tensor::zeros([1, 2], (Kind::Float, Device::Cpu));
    // [[0, 3, 4], [3, 0, 5], [4, 5, 0]]
    pairwise_distances(&x, &x).print();
    pairwise_distances_fast(&x, &x).print();
    // [[0], [3], [4]]
    pairwise_distances(&x, &origin).print();
}
