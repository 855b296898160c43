//! Average pooling: global (mean over H×W) and windowed.

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
    // Only the input pixels under the window: a huge window over a small padded map costs
    // what its pixels cost, not kernel² steps.
    let rows = covered(oy, pool, pool.padding.top, input.h);
    let cols = covered(ox, pool, pool.padding.left, input.w);
    for iy in rows.clone() {
        for ix in cols.clone() {
            let start = (iy * input.w + ix) * input.c;
            for (sum, v) in out_pixel.iter_mut().zip(&image[start..start + input.c]) {
                *sum += v;
            }
        }
    }
    let count = rows.len() * cols.len();
    // Shape inference keeps padding smaller than the window, so every window holds at
    // least one input pixel and `count >= 1`.
    for sum in out_pixel.iter_mut() {
        *sum /= count as f32;
    }
}

/// The input rows (or columns) that the window of output `o` covers: its span in padded
/// coordinates, `o·stride .. o·stride + kernel`, shifted by `pad` and clipped to the input.
pub(super) fn covered(o: usize, pool: &AvgPool, pad: usize, size: usize) -> std::ops::Range<usize> {
    let start = o * pool.stride;
    let first = start.saturating_sub(pad);
    let end = (start + pool.kernel).saturating_sub(pad).min(size);
    first..end.max(first)
}
