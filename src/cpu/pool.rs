//! Average pooling: global (mean over H×W) and windowed.

use super::input_coord;
use crate::graph::{AvgPool, Shape};

/// Mean over H and W per image and channel, giving 1×1×C.
pub(super) fn global_avg_pool(x: &[f32], input: Shape) -> Vec<f32> {
    let pixels = (input.h * input.w) as f32;
    let mut y = Vec::with_capacity(x.len() / (input.h * input.w));
    for image in x.chunks_exact(input.len()) {
        let mut sums = vec![0.0f32; input.c];
        for pixel in image.chunks_exact(input.c) {
            for (sum, v) in sums.iter_mut().zip(pixel) {
                *sum += v;
            }
        }
        y.extend(sums.iter().map(|s| s / pixels));
    }
    y
}

/// Mean over each window's in-bounds elements only (padding is not counted), as TFLite's
/// AVERAGE_POOL_2D does.
pub(super) fn avg_pool(
    pool: &AvgPool,
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
            window_mean(pool, image, input, oy, ox, out_pixel);
        }
    }
    y
}

/// Writes the mean of the window at output pixel `(oy, ox)` into `out_pixel`, all channels.
fn window_mean(
    pool: &AvgPool,
    image: &[f32],
    input: Shape,
    oy: usize,
    ox: usize,
    out_pixel: &mut [f32],
) {
    let mut count = 0usize;
    for ky in 0..pool.kernel {
        let Some(iy) = input_coord(oy, ky, pool.stride, pool.padding.top, input.h) else {
            continue;
        };
        for kx in 0..pool.kernel {
            let Some(ix) = input_coord(ox, kx, pool.stride, pool.padding.left, input.w) else {
                continue;
            };
            let start = (iy * input.w + ix) * input.c;
            for (sum, v) in out_pixel.iter_mut().zip(&image[start..start + input.c]) {
                *sum += v;
            }
            count += 1;
        }
    }
    // Shape inference keeps padding smaller than the window, so every window holds at
    // least one input pixel and `count >= 1`.
    for sum in out_pixel.iter_mut() {
        *sum /= count as f32;
    }
}
