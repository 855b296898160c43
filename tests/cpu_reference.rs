//! The CPU reference checked against hand-computed values for every op, and the direct
//! convolution against an independent im2col formulation on random shapes.

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::graph::Shape;
use mobilenet_wgpu::graph::{Activation, AvgPool, BatchNorm, Conv2d, Dense, Graph, Op, Padding};
use mobilenet_wgpu::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An ungrouped stride-1 unpadded square convolution without bias; tests adjust fields
/// with struct update syntax.
fn conv(out_channels: usize, kernel: usize, weights: Vec<f32>) -> Conv2d {
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

fn pad(top: usize, bottom: usize, left: usize, right: usize) -> Padding {
    Padding {
        top,
        bottom,
        left,
        right,
    }
}

fn random_values(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// A graph of `input → op` run on one image.
fn run_single_op(input_shape: Shape, op: Op, input: &[f32]) -> Result<Vec<f32>> {
    let mut graph = Graph::new(input_shape)?;
    graph.add("op", op, &[graph.input()])?;
    cpu::run_output(&graph, input, 1)
}

fn assert_close(actual: &[f32], expected: &[f32], tolerance: f32) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let bound = tolerance * e.abs().max(1.0);
        assert!((a - e).abs() <= bound, "element {i}: got {a}, expected {e}");
    }
}

/// 1..=n as floats; `ramp(16)` is a 4×4 single-channel image.
fn ramp(n: usize) -> Vec<f32> {
    (1..=n).map(|v| v as f32).collect()
}

#[test]
fn conv_3x3_valid_uses_kernel_orientation() -> Result<()> {
    let y = run_single_op(
        Shape::new(4, 4, 1),
        Op::Conv2d(conv(1, 3, ramp(9))),
        &ramp(16),
    )?;
    // out(0,0) = 1*1+2*2+3*3 + 4*5+5*6+6*7 + 7*9+8*10+9*11 = 348; shifting the window by
    // one column adds sum(w) = 45, by one row adds 4 * 45. A flipped kernel gives 192.
    assert_eq!(y, vec![348.0, 393.0, 528.0, 573.0]);
    Ok(())
}

#[test]
fn conv_3x3_padding_1_box_sums_with_bias() -> Result<()> {
    let unbiased = Conv2d {
        padding: Padding::uniform(1),
        ..conv(1, 3, vec![1.0; 9])
    };
    let biased = Conv2d {
        bias: Some(vec![0.5]),
        ..unbiased.clone()
    };
    #[rustfmt::skip]
    let sums = [
        14., 24., 30., 22.,
        33., 54., 63., 45.,
        57., 90., 99., 69.,
        46., 72., 78., 54.,
    ];
    let y = run_single_op(Shape::new(4, 4, 1), Op::Conv2d(unbiased), &ramp(16))?;
    assert_eq!(y, sums);
    let y = run_single_op(Shape::new(4, 4, 1), Op::Conv2d(biased), &ramp(16))?;
    assert_eq!(y, sums.map(|s| s + 0.5));
    Ok(())
}

#[test]
fn conv_same_padding_stride_2_pads_after() -> Result<()> {
    let padding = Padding::same(4, 4, 3, 2);
    assert_eq!(padding, pad(0, 1, 0, 1));
    let strided = Conv2d {
        stride: 2,
        padding,
        ..conv(1, 3, vec![1.0; 9])
    };
    let y = run_single_op(Shape::new(4, 4, 1), Op::Conv2d(strided), &ramp(16))?;
    // Windows start at rows/cols 0 and 2; the second one hangs over the bottom/right edge.
    let manual = [
        1. + 2. + 3. + 5. + 6. + 7. + 9. + 10. + 11.,
        3. + 4. + 7. + 8. + 11. + 12.,
        9. + 10. + 11. + 13. + 14. + 15.,
        11. + 12. + 15. + 16.,
    ];
    assert_eq!(y, manual);
    Ok(())
}

