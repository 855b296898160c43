//! Binary element-wise ops: the residual add and the squeeze-excite channel rescale.

use crate::graph::Shape;

/// Element-wise sum of two tensors of the same shape.
pub(super) fn add(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// `x[n, h, w, c] * scale[n, 0, 0, c]`: each image has its own per-channel scale.
pub(super) fn mul_channel(x: &[f32], scale: &[f32], shape: Shape) -> Vec<f32> {
    let mut y = x.to_vec();
    for (image, image_scale) in y
        .chunks_exact_mut(shape.len())
        .zip(scale.chunks_exact(shape.c))
    {
        for pixel in image.chunks_exact_mut(shape.c) {
            for (value, s) in pixel.iter_mut().zip(image_scale) {
                *value *= s;
            }
        }
    }
    y
}
