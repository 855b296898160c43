//! Direct grouped 2-D convolution (covers standard, pointwise and depthwise with any
//! depth multiplier): one output value at a time, summing over the kernel window.

use super::input_coord;
use crate::graph::{Conv2d, Shape};

/// `x` is NHWC `batch × input`; returns NHWC `batch × output`.
pub(super) fn conv2d(
    conv: &Conv2d,
    x: &[f32],
    input: Shape,
    output: Shape,
    batch: usize,
) -> Vec<f32> {
    let mut y = vec![0.0; batch * output.len()];
    let images = x
        .chunks_exact(input.len())
        .zip(y.chunks_exact_mut(output.len()));
    for (image, out_image) in images {
        for (pixel_index, out_pixel) in out_image.chunks_exact_mut(output.c).enumerate() {
            let (oy, ox) = (pixel_index / output.w, pixel_index % output.w);
            for (o, value) in out_pixel.iter_mut().enumerate() {
                *value = output_value(conv, image, input, oy, ox, o);
            }
        }
    }
    y
}

/// Output channel `o` of group `g` reads input channels `g * in_per_group ..` (for
/// depthwise with multiplier m that is input channel `o / m`).
fn output_value(conv: &Conv2d, image: &[f32], input: Shape, oy: usize, ox: usize, o: usize) -> f32 {
    let in_per_group = input.c / conv.groups;
    let out_per_group = conv.out_channels / conv.groups;
    let first_in = (o / out_per_group) * in_per_group;
    let mut acc = conv.bias.as_ref().map_or(0.0, |bias| bias[o]);
    for ky in 0..conv.kernel_h {
        let Some(iy) = input_coord(oy, ky, conv.stride, conv.padding.top, input.h) else {
            continue;
        };
        for kx in 0..conv.kernel_w {
            let Some(ix) = input_coord(ox, kx, conv.stride, conv.padding.left, input.w) else {
                continue;
            };
            let pixel_start = (iy * input.w + ix) * input.c + first_in;
            let weight_start = ((o * conv.kernel_h + ky) * conv.kernel_w + kx) * in_per_group;
            let pixel = &image[pixel_start..pixel_start + in_per_group];
            let weights = &conv.weights[weight_start..weight_start + in_per_group];
            acc += pixel.iter().zip(weights).map(|(a, b)| a * b).sum::<f32>();
        }
    }
    acc
}
