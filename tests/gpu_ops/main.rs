//! Per-operator GPU-vs-CPU checks over many shapes: each case builds a tiny graph, runs
//! the CPU reference and the planned GPU execution, and compares the outputs.
//!
//! Without a GPU adapter the tests pass with a note, except under `CI=true`, where a
//! missing adapter is a failure (CI installs lavapipe).

mod convolutions;
mod executor;
mod layers;
mod separable;

use std::sync::OnceLock;

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::gpu::{Executor, GpuContext};
use mobilenet_wgpu::graph::{Activation, Conv2d, Graph, Op, Padding, Shape};
use mobilenet_wgpu::plan::{KernelFamily, Plan};
use mobilenet_wgpu::Precision;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The shared device, or `None` (after a note) when there is none outside CI.
pub fn context() -> Option<&'static GpuContext> {
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

pub fn random(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

/// Runs `graph` on the CPU and the GPU, with both kernel families, and asserts the outputs
/// agree to 1e-4 of their largest magnitude; `kernel` is the GPU kernel the case exists to
/// exercise.
pub fn check(graph: &Graph, batch: usize, seed: u64, kernel: &str) {
    let Some(ctx) = context() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let input = random(&mut rng, graph.input_shape().len() * batch, 2.0);
    let expected = cpu::run_output(graph, &input, batch).expect("cpu reference");
    let mut ran = Vec::new();
    for family in [KernelFamily::CpuAdapter, KernelFamily::Gpu] {
        let plan = Plan::build_for(graph, batch, Precision::F32, family).expect("plan");
        ran.extend(plan.steps.iter().map(|s| s.kernel.name()));
        let executor = Executor::new(ctx, &plan).expect("executor");
        let actual = executor.run(&input).expect("gpu run");
        let name = &graph.node(graph.output()).name;
        assert_close(
            &actual,
            &expected,
            &format!("{name} (batch {batch}, {family} kernels)"),
        );
    }
    assert!(ran.contains(&kernel), "the plans run {ran:?}, not {kernel}");
}

/// Like [`check`] with f16 storage and the GPU family (whose workgroup tiles hold f16, and
/// whose GEMM also multiplies in f16): within 1e-2 of the output's largest magnitude, room
/// for one layer's roundings of its inputs, weights, short sums and output.
pub fn check_gpu_f16(graph: &Graph, batch: usize, seed: u64, kernel: &str) {
    let Some(ctx) = context() else { return };
    if !ctx.device.features().contains(wgpu::Features::SHADER_F16) {
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let input = random(&mut rng, graph.input_shape().len() * batch, 2.0);
    let expected = cpu::run_output(graph, &input, batch).expect("cpu reference");
    let plan = Plan::build_for(graph, batch, Precision::F16, KernelFamily::Gpu).expect("plan");
    let ran: Vec<_> = plan.steps.iter().map(|s| s.kernel.name()).collect();
    assert!(ran.contains(&kernel), "the plan runs {ran:?}, not {kernel}");
    let actual = Executor::new(ctx, &plan)
        .expect("executor")
        .run(&input)
        .expect("gpu run");
    let name = &graph.node(graph.output()).name;
    assert_within(
        &actual,
        &expected,
        1e-2,
        &format!("{name} (batch {batch}, f16)"),
    );
}

pub fn assert_close(actual: &[f32], expected: &[f32], what: &str) {
    assert_within(actual, expected, 1e-4, what);
}

/// Every element within `relative` of the largest expected magnitude.
fn assert_within(actual: &[f32], expected: &[f32], relative: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: output length");
    let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let tolerance = relative * scale + 1e-7;
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance,
            "{what}: element {i} is {a}, expected {e} (tolerance {tolerance})"
        );
    }
}

pub struct ConvSpec {
    pub out: usize,
    pub k: usize,
    pub stride: usize,
    pub groups: usize,
    pub padding: Padding,
}

impl ConvSpec {
    /// TensorFlow "SAME" padding for `input`.
    pub fn same(input: Shape, out: usize, k: usize, stride: usize, groups: usize) -> Self {
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
    pub fn pointwise(out: usize) -> Self {
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

pub fn conv_op(rng: &mut ChaCha8Rng, in_c: usize, spec: &ConvSpec) -> Op {
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
pub fn conv_graph(input: Shape, spec: ConvSpec, act: Option<Activation>, seed: u64) -> Graph {
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