#[test]
fn depthwise_multiplier_2_reads_input_o_over_m() -> Result<()> {
    // Channel 0 holds 1,2,3,4 and channel 1 holds 10,20,30,40 over the 2×2 pixels.
    let input = [1., 10., 2., 20., 3., 30., 4., 40.];
    #[rustfmt::skip]
    let weights = vec![
        1., 0., 0., 0., // o0 ← channel 0, top-left
        0., 0., 0., 1., // o1 ← channel 0, bottom-right
        1., 1., 1., 1., // o2 ← channel 1, sum
        0., 1., 0., 0., // o3 ← channel 1, top-right
    ];
    let op = Op::Conv2d(Conv2d {
        groups: 2,
        ..conv(4, 2, weights)
    });
    assert_eq!(
        run_single_op(Shape::new(2, 2, 2), op, &input)?,
        vec![1., 4., 100., 20.]
    );
    Ok(())
}

#[test]
fn grouped_conv_groups_2_reads_its_own_channels() -> Result<()> {
    let bias = Some(vec![0.5, -0.5]);
    let op = Op::Conv2d(Conv2d {
        groups: 2,
        bias,
        ..conv(2, 1, vec![1., 10., 100., 1000.])
    });
    let y = run_single_op(Shape::new(1, 1, 4), op, &[1., 2., 3., 4.])?;
    assert_eq!(y, vec![1. + 20. + 0.5, 300. + 4000. - 0.5]);
    Ok(())
}

#[test]
fn batch_norm_follows_the_formula() -> Result<()> {
    let (gamma, beta, mean, var) = (vec![2., -1.], vec![1., 0.], vec![3., 0.], vec![3., 0.25]);
    let bn = Op::BatchNorm(BatchNorm {
        gamma,
        beta,
        mean,
        var,
        eps: 1.0,
    });
    // Channel 0: 2 (x - 3) / sqrt(4) + 1 = x - 2. Channel 1: -x / sqrt(1.25).
    let y = run_single_op(Shape::new(1, 2, 2), bn, &[5.0, 1.0, -1.0, -2.0])?;
    let root = 1.25f32.sqrt();
    assert_close(&y, &[3.0, -1.0 / root, -3.0, 2.0 / root], 1e-6);
    Ok(())
}

#[test]
fn activations_at_chosen_points() -> Result<()> {
    let xs = [-4.0, -3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0, 7.0];
    let hard_swish = [
        0.,
        0.,
        -2.5 / 12.,
        -1. / 3.,
        0.,
        2. / 3.,
        2.5 * 5.5 / 6.,
        3.,
        7.,
    ];
    let hard_sigmoid = [0., 0., 0.5 / 6., 2. / 6., 0.5, 4. / 6., 5.5 / 6., 1., 1.];
    let cases = [
        (Activation::Relu, [0., 0., 0., 0., 0., 1., 2.5, 3., 7.]),
        (Activation::Relu6, [0., 0., 0., 0., 0., 1., 2.5, 3., 6.]),
        (Activation::HardSwish, hard_swish),
        (Activation::HardSigmoid, hard_sigmoid),
        (
            Activation::KerasHardSigmoid,
            [0., 0., 0., 0.3, 0.5, 0.7, 1., 1., 1.],
        ),
        (
            Activation::Clamp {
                min: -1.0,
                max: 2.0,
            },
            [-1., -1., -1., -1., 0., 1., 2., 2., 2.],
        ),
        (
            Activation::Sigmoid,
            xs.map(|x: f32| 1.0 / (1.0 + (-x).exp())),
        ),
    ];
    for (act, expected) in cases {
        let y = run_single_op(Shape::new(1, 1, 9), Op::Activation(act), &xs)?;
        assert_close(&y, &expected, 1e-6);
    }
    let sigmoid = run_single_op(
        Shape::new(1, 1, 1),
        Op::Activation(Activation::Sigmoid),
        &[0.],
    )?;
    assert_eq!(sigmoid, vec![0.5]);
    Ok(())
}

#[test]
fn add_and_mul_channel_broadcast_per_image() -> Result<()> {
    let mut graph = Graph::new(Shape::new(1, 2, 2))?;
    let x = graph.input();
    let mean = graph.add("mean", Op::GlobalAvgPool, &[x])?;
    let scaled = graph.add("scaled", Op::MulChannel, &[x, mean])?;
    let sum = graph.add("sum", Op::Add, &[scaled, x])?;
    // Image 0 has channel means (2, 3); image 1 has (1, 0).
    let input = [1., 2., 3., 4., 0., 1., 2., -1.];
    let outputs = cpu::run(&graph, &input, 2)?;
    assert_eq!(outputs[mean.0], vec![2., 3., 1., 0.]);
    assert_eq!(outputs[scaled.0], vec![2., 6., 6., 12., 0., 0., 2., 0.]);
    assert_eq!(outputs[sum.0], vec![3., 8., 9., 16., 0., 1., 4., -1.]);
    Ok(())
}

