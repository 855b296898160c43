//! Per-operator GPU-vs-CPU checks over many shapes: each case builds a tiny graph, runs
//! the CPU reference and the planned GPU execution, and compares the outputs.
//!
//! Without a GPU adapter the tests pass with a note, except under `CI=true`, where a
//! missing adapter is a failure (CI installs lavapipe).

use std::sync::OnceLock;

use mobilenet_wgpu::gpu::{Executor, GpuContext};
use mobilenet_wgpu::graph::{
    Activation, AvgPool, BatchNorm, Conv2d, Dense, Graph, Op, Padding, Shape, TensorId,
};
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::{cpu, Error};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The shared device, or `None` (after a note) when there is none outside CI.
fn context() -> Option<&'static GpuContext> {
    static CONTEXT: OnceLock<Option<GpuContext>> = OnceLock::new();
    let ctx = CONTEXT.get_or_init(|| match GpuContext::new(None) {
        Ok(ctx) => Some(ctx),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI needs a GPU adapter: {e}")
        }
        Err(e) => {
            eprintln!("skipping GPU tests: {e}");
            None
        }
    });
    ctx.as_ref()
}

fn random(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

/// Runs `graph` on the CPU and the GPU and asserts the outputs agree to 1e-4 of their
/// largest magnitude; `kernel` is the GPU kernel the case exists to exercise.
fn check(graph: &Graph, batch: usize, seed: u64, kernel: &str) {
    let Some(ctx) = context() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let input = random(&mut rng, graph.input_shape().len() * batch, 2.0);
    let expected = cpu::run_output(graph, &input, batch).expect("cpu reference");
    let plan = Plan::build(graph, batch).expect("plan");
    let kernels: Vec<&str> = plan.steps.iter().map(|s| s.kernel.name()).collect();
    assert!(
        kernels.contains(&kernel),
        "plan runs {kernels:?}, not {kernel}"
    );
    let executor = Executor::new(ctx, &plan).expect("executor");
    let actual = executor.run(&input).expect("gpu run");
    assert_close(
        &actual,
        &expected,
        &format!("{} (batch {batch})", graph.node(graph.output()).name),
    );
}

fn assert_close(actual: &[f32], expected: &[f32], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: output length");
    let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let tolerance = 1e-4 * scale + 1e-7;
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance,
            "{what}: element {i} is {a}, expected {e} (tolerance {tolerance})"
        );
    }
}

struct ConvSpec {
    out: usize,
    k: usize,
    stride: usize,
    groups: usize,
    padding: Padding,
}

impl ConvSpec {
    /// TensorFlow "SAME" padding for `input`.
    fn same(input: Shape, out: usize, k: usize, stride: usize, groups: usize) -> Self {
        let padding = Padding::same(input.h, input.w, k, stride);
        ConvSpec {
            out,
            k,
            stride,
            groups,
            padding,
        }
    }

    /// A 1x1 stride-1 ungrouped conv.
    fn pointwise(out: usize) -> Self {
        let padding = Padding::default();
        ConvSpec {
            out,
            k: 1,
            stride: 1,
            groups: 1,
            padding,
        }
    }
}

fn conv_op(rng: &mut ChaCha8Rng, in_c: usize, spec: &ConvSpec) -> Op {
    let count = spec.out * spec.k * spec.k * (in_c / spec.groups);
    Op::Conv2d(Conv2d {
        out_channels: spec.out,
        kernel_h: spec.k,
        kernel_w: spec.k,
        stride: spec.stride,
        padding: spec.padding,
        groups: spec.groups,
        weights: random(rng, count, 0.5),
        bias: Some(random(rng, spec.out, 0.5)),
    })
}

/// input → conv(spec) [→ activation]
fn conv_graph(input: Shape, spec: ConvSpec, act: Option<Activation>, seed: u64) -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new(input).unwrap();
    let x = g
        .add("conv", conv_op(&mut rng, input.c, &spec), &[g.input()])
        .unwrap();
    if let Some(act) = act {
        g.add("act", Op::Activation(act), &[x]).unwrap();
    }
    g
}

