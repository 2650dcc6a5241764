//! Checks of 10_research_ops/image_warp: theta against the reference; angle 0 and scale 1 is
//! the identity; quarter, half and three-quarter turns of square images (odd and even sizes, a
//! different angle per image) equal torch.rot90, with a message when the turn goes the other way;
//! other angles and scales (zoom in and out) against the reference; a permuted (non-contiguous)
//! input; float64; gradients of the angle and the scale (and the images) by finite differences.

use std::f64::consts::PI;

use tch::{Device, Kind, Tensor};
use tensorlings_support::gradcheck::{GradcheckOptions, gradcheck};
use tensorlings_support::random::randn;
use tensorlings_support::{CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, within};

tensorlings_support::exercise_modules!("10_research_ops/image_warp.rs");

fn vector(values: &[f64], kind: Kind, device: Device) -> Tensor {
    Tensor::from_slice(values).to_kind(kind).to_device(device)
}

fn tolerance(kind: Kind) -> Tolerance {
    if kind == Kind::Double { Tolerance::new(1e-10, 1e-10) } else { Tolerance::new(1e-5, 1e-5) }
}

/// rotate_scale on `images` against the reference (and `also`, a second expected result).
fn warp_matches(
    images: &Tensor,
    angles: &[f64],
    scales: &[f64],
    also: Option<(&str, Tensor)>,
) -> CheckResult {
    let kind = images.kind();
    within(
        format!(
            "for images of shape {:?} ({kind:?}), angles {angles:?} and scales {scales:?}",
            images.size()
        ),
        || {
            let (angle, scale) =
                (vector(angles, kind, images.device()), vector(scales, kind, images.device()));
            let before = images.copy();
            let expected = solution::rotate_scale(&images.copy(), &angle, &scale);
            let got = exercise::rotate_scale(images, &angle, &scale);
            assert_unchanged("images", images, &before)?;
            if let Some((name, other)) = also {
                assert_close(
                    &format!("rotate_scale(images, angle, scale), compared with {name},"),
                    &got,
                    &other,
                    tolerance(kind),
                )?;
            }
            assert_close("rotate_scale(images, angle, scale)", &got, &expected, tolerance(kind))
        },
    )
}

/// Each image turned by its number of quarter turns with rot90.
fn rot90_each(images: &Tensor, quarters: &[i64]) -> Tensor {
    let turned: Vec<Tensor> =
        quarters.iter().enumerate().map(|(n, &k)| images.get(n as i64).rot90(k, [1, 2])).collect();
    Tensor::stack(&turned, 0)
}

/// Quarter turns, with a message when the output is the turn the other way.
fn quarter_turns(images: &Tensor, quarters: &[i64]) -> CheckResult {
    let angles: Vec<f64> = quarters.iter().map(|&k| k as f64 * PI / 2.0).collect();
    let expected = rot90_each(images, quarters);
    warp_matches(
        images,
        &angles,
        &vec![1.0; quarters.len()],
        Some(("torch.rot90 (exact for quarter turns)", expected)),
    )
    .map_err(|f| {
        let angle = vector(&angles, images.kind(), images.device());
        let scale = angle.ones_like();
        // Run again to see which way it turned (a panic was reported already).
        let Ok(got) = within("", || Ok(exercise::rotate_scale(images, &angle, &scale))) else {
            return f;
        };
        let reversed: Vec<i64> = quarters.iter().map(|k| (4 - k) % 4).collect();
        if got.size() == images.size() && got.allclose(&rot90_each(images, &reversed), 1e-5, 1e-5, false) {
            Failure::new(format!(
                "{}\n  your images turned the other way: theta maps OUTPUT coordinates to INPUT ones, \
                 [[cos, -sin], [sin, cos]] as documented",
                f.message()
            ))
        } else {
            f
        }
    })
}

fn main() {
    Checks::new()
        .check("rotation_scale_theta for 3 angles and scales", |ctx| {
            let (angle, scale) = (
                vector(&[0.3, -1.2, 2.5], Kind::Float, ctx.device()),
                vector(&[1.0, 0.5, 2.0], Kind::Float, ctx.device()),
            );
            within("for angles [0.3, -1.2, 2.5] and scales [1, 0.5, 2]", || {
                let got = exercise::rotation_scale_theta(&angle, &scale);
                assert_close(
                    "rotation_scale_theta(angle, scale)",
                    &got,
                    &solution::rotation_scale_theta(&angle, &scale),
                    tolerance(Kind::Float),
                )
            })
        })
        .check("angle 0 and scale 1 is the identity", |ctx| {
            let images = randn(&[2, 3, 4, 6], Kind::Float, ctx.device());
            warp_matches(&images, &[0.0, 0.0], &[1.0, 1.0], Some(("the images themselves", images.copy())))
        })
        .check("quarter turns equal torch.rot90, a different angle per image", |ctx| {
            quarter_turns(&randn(&[3, 2, 5, 5], Kind::Float, ctx.device()), &[1, 2, 3])?;
            quarter_turns(&randn(&[2, 1, 4, 4], Kind::Float, ctx.device()), &[1, 3])
        })
        .check("other angles, zoom in (scale 0.5) and out (scale 1.7)", |ctx| {
            warp_matches(
                &randn(&[3, 2, 6, 5], Kind::Float, ctx.device()),
                &[0.3, -2.0, 1.0],
                &[1.0, 0.5, 1.7],
                None,
            )
        })
        .check("a permuted (non-contiguous) input, and float64", |ctx| {
            let nhwc = randn(&[2, 5, 5, 3], Kind::Float, ctx.device());
            warp_matches(&nhwc.permute([0, 3, 1, 2]), &[0.7, PI / 2.0], &[1.2, 1.0], None)?;
            warp_matches(&randn(&[2, 1, 5, 4], Kind::Double, ctx.device()), &[0.4, -0.9], &[0.8, 1.3], None)
        })
        .check("gradients of the angle, the scale and the images by finite differences", |ctx| {
            let images = randn(&[2, 1, 4, 4], Kind::Double, ctx.device());
            let (angle, scale) = (
                vector(&[0.3, -1.1], Kind::Double, ctx.device()),
                vector(&[1.2, 0.9], Kind::Double, ctx.device()),
            );
            within("for images of shape [2, 1, 4, 4], angles [0.3, -1.1] and scales [1.2, 0.9]", || {
                gradcheck(
                    |t| exercise::rotate_scale(&t[0], &t[1], &t[2]),
                    &[images, angle, scale],
                    GradcheckOptions::default(),
                )
            })
            .map_err(|f| {
                if !f.message().contains("gradcheck:") {
                    return f;
                }
                Failure::new(format!(
                    "{}\n  build theta from angle.cos(), angle.sin() and scale with tensor operations \
                     (Tensor::stack), not from numbers read out of them, and keep bilinear interpolation",
                    f.message()
                ))
            })
        })
        .run()
}