#[test]
fn avg_pool_counts_only_in_bounds_elements() -> Result<()> {
    let padding = Padding::same(3, 3, 2, 2);
    assert_eq!(padding, pad(0, 1, 0, 1));
    let strided = Op::AvgPool(AvgPool {
        kernel: 2,
        stride: 2,
        padding,
    });
    let y = run_single_op(Shape::new(3, 3, 1), strided, &ramp(9))?;
    assert_eq!(
        y,
        vec![(1. + 2. + 4. + 5.) / 4., (3. + 6.) / 2., (7. + 8.) / 2., 9.]
    );

    let centred = Op::AvgPool(AvgPool {
        kernel: 3,
        stride: 1,
        padding: Padding::uniform(1),
    });
    let y = run_single_op(Shape::new(3, 3, 1), centred, &ramp(9))?;
    assert_eq!(y[0], (1. + 2. + 4. + 5.) / 4.);
    assert_eq!(y[1], (1. + 2. + 3. + 4. + 5. + 6.) / 6.);
    assert_eq!(y[4], 5.0);
    Ok(())
}

#[test]
fn global_avg_pool_dense_flatten_and_dropout() -> Result<()> {
    let mut graph = Graph::new(Shape::new(2, 1, 2))?;
    let pooled = graph.add("pool", Op::GlobalAvgPool, &[graph.input()])?;
    let flat = graph.add("flatten", Op::Flatten, &[graph.input()])?;
    let dropped = graph.add("dropout", Op::Dropout, &[pooled])?;
    let weights = vec![1., 0., 0., 1., 2., -1.];
    let dense = Dense {
        out_features: 3,
        weights,
        bias: Some(vec![0., 0., 10.]),
    };
    let logits = graph.add("dense", Op::Dense(dense), &[dropped])?;
    let outputs = cpu::run(&graph, &[1., 10., 3., 30.], 1)?;
    assert_eq!(outputs[pooled.0], vec![2., 20.]);
    assert_eq!(outputs[flat.0], vec![1., 10., 3., 30.]);
    assert_eq!(outputs[dropped.0], outputs[pooled.0]);
    assert_eq!(outputs[logits.0], vec![2., 20., 4. - 20. + 10.]);
    Ok(())
}

