// Reference solution of 10_research_ops/image_warp.

use tch::Tensor;

/// The [N, 2, 3] affine matrices `scale * [[cos, -sin, 0], [sin, cos, 0]]`, one per image.
pub fn rotation_scale_theta(angle: &Tensor, scale: &Tensor) -> Tensor {
    // Built from tensor operations on angle and scale, so that their gradients flow.
    let cos = angle.cos() * scale;
    let sin = angle.sin() * scale;
    let zero = angle.zeros_like();
    let row0 = Tensor::stack(&[&cos, &(-&sin), &zero], -1);
    let row1 = Tensor::stack(&[&sin, &cos, &zero], -1);
    Tensor::stack(&[row0, row1], 1)
}

/// Each image of `images` ([N, C, H, W]) rotated by its angle and scaled by its scale, with
/// affine_grid + grid_sample (bilinear, zeros outside, align_corners false).
pub fn rotate_scale(images: &Tensor, angle: &Tensor, scale: &Tensor) -> Tensor {
    let theta = rotation_scale_theta(angle, scale).to_kind(images.kind());
    // The grid holds, for every output pixel, where to read in the input, in coordinates from -1
    // to 1; align_corners false puts -1 and 1 on the outer edges of the border pixels (PyTorch's
    // default), so the grid does not depend on the resolution.
    let grid = Tensor::affine_grid_generator(&theta, images.size(), false);
    // interpolation 0 = bilinear (differentiable in the coordinates), padding 0 = zeros.
    images.grid_sampler(&grid, 0, 0, false)
}

fn main() {
    let image = Tensor::arange(9, (tch::Kind::Float, tch::Device::Cpu)).reshape([1, 1, 3, 3]);
    let quarter = Tensor::from_slice(&[std::f32::consts::FRAC_PI_2]);
    // A quarter turn is exact: the same as rot90.
    rotate_scale(&image, &quarter, &Tensor::from_slice(&[1.0f32])).print();
    image.rot90(1, [2, 3]).print();
}
