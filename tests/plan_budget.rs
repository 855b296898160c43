//! MobileNetV2 1.0/224's deterministic execution budget at batch 1: at most one dispatch
//! per convolution plus the head, and at most 12 MB of activations in f32 (half in f16).

use mobilenet_wgpu::graph::Op;
use mobilenet_wgpu::models::{build, Arch, ArchConfig};
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::Precision;

const MAX_F32_ACTIVATION_BYTES: usize = 12_000_000;

#[test]
fn v2_runs_in_one_dispatch_per_conv_plus_the_head() {
    let graph = build(&ArchConfig::new(Arch::V2), 0).unwrap();
    let convs = graph
        .nodes()
        .iter()
        .filter(|n| matches!(n.op, Op::Conv2d(_)))
        .count();
    let plan = Plan::build(&graph, 1).unwrap();
    // Head: global pool, classifier, softmax.
    assert_eq!(convs, 52);
    assert!(
        plan.dispatch_count() <= convs + 3,
        "{}",
        plan.dispatch_count()
    );
    assert!(plan.dispatch_count() <= 56);
}

#[test]
fn v2_activations_fit_12_mb_in_f32_and_half_that_in_f16() {
    let graph = build(&ArchConfig::new(Arch::V2), 0).unwrap();
    let f32_bytes = Plan::build(&graph, 1).unwrap().peak_activation_bytes();
    let f16_bytes = Plan::build_with_precision(&graph, 1, Precision::F16)
        .unwrap()
        .peak_activation_bytes();
    assert!(f32_bytes <= MAX_F32_ACTIVATION_BYTES, "{f32_bytes}");
    assert_eq!(f16_bytes * 2, f32_bytes);
}
