//! Whole-model benchmarks: MobileNet V1, V2, V3-Small and V3-Large at 224×224 with random
//! weights, at batch 1 and 8, plus V2 with f16 storage (`v2_f16`) where the adapter has
//! SHADER_F16. Each iteration is one [`Executor::run`]: input upload, every
//! dispatch, and the readback of the probabilities (what an application pays per call).
//! Device setup, pipeline creation and the first (shader-compiling) inference happen
//! before timing; `mobilenet-wgpu bench` reports those one-time costs.
//!
//! Criterion needs at least ten samples per case, and on a software adapter (lavapipe)
//! one batch-8 V1 inference takes tens of seconds, so there the batch-8 cases are skipped
//! (batch 1 alone takes a few minutes) unless `MOBILENET_BENCH_FULL=1` is set.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use mobilenet_wgpu::gpu::{Executor, GpuContext};
use mobilenet_wgpu::models::{self, Arch, ArchConfig};
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::verify::random_input;
use mobilenet_wgpu::Precision;

const ARCHS: [Arch; 4] = [Arch::V1, Arch::V2, Arch::V3Small, Arch::V3Large];
const BATCHES: [usize; 2] = [1, 8];
/// Set to `1` to run every batch size even on a software adapter.
const FULL_ENV: &str = "MOBILENET_BENCH_FULL";

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
            eprintln!("skipping end-to-end benchmarks: {e}");
            None
        }
    }
}

/// The batch sizes worth their time on this adapter.
fn batches(ctx: &GpuContext) -> Vec<usize> {
    let software = ctx.adapter_info.device_type == wgpu::DeviceType::Cpu;
    if software && std::env::var(FULL_ENV).as_deref() != Ok("1") {
        eprintln!("software adapter: batch 1 only (set {FULL_ENV}=1 for batch 8 too)");
        return vec![1];
    }
    BATCHES.to_vec()
}

fn bench_models(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let batches = batches(&ctx);
    let mut group = c.benchmark_group("end_to_end");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(1));
    let mut cases: Vec<(Arch, Precision, String)> = ARCHS
        .iter()
        .map(|&arch| (arch, Precision::F32, arch.name().to_string()))
        .collect();
    if ctx.device.features().contains(wgpu::Features::SHADER_F16) {
        cases.push((Arch::V2, Precision::F16, "v2_f16".into()));
    }
    for (arch, precision, name) in cases {
        let graph = models::build(&ArchConfig::new(arch), 0).expect("building the model");
        for &batch in &batches {
            let plan = Plan::build_with_precision(&graph, batch, precision).expect("planning");
            let executor = Executor::new(&ctx, &plan).expect("creating the executor");
            let input = random_input(&graph, batch, 0);
            executor.run(&input).expect("first inference");
            let id = BenchmarkId::new(name.as_str(), format!("batch{batch}"));
            group.bench_with_input(id, &input, |b, input| {
                b.iter(|| executor.run(input).expect("inference"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_models);
criterion_main!(benches);
