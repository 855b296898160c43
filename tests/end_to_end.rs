//! Every builder architecture end to end at a small resolution: the planned, fused GPU
//! path against the CPU reference on the unfused graph, layer by layer, ≤ 1e-4 relative
//! (f32 storage) or within the f16 tolerance (f16 storage), with the adapter's own kernel
//! family and with the GPU family forced.

mod common;

use mobilenet_wgpu::models::{build, Arch, ArchConfig, Head};
use mobilenet_wgpu::plan::KernelChoice;
use mobilenet_wgpu::verify::{random_input, verify_graph};
use mobilenet_wgpu::Precision;

fn check(config: &ArchConfig, batch: usize) {
    check_at(config, batch, Precision::F32, KernelChoice::Auto);
}

fn check_at(config: &ArchConfig, batch: usize, precision: Precision, kernels: KernelChoice) {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let graph = build(config, 3).expect("builder");
    let input = random_input(&graph, batch, 11);
    let report =
        verify_graph(runtime.context(), &graph, batch, &input, precision, kernels).expect("verify");
    let worst = report
        .layers
        .iter()
        .max_by(|a, b| a.max_rel_diff.total_cmp(&b.max_rel_diff));
    assert!(
        report.passed,
        "{} batch {batch} {precision} {} kernels: max relative diff {} at {:?}",
        config.arch,
        report.kernels,
        report.max_rel_diff,
        worst.map(|l| &l.name)
    );
    assert!(
        report.layers.len() == report.dispatches,
        "every dispatch was compared"
    );
}

fn config(arch: Arch, alpha: f32, resolution: usize) -> ArchConfig {
    let mut config = ArchConfig::new(arch);
    config.alpha = alpha;
    config.resolution = Some(resolution);
    config
}

#[test]
fn v1_classifier_and_embedding() {
    check(&config(Arch::V1, 0.5, 64), 2);
    let mut embedding = config(Arch::V1, 0.25, 96);
    embedding.head = Some(Head::Embedding(128));
    check(&embedding, 1);
}

#[test]
fn v2_with_alpha_above_one() {
    check(&config(Arch::V2, 1.4, 64), 1);
    check(&config(Arch::V2, 0.35, 64), 2);
}

#[test]
fn v3_large_and_small_with_seed_article_options() {
    check(&config(Arch::V3Large, 1.0, 64), 1);
    let mut small = config(Arch::V3Small, 0.75, 64);
    small.v3.se_ratio = 0.5;
    small.v3.keras_hard_sigmoid = true;
    small.v3.small_head_1280 = true;
    check(&small, 2);
}

#[test]
fn v2_k7_on_cifar_shape() {
    check(&ArchConfig::new(Arch::V2K7), 3);
}

/// Every builder with f16 storage, with the adapter's own kernels (lavapipe here: f32
/// arithmetic) and with the GPU family (f16 arithmetic in its GEMM).
#[test]
fn f16_storage_on_every_builder() {
    if common::f16_runtime().is_none() {
        return;
    }
    for kernels in [KernelChoice::Auto, KernelChoice::Gpu] {
        check_at(&config(Arch::V1, 0.5, 64), 2, Precision::F16, kernels);
        check_at(&config(Arch::V2, 1.0, 64), 1, Precision::F16, kernels);
        check_at(&config(Arch::V3Large, 1.0, 64), 1, Precision::F16, kernels);
        check_at(&config(Arch::V3Small, 1.0, 64), 3, Precision::F16, kernels);
        check_at(&ArchConfig::new(Arch::V2K7), 1, Precision::F16, kernels);
    }
}

/// Every builder in f32 with the GPU family forced (the tests above take lavapipe's own).
#[test]
fn gpu_kernels_on_every_builder() {
    let gpu = KernelChoice::Gpu;
    check_at(&config(Arch::V1, 0.5, 64), 2, Precision::F32, gpu);
    check_at(&config(Arch::V2, 1.0, 64), 1, Precision::F32, gpu);
    check_at(&config(Arch::V3Large, 1.0, 64), 2, Precision::F32, gpu);
    check_at(&config(Arch::V3Small, 1.0, 64), 3, Precision::F32, gpu);
    check_at(&ArchConfig::new(Arch::V2K7), 1, Precision::F32, gpu);
}
