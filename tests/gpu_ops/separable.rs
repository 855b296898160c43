//! A depthwise convolution computed inside the 1×1 convolution after it (the GPU family's
//! `separable` step) against the CPU reference: kernel sizes, strides, padding, the
//! depthwise epilogue's activations, a residual on the 1×1 side, and both GEMM entries.

use mobilenet_wgpu::graph::{Activation, Graph, Op, Padding, Shape};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{check, conv_op, ConvSpec};

/// One case: input, depthwise kernel and stride, its activation, 1×1 output channels,
/// whether the block adds its input back (needs stride 1 and out = input channels), batch.
struct Case {
    input: Shape,
    k: usize,
    stride: usize,
    act: Activation,
    out: usize,
    residual: bool,
    batch: usize,
}

/// input → depthwise (SAME padding) → act → 1×1 conv [→ + input]
fn separable_graph(case: &Case, seed: u64) -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let c = case.input.c;
    let mut g = Graph::new(case.input).unwrap();
    let dw = ConvSpec::same(case.input, c, case.k, case.stride, c);
    let x = g
        .add("dw", conv_op(&mut rng, c, &dw), &[g.input()])
        .unwrap();
    let x = g.add("dw_act", Op::Activation(case.act), &[x]).unwrap();
    let pw = conv_op(&mut rng, c, &ConvSpec::pointwise(case.out));
    let x = g.add("pw", pw, &[x]).unwrap();
    if case.residual {
        g.add("add", Op::Add, &[x, g.input()]).unwrap();
    }
    g
}

#[test]
fn separable_convolutions() {
    let case = |input, k, stride, act, out, residual, batch| Case {
        input,
        k,
        stride,
        act,
        out,
        residual,
        batch,
    };
    let cases = [
        // V2's shapes, shrunk: a stride-2 block and a residual one (few tiles: split K).
        case(Shape::new(9, 9, 24), 3, 2, Activation::Relu6, 16, false, 1),
        case(Shape::new(7, 6, 32), 3, 1, Activation::Relu6, 32, true, 2),
        // V3's 5×5 depthwise with hard-swish, and channels past one 32-wide tile.
        case(
            Shape::new(8, 7, 20),
            5,
            1,
            Activation::HardSwish,
            44,
            false,
            1,
        ),
        case(
            Shape::new(10, 11, 12),
            5,
            2,
            Activation::HardSwish,
            8,
            false,
            3,
        ),
        // Many tiles (merged at one tile of output channels): the unsplit GEMM, with a K
        // ending in a partial 16-channel step.
        case(Shape::new(48, 40, 36), 3, 1, Activation::Relu, 32, false, 3),
        case(
            Shape::new(33, 34, 8),
            3,
            2,
            Activation::Relu6,
            32,
            false,
            16,
        ),
        case(
            Shape::new(112, 112, 32),
            3,
            1,
            Activation::Relu6,
            16,
            false,
            1,
        ),
    ];
    for (i, case) in cases.iter().enumerate() {
        let graph = separable_graph(case, 60 + i as u64);
        check(&graph, case.batch, i as u64, "separable");
    }
}

/// Asymmetric padding (TensorFlow's SAME at stride 2 on even sizes pads only the far
/// side) and a 1×1 depthwise (a per-channel scale, as quantized files' clamps lower to).
#[test]
fn separable_with_uneven_padding_and_one_tap() {
    for (i, (k, stride, padding)) in [
        (3, 2, Padding::same(12, 10, 3, 2)),
        (1, 1, Padding::default()),
        (
            3,
            1,
            Padding {
                top: 0,
                bottom: 2,
                left: 2,
                right: 0,
            },
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut rng = ChaCha8Rng::seed_from_u64(70 + i as u64);
        let input = Shape::new(12, 10, 16);
        let mut g = Graph::new(input).unwrap();
        let dw = ConvSpec {
            out: 16,
            k,
            stride,
            groups: 16,
            padding,
        };
        let x = g
            .add("dw", conv_op(&mut rng, 16, &dw), &[g.input()])
            .unwrap();
        let pw = conv_op(&mut rng, 16, &ConvSpec::pointwise(12));
        g.add("pw", pw, &[x]).unwrap();
        check(&g, 2, 80 + i as u64, "separable");
    }
}