#[test]
fn general_conv_stem_and_groups() {
    let cases = [
        (Shape::new(17, 13, 3), 8, 3, 2, 1),
        (Shape::new(16, 16, 3), 16, 3, 2, 1),
        (Shape::new(9, 7, 8), 12, 3, 1, 2),
        (Shape::new(6, 5, 8), 8, 5, 1, 4),
        (Shape::new(11, 11, 6), 6, 7, 2, 3),
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

#[test]
fn pointwise_gemm_shapes() {
    let cases = [
        (Shape::new(7, 9, 5), 3),
        (Shape::new(8, 8, 16), 32),
        (Shape::new(5, 5, 3), 7),
        // Whole vec4s run the tiled kernel; a partial pixel tile and a half output block.
        (Shape::new(5, 7, 12), 20),
        (Shape::new(1, 1, 33), 10),
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
        Activation::HardSigmoid,
        Activation::KerasHardSigmoid,
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

#[test]
fn pooling() {
    for (i, shape) in [
        Shape::new(7, 5, 11),
        Shape::new(1, 1, 4),
        Shape::new(8, 8, 64),
    ]
    .into_iter()
    .enumerate()
    {
        let mut g = Graph::new(shape).unwrap();
        g.add("gap", Op::GlobalAvgPool, &[g.input()]).unwrap();
        check(&g, 1 + i, 60 + i as u64, "global_avg_pool");
    }
    let windows = [
        (Shape::new(9, 7, 5), 3, 2),
        (Shape::new(8, 8, 3), 2, 2),
        (Shape::new(6, 7, 4), 3, 1),
    ];
    for (i, (shape, kernel, stride)) in windows.into_iter().enumerate() {
        let pool = AvgPool {
            kernel,
            stride,
            padding: Padding::same(shape.h, shape.w, kernel, stride),
        };
        let mut g = Graph::new(shape).unwrap();
        g.add("pool", Op::AvgPool(pool), &[g.input()]).unwrap();
        check(&g, 2, 70 + i as u64, "avg_pool");
    }
}

fn dense_op(rng: &mut ChaCha8Rng, inputs: usize, outputs: usize) -> Op {
    let weights = random(rng, inputs * outputs, 0.3);
    Op::Dense(Dense {
        out_features: outputs,
        weights,
        bias: Some(random(rng, outputs, 0.3)),
    })
}

#[test]
fn dense_and_softmax() {
    let mut rng = ChaCha8Rng::seed_from_u64(80);
    let mut g = Graph::new(Shape::new(3, 3, 4)).unwrap();
    let x = g.add("flatten", Op::Flatten, &[g.input()]).unwrap();
    let x = g.add("dense", dense_op(&mut rng, 36, 10), &[x]).unwrap();
    g.add("softmax", Op::Softmax, &[x]).unwrap();
    check(&g, 3, 80, "softmax");

    let mut g = Graph::new(Shape::new(1, 1, 37)).unwrap();
    g.add("dense", dense_op(&mut rng, 37, 19), &[g.input()])
        .unwrap();
    check(&g, 2, 81, "dense");

    for (i, shape) in [
        Shape::new(1, 1, 1000),
        Shape::new(3, 3, 5),
        Shape::new(1, 1, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let mut g = Graph::new(shape).unwrap();
        g.add("softmax", Op::Softmax, &[g.input()]).unwrap();
        check(&g, 2, 82 + i as u64, "softmax");
    }
}

#[test]
fn squeeze_excite_mul_channel() {
    let mut rng = ChaCha8Rng::seed_from_u64(90);
    let shape = Shape::new(6, 5, 8);
    let mut g = Graph::new(shape).unwrap();
    let s = g.add("gap", Op::GlobalAvgPool, &[g.input()]).unwrap();
    let s = g.add("fc", dense_op(&mut rng, 8, 8), &[s]).unwrap();
    let s = g
        .add("gate", Op::Activation(Activation::HardSigmoid), &[s])
        .unwrap();
    g.add("scale", Op::MulChannel, &[g.input(), s]).unwrap();
    check(&g, 3, 90, "mul_channel");
}

#[test]
fn concat_of_branches() {
    let mut rng = ChaCha8Rng::seed_from_u64(100);
    let shape = Shape::new(5, 7, 3);
    let mut g = Graph::new(shape).unwrap();
    let a = g
        .add(
            "a",
            conv_op(&mut rng, 3, &ConvSpec::pointwise(4)),
            &[g.input()],
        )
        .unwrap();
    let b = g
        .add(
            "b",
            conv_op(&mut rng, 3, &ConvSpec::pointwise(5)),
            &[g.input()],
        )
        .unwrap();
    let parts: [TensorId; 3] = [a, g.input(), b];
    g.add("concat", Op::Concat, &parts).unwrap();
    check(&g, 2, 100, "concat");
}

#[test]
fn large_elementwise_dispatch_is_split_in_2d() {
    // 512 x 512 x 17 values need more than 65535 workgroups of 64 threads.
    let mut g = Graph::new(Shape::new(512, 512, 17)).unwrap();
    g.add("act", Op::Activation(Activation::HardSwish), &[g.input()])
        .unwrap();
    check(&g, 1, 110, "elementwise");
}

#[test]
fn probes_return_every_step_and_wrong_input_is_rejected() {
    let Some(ctx) = context() else { return };
    let spec = ConvSpec {
        out: 4,
        k: 3,
        stride: 2,
        groups: 1,
        padding: Padding::uniform(1),
    };
    let mut g = conv_graph(Shape::new(9, 9, 3), spec, Some(Activation::Relu), 120);
    g.add("gap", Op::GlobalAvgPool, &[g.output()]).unwrap();
    let plan = Plan::build(&g, 2).unwrap();
    let executor = Executor::new(ctx, &plan).unwrap();
    let input = random(&mut ChaCha8Rng::seed_from_u64(121), 2 * 9 * 9 * 3, 1.0);
    let probes = executor.run_probed(&input).unwrap();
    assert_eq!(probes.len(), plan.steps.len());
    assert_eq!(probes.last().unwrap(), &executor.run(&input).unwrap());
    let reference = cpu::run(&g, &input, 2).unwrap();
    for (step, probe) in plan.steps.iter().zip(&probes) {
        assert_close(probe, &reference[step.output.tensor.0], &step.name);
    }
    let short = executor.run(&input[1..]);
    assert!(
        matches!(short, Err(Error::InvalidArgument(_))),
        "got {short:?}"
    );
}

#[test]
fn plans_that_alias_a_read_with_the_write_are_rejected() {
    let Some(ctx) = context() else { return };
    let spec = ConvSpec::pointwise(3);
    let g = conv_graph(Shape::new(4, 4, 3), spec, None, 130);
    let mut plan = Plan::build(&g, 1).unwrap();
    plan.steps[0].output.slot = plan.steps[0].inputs[0].slot;
    let err = Executor::new(ctx, &plan).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "got {err}");
}
