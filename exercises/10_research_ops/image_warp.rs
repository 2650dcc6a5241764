// Exercise 10_research_ops/image_warp: a differentiable rotation and scaling of images, with
// affine_grid and grid_sample (the spatial transformer of Jaderberg et al. 2015).
//
// Warping an image is two steps. affine_grid(theta, size) gives, for every OUTPUT pixel, the
// place to read in the INPUT: theta ([N, 2, 3]) maps output coordinates to input coordinates,
// in normalized coordinates where -1 and 1 are the image's edges (x along the width, y along the
// height). grid_sample(images, grid) then reads the input there, interpolating bilinearly
// between the four nearest pixels and reading zeros outside the image. Bilinear interpolation is
// differentiable in the coordinates, so the gradient reaches theta, and through it the angle.
//
// Here theta = scale * [[cos a, -sin a, 0], [sin a, cos a, 0]], one angle and one scale per
// image: the output at p reads the input at scale * R(a) p. So scale 2 reads twice as far from
// the center: the content shrinks (a zoom out), and a = pi/2 turns the image a quarter turn
// counter-clockwise, exactly torch.rot90(image, 1, dims=[2, 3]) for a square image.
//
// align_corners: with false (PyTorch's default, used here), -1 and 1 are the outer edges of the
// border pixels, and pixel centers sit at (2 i + 1) / W - 1; with true, -1 and 1 are the centers
// of the border pixels. Either way a quarter turn of a square image maps pixel centers onto pixel
// centers, so it is exact; but the two conventions sample different places at other angles and
// scales. Pass the same value to affine_grid and grid_sample.
//
// The checks compare with torch.rot90 at quarter turns, with the identity, with the reference,
// and check the gradients of the angle and the scale by finite differences (gradcheck).

use tch::Tensor;

/// The [N, 2, 3] affine matrices `scale * [[cos a, -sin a, 0], [sin a, cos a, 0]]` for `angle`
/// and `scale` of shape [N] (radians), built from tensor operations (so gradients flow).
///
/// PyTorch:
/// ```python
/// c, s, z = angle.cos() * scale, angle.sin() * scale, torch.zeros_like(angle)
/// return torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1)], 1)
/// ```
pub fn rotation_scale_theta(angle: &Tensor, scale: &Tensor) -> Tensor {
    // TODO
    todo!("theta for angles {:?} and scales {:?}", angle.size(), scale.size())
}

/// Each image of `images` ([N, C, H, W]) warped with its theta: affine_grid + grid_sample,
/// bilinear, zeros outside, align_corners false. theta in the images' kind.
///
/// PyTorch:
/// ```python
/// theta = rotation_scale_theta(angle, scale).to(images.dtype)
/// grid = F.affine_grid(theta, images.shape, align_corners=False)
/// return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
/// ```
/// In tch: `Tensor::affine_grid_generator(&theta, images.size(), false)` and
/// `images.grid_sampler(&grid, 0, 0, false)` (interpolation 0 = bilinear, padding 0 = zeros).
pub fn rotate_scale(images: &Tensor, angle: &Tensor, scale: &Tensor) -> Tensor {
    // TODO
    todo!("warp images {:?} by angles {:?} and scales {:?}", images.size(), angle.size(), scale.size())
}

fn main() {
    let image = Tensor::arange(9, (tch::Kind::Float, tch::Device::Cpu)).reshape([1, 1, 3, 3]);
    let quarter = Tensor::from_slice(&[std::f32::consts::FRAC_PI_2]);
    // A quarter turn is exact: the same as rot90.
    rotate_scale(&image, &quarter, &Tensor::from_slice(&[1.0f32])).print();
    image.rot90(1, [2, 3]).print();
}
