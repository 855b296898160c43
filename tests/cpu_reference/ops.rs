//! Every op against hand-computed values.

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::graph::{
    Activation, AvgPool, BatchNorm, Conv2d, Dense, Graph, Op, Padding, Shape,
};
use mobilenet_wgpu::Result;

use crate::{assert_close, conv, pad, ramp, run_single_op};

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
        (Activation::HARD_SIGMOID, hard_sigmoid),
        (
            Activation::KERAS_HARD_SIGMOID,
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
