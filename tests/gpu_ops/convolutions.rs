//! Convolutions: the general kernel, depthwise, the pointwise GEMM, fused activations and
//! residual adds.

use mobilenet_wgpu::graph::{Activation, BatchNorm, Graph, Op, Padding, Shape};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{check, check_gpu_f16, conv_graph, conv_op, random, ConvSpec};

#[test]
fn general_conv_stem_and_groups() {
    let cases = [
        (Shape::new(17, 13, 3), 8, 3, 2, 1),
        (Shape::new(16, 16, 3), 16, 3, 2, 1),
        (Shape::new(9, 7, 8), 12, 3, 1, 2),
        (Shape::new(6, 5, 8), 8, 5, 1, 4),
        (Shape::new(11, 11, 6), 6, 7, 2, 3),
        // conv4 (weights in the uniform buffer), and an ungrouped conv with vec4 output
        // channels but more weights than that buffer holds (the scalar kernel).
        (Shape::new(15, 14, 3), 32, 3, 2, 1),
        (Shape::new(6, 6, 16), 32, 3, 1, 1),
    ];
    for (i, &(shape, out, k, stride, groups)) in cases.iter().enumerate() {
        let spec = ConvSpec::same(shape, out, k, stride, groups);
        check(
            &conv_graph(shape, spec, Some(Activation::Relu6), i as u64),
            1 + i % 2,
            i as u64,
            "conv",
        );
    }
}

#[test]
fn depthwise_kernel_sizes_strides_and_multipliers() {
    let cases = [
        (Shape::new(15, 15, 5), 3, 1, 1),
        (Shape::new(16, 16, 8), 3, 2, 1),
        (Shape::new(15, 15, 7), 5, 2, 1),
        (Shape::new(9, 11, 6), 7, 1, 1),
        (Shape::new(10, 9, 4), 3, 2, 2),
        (Shape::new(7, 7, 3), 5, 1, 3),
        // Channels in whole vec4s run `depthwise_rows`; widths that leave a partial tile.
        (Shape::new(9, 11, 12), 7, 1, 1),
        (Shape::new(15, 13, 8), 5, 2, 1),
        (Shape::new(7, 6, 4), 3, 1, 1),
        // GPU tiles: partial tiles and a partial channel group (20 = 5 quads), every
        // tile size (8x8 at stride 1, 4x8 at 3x3 stride 2, 4x4 at 7x7 stride 2).
        (Shape::new(19, 10, 20), 3, 1, 1),
        (Shape::new(17, 18, 16), 3, 2, 1),
        (Shape::new(23, 21, 36), 7, 2, 1),
    ];
    for (i, &(shape, k, stride, multiplier)) in cases.iter().enumerate() {
        let spec = ConvSpec::same(shape, shape.c * multiplier, k, stride, shape.c);
        check(
            &conv_graph(shape, spec, Some(Activation::Relu), 10 + i as u64),
            1 + i % 3,
            i as u64,
            "depthwise",
        );
    }
    let explicit = Padding {
        top: 2,
        bottom: 0,
        left: 1,
        right: 2,
    };
    for (i, channels) in [5, 8].into_iter().enumerate() {
        let spec = ConvSpec {
            out: channels,
            k: 3,
            stride: 2,
            groups: channels,
            padding: explicit,
        };
        check(
            &conv_graph(Shape::new(8, 9, channels), spec, None, 20 + i as u64),
            2,
            20,
            "depthwise",
        );
    }
}

/// `depthwise_tiled` at f16 storage, whose input window is held in f16: each tile size, a
/// partial channel group, 3x3 to 7x7 taps, batches of 1 and 2.
#[test]
fn gpu_depthwise_tiles_at_f16_storage() {
    let cases = [
        (Shape::new(19, 10, 20), 3, 1),
        (Shape::new(17, 18, 16), 3, 2),
        (Shape::new(23, 21, 36), 7, 2),
        (Shape::new(12, 12, 8), 5, 1),
    ];
    for (i, &(shape, k, stride)) in cases.iter().enumerate() {
        let spec = ConvSpec::same(shape, shape.c, k, stride, shape.c);
        let graph = conv_graph(shape, spec, Some(Activation::Relu6), 40 + i as u64);
        check_gpu_f16(&graph, 1 + i % 2, i as u64, "depthwise");
    }
}

