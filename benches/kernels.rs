//! Per-kernel benchmarks at the MobileNet shapes that dominate inference time.
//!
//! Each case is a one-op graph (the squeeze-excite case is the whole SE block) with random
//! weights, planned and run through [`Executor::run`]. The executor exposes nothing
//! lighter than a full inference, so every timed iteration also uploads the op's input
//! and reads back its output; for the large-activation cases that transfer is a real
//! part of the figure, so compare kernels at the same shape rather than across shapes.
//!
//! Every case runs with f32 storage, and again with f16 storage (`_f16`) where the adapter
//! has SHADER_F16. Sized to finish in a few minutes on a software Vulkan adapter
//! (lavapipe): ten flat samples per case and short warm-up and measurement windows.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use mobilenet_wgpu::gpu::{Executor, GpuContext};
use mobilenet_wgpu::graph::{Activation, Conv2d, Dense, Graph, Op, Padding, Shape};
use mobilenet_wgpu::models::{self, Arch, ArchConfig};
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::verify::random_input;
use mobilenet_wgpu::{Precision, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How many of MobileNetV2's pointwise convolutions (by MACs) get a case.
const POINTWISE_CASES: usize = 4;

/// One benchmark: a name and the graph it runs.
struct Case {
    name: String,
    graph: Graph,
}

/// The convolutions to benchmark: input shape, output channels, kernel, stride, groups.
struct ConvCase {
    label: &'static str,
    input: Shape,
    out: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
}

/// The stem and the depthwise shapes: MobileNetV2's largest 3×3 ones and
/// MobileNetV3-Large's 5×5 ones (stride 2 at 56×56×72, stride 1 at 28×28×120).
fn conv_cases() -> Vec<ConvCase> {
    let depthwise = |kernel, stride, input: Shape| ConvCase {
        label: "depthwise",
        input,
        out: input.c,
        kernel,
        stride,
        groups: input.c,
    };
    vec![
        ConvCase {
            label: "stem_conv",
            input: Shape::new(224, 224, 3),
            out: 32,
            kernel: 3,
            stride: 2,
            groups: 1,
        },
        depthwise(3, 1, Shape::new(112, 112, 32)),
        depthwise(3, 2, Shape::new(112, 112, 96)),
        depthwise(3, 1, Shape::new(56, 56, 144)),
        depthwise(5, 2, Shape::new(56, 56, 72)),
        depthwise(5, 1, Shape::new(28, 28, 120)),
    ]
}

fn random(rng: &mut ChaCha8Rng, count: usize, fan_in: usize) -> Vec<f32> {
    let scale = (1.0 / fan_in as f32).sqrt();
    (0..count)
        .map(|_| rng.random_range(-scale..scale))
        .collect()
}

/// A biased convolution with TF "SAME" padding and random weights.
fn conv_op(rng: &mut ChaCha8Rng, input: Shape, spec: &ConvCase) -> Op {
    let fan_in = spec.kernel * spec.kernel * (input.c / spec.groups);
    let padding = if spec.kernel == 1 && spec.stride == 1 {
        Padding::default()
    } else {
        Padding::same(input.h, input.w, spec.kernel, spec.stride)
    };
    Op::Conv2d(Conv2d {
        out_channels: spec.out,
        kernel_h: spec.kernel,
        kernel_w: spec.kernel,
        stride: spec.stride,
        padding,
        groups: spec.groups,
        weights: random(rng, spec.out * fan_in, fan_in),
        bias: Some(random(rng, spec.out, 1)),
    })
}

fn conv_case(rng: &mut ChaCha8Rng, spec: &ConvCase) -> Result<Case> {
    let mut graph = Graph::new(spec.input)?;
    let x = graph.input();
    graph.add("conv", conv_op(rng, spec.input, spec), &[x])?;
    let name = format!(
        "{}_{k}x{k}_s{}_{}",
        spec.label,
        spec.stride,
        spec.input,
        k = spec.kernel
    );
    Ok(Case { name, graph })
}

/// The `count` distinct (input shape, output channels) pairs of MobileNetV2 (224×224)
/// pointwise convolutions with the most MACs, largest first.
fn largest_v2_pointwise(count: usize) -> Result<Vec<(Shape, usize)>> {
    let graph = models::build(&ArchConfig::new(Arch::V2), 0)?;
    let mut convs: Vec<(usize, Shape, usize)> = graph
        .nodes()
        .iter()
        .enumerate()
        .filter_map(|(i, node)| match &node.op {
            Op::Conv2d(conv) if conv.is_pointwise() => Some((
                graph.layer_stats(i).macs,
                graph.shape(node.inputs[0]),
                conv.out_channels,
            )),
            _ => None,
        })
        .collect();
    convs.sort_by_key(|&(macs, s, out)| (std::cmp::Reverse(macs), s.h, s.w, s.c, out));
    convs.dedup_by_key(|&mut (_, s, out)| (s, out));
    Ok(convs
        .into_iter()
        .take(count)
        .map(|(_, s, out)| (s, out))
        .collect())
}

fn pointwise_case(rng: &mut ChaCha8Rng, input: Shape, out: usize) -> Result<Case> {
    let spec = ConvCase {
        label: "pointwise",
        input,
        out,
        kernel: 1,
        stride: 1,
        groups: 1,
    };
    let mut case = conv_case(rng, &spec)?;
    case.name = format!("pointwise_{input}_to_{out}");
    Ok(case)
}

/// MobileNetV3-Large's squeeze-excite block at 28×28×120 (squeezed to 32 channels):
/// global pool, 1×1 conv + ReLU, 1×1 conv + hard sigmoid, channel-wise multiply.
fn squeeze_excite_case(rng: &mut ChaCha8Rng) -> Result<Case> {
    let (input, squeezed) = (Shape::new(28, 28, 120), 32);
    let pointwise = |out| ConvCase {
        label: "se",
        input,
        out,
        kernel: 1,
        stride: 1,
        groups: 1,
    };
    let mut graph = Graph::new(input)?;
    let x = graph.input();
    let s = graph.add("pool", Op::GlobalAvgPool, &[x])?;
    let s = graph.add(
        "reduce",
        conv_op(rng, graph.shape(s), &pointwise(squeezed)),
        &[s],
    )?;
    let s = graph.add("relu", Op::Activation(Activation::Relu), &[s])?;
    let s = graph.add(
        "expand",
        conv_op(rng, graph.shape(s), &pointwise(120)),
        &[s],
    )?;
    let s = graph.add("gate", Op::Activation(Activation::HARD_SIGMOID), &[s])?;
    graph.add("scale", Op::MulChannel, &[x, s])?;
    Ok(Case {
        name: format!("squeeze_excite_{input}"),
        graph,
    })
}

/// The classifier of V2 and V3-Large: 1280 features to 1000 classes.
fn dense_case(rng: &mut ChaCha8Rng) -> Result<Case> {
    let (features, classes) = (1280, 1000);
    let mut graph = Graph::new(Shape::new(1, 1, features))?;
    let x = graph.input();
    let dense = Dense {
        out_features: classes,
        weights: random(rng, classes * features, features),
        bias: Some(random(rng, classes, 1)),
    };
    graph.add("dense", Op::Dense(dense), &[x])?;
    Ok(Case {
        name: format!("dense_{features}_to_{classes}"),
        graph,
    })
}

fn cases() -> Result<Vec<Case>> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut cases = Vec::new();
    for spec in conv_cases() {
        cases.push(conv_case(&mut rng, &spec)?);
    }
    for (input, out) in largest_v2_pointwise(POINTWISE_CASES)? {
        cases.push(pointwise_case(&mut rng, input, out)?);
    }
    cases.push(squeeze_excite_case(&mut rng)?);
    cases.push(dense_case(&mut rng)?);
    Ok(cases)
}

/// The device, or `None` after a note when there is none (a failure under `CI=true`).
fn context() -> Option<GpuContext> {
    match GpuContext::new(None) {
        Ok(ctx) => {
            eprintln!("adapter: {}", ctx.describe());
            Some(ctx)
        }
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI needs a GPU adapter: {e}")
        }
        Err(e) => {
            eprintln!("skipping kernel benchmarks: {e}");
            None
        }
    }
}

fn bench_kernels(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let mut group = c.benchmark_group("kernels");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let mut precisions = vec![(Precision::F32, "")];
    if ctx.device.features().contains(wgpu::Features::SHADER_F16) {
        precisions.push((Precision::F16, "_f16"));
    }
    for case in cases().expect("building the benchmark graphs") {
        for &(precision, suffix) in &precisions {
            let plan = Plan::build_with_precision(&case.graph, 1, precision).expect("planning");
            let executor = Executor::new(&ctx, &plan).expect("creating the executor");
            let input = random_input(&case.graph, 1, 0);
            executor.run(&input).expect("first inference");
            group.bench_function(format!("{}{suffix}", case.name), |b| {
                b.iter(|| executor.run(&input).expect("inference"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_kernels);
criterion_main!(benches);
