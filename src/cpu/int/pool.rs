//! Integer average pooling (the stored codes averaged, AVERAGE_POOL_2D) and MEAN.

use crate::cpu::pool::covered;
use crate::graph::{AvgPool, Shape};
use crate::quant::params::{self, Mean};

/// AVERAGE_POOL_2D over `window`, or over the whole map when `None`.
pub(super) fn average(
    window: Option<&AvgPool>,
    x: &[i32],
    input: Shape,
    output: Shape,
) -> Vec<i32> {
    let mut y = Vec::with_capacity(x.len() / input.len() * output.len());
    for image in x.chunks_exact(input.len()) {
        for oy in 0..output.h {
            for ox in 0..output.w {
                let (rows, cols) = match window {
                    Some(pool) => (
                        covered(oy, pool, pool.padding.top, input.h),
                        covered(ox, pool, pool.padding.left, input.w),
                    ),
                    None => (0..input.h, 0..input.w),
                };
                let count = (rows.len() * cols.len()) as i32;
                for c in 0..input.c {
                    let sum = rows
                        .clone()
                        .flat_map(|iy| {
                            cols.clone()
                                .map(move |ix| (iy * input.w + ix) * input.c + c)
                        })
                        .fold(0i32, |sum, i| sum.wrapping_add(image[i]));
                    y.push(params::average(sum, count));
                }
            }
        }
    }
    y
}

/// MEAN over H and W per image and channel.
pub(super) fn mean(mean: &Mean, x: &[i32], input: Shape) -> Vec<i32> {
    x.chunks_exact(input.len())
        .flat_map(|image| {
            (0..input.c).map(move |c| {
                let values = image.iter().skip(c).step_by(input.c);
                let sum = values.fold(0i32, |sum, &v| sum.wrapping_add(v));
                mean.apply(sum)
            })
        })
        .collect()
}