#[test]
fn pointwise_gemm_shapes() {
    let cases = [
        (Shape::new(7, 9, 5), 3),
        (Shape::new(8, 8, 16), 32),
        (Shape::new(5, 5, 3), 7),
        // Whole vec4s run the tiled kernel; a partial pixel tile and a half output block.
        // The GPU family splits K across thread slices (`pointwise_tiled_split`) below 128
        // tiles, as in every case but the last: 64×66 pixels at batch 3 make 396 tiles,
        // which run unsplit (`pointwise_tiled`), with a K of 40 ending in a partial step.
        (Shape::new(5, 7, 12), 20),
        (Shape::new(1, 1, 33), 10),
        (Shape::new(64, 66, 40), 8),
    ];
    for (i, &(shape, out)) in cases.iter().enumerate() {
        let spec = ConvSpec::pointwise(out);
        check(
            &conv_graph(shape, spec, Some(Activation::HardSwish), 30 + i as u64),
            1 + i % 3,
            i as u64,
            "pointwise",
        );
    }
}

#[test]
fn every_activation_fused_after_batch_norm() {
    let acts = [
        Activation::Relu,
        Activation::Relu6,
        Activation::HardSwish,
        Activation::HARD_SIGMOID,
        Activation::KERAS_HARD_SIGMOID,
        Activation::HardSigmoid {
            alpha: -0.3,
            beta: 0.25,
        },
        Activation::Sigmoid,
        Activation::Clamp {
            min: -0.5,
            max: 0.75,
        },
    ];
    for (i, act) in acts.into_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(40 + i as u64);
        let shape = Shape::new(6, 5, 6);
        let mut g = Graph::new(shape).unwrap();
        let spec = ConvSpec {
            out: 6,
            k: 3,
            stride: 1,
            groups: 6,
            padding: Padding::uniform(1),
        };
        let x = g
            .add("dw", conv_op(&mut rng, 6, &spec), &[g.input()])
            .unwrap();
        let bn = BatchNorm {
            gamma: random(&mut rng, 6, 2.0),
            beta: random(&mut rng, 6, 1.0),
            mean: random(&mut rng, 6, 1.0),
            var: random(&mut rng, 6, 1.0)
                .iter()
                .map(|v| v.abs() + 0.1)
                .collect(),
            eps: 1e-3,
        };
        let x = g.add("bn", Op::BatchNorm(bn), &[x]).unwrap();
        g.add("act", Op::Activation(act), &[x]).unwrap();
        check(&g, 2, i as u64, "depthwise");
    }
}

#[test]
fn residual_add_fused_and_standalone() {
    // 8 channels: the tiled pointwise kernel, with a partial tile of the 35 pixels.
    let shape = Shape::new(7, 5, 8);
    let mut rng = ChaCha8Rng::seed_from_u64(50);
    let mut g = Graph::new(shape).unwrap();
    let spec = ConvSpec::pointwise(8);
    let x = g
        .add("pw", conv_op(&mut rng, 8, &spec), &[g.input()])
        .unwrap();
    let sum = g.add("add", Op::Add, &[x, g.input()]).unwrap();
    g.add("act", Op::Activation(Activation::Relu6), &[sum])
        .unwrap();
    check(&g, 3, 50, "pointwise");

    let mut g = Graph::new(shape).unwrap();
    let a = g
        .add("a", Op::Activation(Activation::HardSwish), &[g.input()])
        .unwrap();
    let b = g
        .add("b", Op::Activation(Activation::Sigmoid), &[g.input()])
        .unwrap();
    g.add("add", Op::Add, &[a, b]).unwrap();
    check(&g, 2, 51, "elementwise");
}
