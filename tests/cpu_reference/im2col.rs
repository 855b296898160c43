//! The direct convolution against an im2col formulation on random shapes.

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::graph::{Conv2d, Graph, Op, Padding, Shape};
use mobilenet_wgpu::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{assert_close, conv, pad, random_values};

/// A random convolution: odd and even sizes, kernels 1/3/5/7, stride 1 or 2, random
/// per-side padding, and ungrouped, grouped or depthwise (multiplier 1 or 2) channels.
fn random_conv(rng: &mut ChaCha8Rng) -> (Shape, Conv2d) {
    let kernel = [1, 3, 5, 7][rng.random_range(0..4)];
    let (in_channels, groups, out_channels) = match rng.random_range(0..3) {
        0 => (rng.random_range(1..=5), 1, rng.random_range(1..=6)),
        1 => {
            let groups = rng.random_range(2..=3);
            (
                groups * rng.random_range(1..=3),
                groups,
                groups * rng.random_range(1..=3),
            )
        }
        _ => {
            let channels = rng.random_range(2..=6);
            (channels, channels, channels * rng.random_range(1..=2))
        }
    };
    let input = Shape::new(
        rng.random_range(kernel..=13),
        rng.random_range(kernel..=13),
        in_channels,
    );
    let mut side = || rng.random_range(0..kernel);
    let padding = pad(side(), side(), side(), side());
    let weights = random_values(rng, out_channels * kernel * kernel * (in_channels / groups));
    let bias = Some(random_values(rng, out_channels)).filter(|_| rng.random_bool(0.5));
    let stride = rng.random_range(1..=2);
    (
        input,
        Conv2d {
            stride,
            padding,
            groups,
            bias,
            ..conv(out_channels, kernel, weights)
        },
    )
}

/// Copies one image into an explicitly zero-padded buffer.
fn zero_pad(image: &[f32], input: Shape, pad: Padding) -> (Vec<f32>, Shape) {
    let padded = Shape::new(
        input.h + pad.top + pad.bottom,
        input.w + pad.left + pad.right,
        input.c,
    );
    let mut out = vec![0.0; padded.len()];
    for (pixel, values) in image.chunks(input.c).enumerate() {
        let (y, x) = (pixel / input.w + pad.top, pixel % input.w + pad.left);
        let start = (y * padded.w + x) * input.c;
        out[start..start + input.c].copy_from_slice(values);
    }
    (out, padded)
}

/// Convolution as zero padding + im2col (one row of `kh·kw·cin/groups` per output pixel
/// and channel) + a dot product with the OHWI weight row, independent of the direct loops.
fn conv_by_im2col(conv: &Conv2d, input: Shape, x: &[f32]) -> Vec<f32> {
    let (kh, kw, stride) = (conv.kernel_h, conv.kernel_w, conv.stride);
    let in_per_group = input.c / conv.groups;
    let out_per_group = conv.out_channels / conv.groups;
    let row_len = kh * kw * in_per_group;
    let mut y = Vec::new();
    for image in x.chunks(input.len()) {
        let (padded, padded_shape) = zero_pad(image, input, conv.padding);
        let (out_h, out_w) = (
            (padded_shape.h - kh) / stride + 1,
            (padded_shape.w - kw) / stride + 1,
        );
        for pixel in 0..out_h * out_w {
            let (top, left) = (pixel / out_w * stride, pixel % out_w * stride);
            for o in 0..conv.out_channels {
                let first_in = o / out_per_group * in_per_group;
                let mut row = Vec::with_capacity(row_len);
                for (ky, kx) in (0..kh).flat_map(|ky| (0..kw).map(move |kx| (ky, kx))) {
                    let start = ((top + ky) * padded_shape.w + left + kx) * input.c + first_in;
                    row.extend_from_slice(&padded[start..start + in_per_group]);
                }
                let weights = &conv.weights[o * row_len..(o + 1) * row_len];
                let bias = conv.bias.as_ref().map_or(0.0, |b| b[o]);
                y.push(bias + row.iter().zip(weights).map(|(a, b)| a * b).sum::<f32>());
            }
        }
    }
    y
}

#[test]
fn direct_conv_matches_im2col_on_random_shapes() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    for case in 0..60 {
        let (input, conv) = random_conv(&mut rng);
        let batch = 1 + case % 2;
        let x = random_values(&mut rng, batch * input.len());
        let expected = conv_by_im2col(&conv, input, &x);
        let mut graph = Graph::new(input)?;
        graph.add("conv", Op::Conv2d(conv.clone()), &[graph.input()])?;
        let actual = cpu::run_output(&graph, &x, batch)?;
        assert_eq!(
            actual.len(),
            expected.len(),
            "case {case}: {input} {conv:?}"
        );
        assert_close(&actual, &expected, 1e-5);
    }
    Ok(())
}