#[test]
fn softmax_sums_to_one_and_is_stable_for_large_logits() -> Result<()> {
    let shape = Shape::new(1, 2, 3);
    let small = run_single_op(shape, Op::Softmax, &[0., 1., 2., 5., 5., 5.])?;
    let large = run_single_op(
        shape,
        Op::Softmax,
        &[1000., 1001., 1002., -1e30, -1e30, -1e30],
    )?;
    let e = [1.0f32, 1f32.exp(), 2f32.exp()];
    let total: f32 = e.iter().sum();
    let third = 1.0 / 3.0;
    let expected = [
        e[0] / total,
        e[1] / total,
        e[2] / total,
        third,
        third,
        third,
    ];
    assert_close(&small, &expected, 1e-6);
    assert_close(&large, &expected, 1e-6);
    for pixel in small.chunks(3).chain(large.chunks(3)) {
        assert!((pixel.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    Ok(())
}

#[test]
fn concat_keeps_input_order_per_pixel() -> Result<()> {
    let mut graph = Graph::new(Shape::new(1, 2, 1))?;
    let x = graph.input();
    let doubled = graph.add("double", Op::Conv2d(conv(2, 1, vec![2.0, -1.0])), &[x])?;
    graph.add("concat", Op::Concat, &[doubled, x, doubled])?;
    let y = cpu::run_output(&graph, &[1.0, 3.0], 1)?;
    assert_eq!(y, vec![2., -1., 1., 2., -1., 6., -3., 3., 6., -3.]);
    Ok(())
}

/// A small network touching every op, with deterministic random weights.
fn every_op_network(rng: &mut ChaCha8Rng) -> Result<Graph> {
    let mut graph = Graph::new(Shape::new(7, 5, 3))?;
    let padding = Padding::same(7, 5, 3, 2);
    let stem = Conv2d {
        stride: 2,
        padding,
        ..conv(4, 3, random_values(rng, 4 * 9 * 3))
    };
    let stem = graph.add("stem", Op::Conv2d(stem), &[graph.input()])?;
    let (gamma, beta, mean) = (
        random_values(rng, 4),
        random_values(rng, 4),
        random_values(rng, 4),
    );
    let bn = BatchNorm {
        gamma,
        beta,
        mean,
        var: vec![0.5; 4],
        eps: 1e-3,
    };
    let bn = graph.add("bn", Op::BatchNorm(bn), &[stem])?;
    let act = graph.add("act", Op::Activation(Activation::HardSwish), &[bn])?;
    let padding = Padding::uniform(1);
    let dw = Conv2d {
        groups: 4,
        padding,
        ..conv(8, 3, random_values(rng, 8 * 9))
    };
    let dw = graph.add("dw", Op::Conv2d(dw), &[act])?;
    let se = graph.add("se", Op::GlobalAvgPool, &[dw])?;
    let gate = graph.add("gate", Op::Activation(Activation::HardSigmoid), &[se])?;
    let scaled = graph.add("scale", Op::MulChannel, &[dw, gate])?;
    let joined = graph.add("concat", Op::Concat, &[scaled, dw])?;
    let pool = AvgPool {
        kernel: 2,
        stride: 2,
        padding: Padding::same(4, 3, 2, 2),
    };
    let pooled = graph.add("pool", Op::AvgPool(pool), &[joined])?;
    let flat = graph.add("flatten", Op::Flatten, &[pooled])?;
    let (weights, bias) = (random_values(rng, 5 * 64), Some(random_values(rng, 5)));
    let logits = graph.add(
        "dense",
        Op::Dense(Dense {
            out_features: 5,
            weights,
            bias,
        }),
        &[flat],
    )?;
    graph.add("softmax", Op::Softmax, &[logits])?;
    Ok(graph)
}

#[test]
fn batch_2_equals_two_batch_1_runs() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let graph = every_op_network(&mut rng)?;
    let per_image = graph.input_shape().len();
    let input = random_values(&mut rng, 2 * per_image);
    let both = cpu::run(&graph, &input, 2)?;
    let first = cpu::run(&graph, &input[..per_image], 1)?;
    let second = cpu::run(&graph, &input[per_image..], 1)?;
    for (i, node) in graph.nodes().iter().enumerate() {
        assert_eq!(both[i].len(), 2 * node.shape.len(), "node {}", node.name);
        let separate = [first[i].as_slice(), &second[i]].concat();
        assert_eq!(both[i], separate, "node {}", node.name);
    }
    assert_eq!(cpu::run_output(&graph, &input, 2)?, both[graph.output().0]);
    Ok(())
}

#[test]
fn run_output_follows_set_output() -> Result<()> {
    let mut graph = Graph::new(Shape::new(1, 1, 2))?;
    let relu = graph.add("relu", Op::Activation(Activation::Relu), &[graph.input()])?;
    graph.add("softmax", Op::Softmax, &[relu])?;
    graph.set_output(relu)?;
    assert_eq!(cpu::run_output(&graph, &[-1.0, 2.0], 1)?, vec![0.0, 2.0]);
    Ok(())
}

/// Asserts `result` is an `InvalidArgument` whose message names every one of `numbers`.
fn assert_invalid_argument<T: std::fmt::Debug>(result: Result<T>, numbers: &[&str]) {
    match result {
        Err(Error::InvalidArgument(message)) => {
            for n in numbers {
                assert!(message.contains(n), "`{message}` does not mention {n}");
            }
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn rejects_batch_0_and_wrong_input_length() -> Result<()> {
    let graph = Graph::new(Shape::new(2, 2, 3))?;
    assert_invalid_argument(cpu::run(&graph, &[0.0; 12], 0), &["0", "12"]);
    assert_invalid_argument(cpu::run_output(&graph, &[0.0; 13], 1), &["13", "12"]);
    assert_invalid_argument(cpu::run(&graph, &[0.0; 12], 2), &["24", "12"]);
    Ok(())
}

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
