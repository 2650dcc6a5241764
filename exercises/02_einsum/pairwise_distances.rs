// Exercise 02_einsum/pairwise_distances: broadcasting instead of a double loop, and what it costs.
//
// The distance from every point of x ([n, d]) to every point of y ([m, d]) is a double loop in
// most languages. With broadcasting it is one expression: x.unsqueeze(1) is [n, 1, d],
// y.unsqueeze(0) is [1, m, d], and their difference is [n, m, d], with diff[i][j] = x[i] - y[j].
// A norm over the last dimension leaves [n, m]. No einsum needed.
//
// That difference holds n * m * d numbers: for 20,000 points of 512 features each, 800 GB in
// float32, for a result of 1.6 GB. Expanding the square avoids it:
//
//     |x_i - y_j|^2 = |x_i|^2 + |y_j|^2 - 2 x_i . y_j
//
// The last term, for every pair at once, is one matrix product (einsum "id,jd->ij", or
// x @ y.T), and the squared norms broadcast: a column [n, 1] plus a row [1, m]. Nothing bigger
// than [n, m] is ever made. torch.cdist does this itself on inputs of more than 25 points.
//
// It is not free:
// - For two identical points the three terms cancel to 0 in exact arithmetic, but in float32
//   they leave a tiny number of either sign, and the square root of a negative number is NaN.
//   Clamp at 0 before the square root.
// - It is less accurate: the rounding error of the squared distance is about float32's epsilon
//   times (|x_i| + |y_j|)^2, whatever the distance. Points close to each other and far from the
//   origin lose most of their digits (center the data first when that matters); the direct
//   version keeps them.
//
// The checks read your code: do not call cdist, which is what your results are compared with.
//
// Speed (`tensorlings profile pairwise_distances`): the direct version is many times slower
// than torch.cdist (46x at n = 1024 on one CPU thread, BENCHMARKS.md) and its peak is
// n x m x d floats, 128 MiB for 1024 points of 32 features: that is the price of its accuracy,
// and the reason the fast version exists. The fast one uses cdist's own expansion for large
// inputs and still trails it (1.2x to 3.4x in our runs at n = 2048): each step (the sum, the
// product, the clamp, the square root) makes an [n, m] tensor of its own, a peak of three of
// them where cdist holds one.

use tch::{Device, Kind, Tensor};

/// The Euclidean distance from every point of `x` (shape `[n, d]`) to every point of `y` (shape
/// `[m, d]`): the `[n, m]` tensor with `result[i][j] = |x[i] - y[j]|`, the square root of the sum
/// over the features of the squared differences. By broadcasting: no loop, no einsum.
///
/// PyTorch:
/// ```python
/// diff = x[:, None, :] - y[None, :, :]   # [n, m, d]
/// torch.linalg.norm(diff, dim=-1)        # [n, m]
/// ```
pub fn pairwise_distances(x: &Tensor, y: &Tensor) -> Tensor {
    // TODO: the [n, m, d] differences, then a norm over the features (the last dimension).
    todo!("pairwise_distances of shapes {:?} and {:?}", x.size(), y.size())
}

/// The same distances through `|x - y|^2 = |x|^2 + |y|^2 - 2 x . y`, without the `[n, m, d]`
/// difference: the squared norms of the rows of `x` as a column (`[n, 1]`), those of the rows of
/// `y` as a row (`[1, m]`), and every dot product at once (`[n, m]`, one einsum or one matrix
/// product). Clamp the squared distances at 0 before the square root: rounding makes them
/// slightly negative for identical points, and the square root would be NaN.
///
/// PyTorch:
/// ```python
/// x2 = (x * x).sum(-1, keepdim=True)     # [n, 1]
/// y2 = (y * y).sum(-1)[None, :]          # [1, m]
/// xy = torch.einsum("id,jd->ij", x, y)   # [n, m], the same as x @ y.T
/// (x2 + y2 - 2 * xy).clamp_min(0).sqrt()
/// ```
pub fn pairwise_distances_fast(x: &Tensor, y: &Tensor) -> Tensor {
    // TODO
    todo!("pairwise_distances_fast of shapes {:?} and {:?}", x.size(), y.size())
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
