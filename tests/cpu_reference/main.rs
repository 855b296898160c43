//! The CPU reference checked against hand-computed values for every op, whole networks
//! against their parts, and the direct convolution against an independent im2col
//! formulation on random shapes.

mod im2col;
mod network;
mod ops;

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::graph::{Conv2d, Graph, Op, Padding, Shape};
use mobilenet_wgpu::Result;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// An ungrouped stride-1 unpadded square convolution without bias; tests adjust fields
/// with struct update syntax.
pub fn conv(out_channels: usize, kernel: usize, weights: Vec<f32>) -> Conv2d {
    let (kernel_h, kernel_w, stride, groups) = (kernel, kernel, 1, 1);
    let padding = Padding::default();
    Conv2d {
        out_channels,
        kernel_h,
        kernel_w,
        stride,
        padding,
        groups,
        weights,
        bias: None,
    }
}

pub fn pad(top: usize, bottom: usize, left: usize, right: usize) -> Padding {
    Padding {
        top,
        bottom,
        left,
        right,
    }
}

pub fn random_values(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// A graph of `input → op` run on one image.
pub fn run_single_op(input_shape: Shape, op: Op, input: &[f32]) -> Result<Vec<f32>> {
    let mut graph = Graph::new(input_shape)?;
    graph.add("op", op, &[graph.input()])?;
    cpu::run_output(&graph, input, 1)
}

pub fn assert_close(actual: &[f32], expected: &[f32], tolerance: f32) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let bound = tolerance * e.abs().max(1.0);
        assert!((a - e).abs() <= bound, "element {i}: got {a}, expected {e}");
    }
}

/// 1..=n as floats; `ramp(16)` is a 4×4 single-channel image.
pub fn ramp(n: usize) -> Vec<f32> {
    (1..=n).map(|v| v as f32).collect()
}
