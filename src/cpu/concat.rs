//! Concatenation along channels.

use crate::graph::Shape;

/// `parts` are `(tensor, channels)` in order; each output pixel is the parts' pixels
/// laid side by side.
pub(super) fn concat_channels(parts: &[(&[f32], usize)], output: Shape, batch: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(batch * output.len());
    for pixel in 0..batch * output.h * output.w {
        for &(data, channels) in parts {
            y.extend_from_slice(&data[pixel * channels..(pixel + 1) * channels]);
        }
    }
    y
}
