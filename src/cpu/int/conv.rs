//! Integer convolution (any groups, so depthwise too) and dense layers: 32-bit accumulation
//! of centred values, then the requantization. Taps in the padding are skipped, which is
//! padding with the input's zero point.

use crate::cpu::input_coord;
use crate::graph::{IntWeights, Shape};
use crate::quant::lower::ConvGeometry;
use crate::quant::params::{DenseRequant, Requant};

pub(super) fn conv2d(
    conv: &ConvGeometry,
    w: &IntWeights,
    requant: &Requant,
    x: &[i32],
    input: Shape,
    output: Shape,
    batch: usize,
) -> Vec<i32> {
    let mut y = vec![0; batch * output.len()];
    let images = x
        .chunks_exact(input.len())
        .zip(y.chunks_exact_mut(output.len()));
    for (image, out_image) in images {
        for (pixel_index, out_pixel) in out_image.chunks_exact_mut(output.c).enumerate() {
            let (oy, ox) = (pixel_index / output.w, pixel_index % output.w);
            for (o, value) in out_pixel.iter_mut().enumerate() {
                let acc = accumulate(conv, w, requant, image, input, (oy, ox), o);
                *value = requant.apply(o, acc);
            }
        }
    }
    y
}

/// The bias plus `Σ (x − x_zp)(w − w_zp)` over output channel `o`'s window.
fn accumulate(
    conv: &ConvGeometry,
    w: &IntWeights,
    requant: &Requant,
    image: &[i32],
    input: Shape,
    (oy, ox): (usize, usize),
    o: usize,
) -> i32 {
    let in_per_group = input.c / conv.groups;
    let first_in = (o / (conv.out_channels / conv.groups)) * in_per_group;
    let w_zp = requant.weight_zero_points[o];
    let mut acc = w.bias(o);
    for ky in 0..conv.kernel_h {
        let Some(iy) = input_coord(oy, ky, conv.stride, conv.padding.top, input.h) else {
            continue;
        };
        for kx in 0..conv.kernel_w {
            let Some(ix) = input_coord(ox, kx, conv.stride, conv.padding.left, input.w) else {
                continue;
            };
            let pixel = (iy * input.w + ix) * input.c + first_in;
            let weight = ((o * conv.kernel_h + ky) * conv.kernel_w + kx) * in_per_group;
            for i in 0..in_per_group {
                let xv = image[pixel + i] - requant.input_zero_point;
                acc = acc.wrapping_add(xv * (w.values[weight + i] - w_zp));
            }
        }
    }
    acc
}

/// `x` holds rows of `w.values.len() / features` values.
pub(super) fn dense(
    w: &IntWeights,
    requant: &DenseRequant,
    x: &[i32],
    features: usize,
) -> Vec<i32> {
    let depth = w.values.len() / features;
    x.chunks_exact(depth)
        .flat_map(|row| {
            (0..features).map(move |o| {
                let weights = &w.values[o * depth..(o + 1) * depth];
                let w_zp = requant.weight_zero_points[o];
                let bias = w.bias(o);
                let acc = row.iter().zip(weights).fold(bias, |acc, (&xv, &wv)| {
                    acc.wrapping_add((xv - requant.input_zero_point) * (wv - w_zp))
                });
                requant.apply(o, acc)
            })
        })
        .collect()
}
