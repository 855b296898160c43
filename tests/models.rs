//! Architecture builders: sizes against published figures, shapes, determinism and
//! option validation.

use mobilenet_wgpu::graph::{Graph, Op, Shape};
use mobilenet_wgpu::models::{build, make_divisible, Arch, ArchConfig, Head};
use mobilenet_wgpu::Error;

fn config(arch: Arch, alpha: f32, resolution: Option<usize>, head: Option<Head>) -> ArchConfig {
    ArchConfig {
        alpha,
        resolution,
        head,
        ..ArchConfig::new(arch)
    }
}

fn build_default(arch: Arch) -> Graph {
    build(&ArchConfig::new(arch), 0).unwrap()
}

/// Asserts `actual` is within `percent` % of `expected`.
fn assert_close(what: &str, actual: usize, expected: f64, percent: f64) {
    let error = (actual as f64 - expected).abs() / expected * 100.0;
    assert!(
        error <= percent,
        "{what}: {actual} is {error:.2}% away from {expected}"
    );
}

// Parameter references are the "Total params" of Keras' `model.summary()` for the
// ImageNet models with their top (BatchNorm counted as 4 per channel, as `totals` does):
// MobileNet 4,253,864; MobileNetV2 3,538,984; MobileNetV3Large 5,507,432;
// MobileNetV3Small 2,554,968. MAC references are the papers' multiply-adds: V1 569M
// (table 8), V2 300M (table 4), V3-Large 219M and V3-Small 56M (table 3). The papers
// count parameters without BatchNorm, hence 4.2M / 3.4M / 5.4M / 2.5M there.

#[test]
fn v1_matches_published_size() {
    let totals = build_default(Arch::V1).totals();
    assert_close("v1 params", totals.params, 4_253_864.0, 0.1);
    assert_close("v1 MACs", totals.macs, 569e6, 0.5);
}

#[test]
fn v2_matches_published_size() {
    let totals = build_default(Arch::V2).totals();
    assert_close("v2 params", totals.params, 3_538_984.0, 0.1);
    assert_close("v2 MACs", totals.macs, 300e6, 0.5);
}

#[test]
fn v3_large_matches_published_size() {
    let totals = build_default(Arch::V3Large).totals();
    assert_close("v3-large params", totals.params, 5_507_432.0, 0.1);
    // The paper's 219M also counts the element-wise work of h-swish and SE; the
    // convolutions and dense layers alone come to 216.6M.
    assert_close("v3-large MACs", totals.macs, 219e6, 1.5);
}

#[test]
fn v3_small_matches_published_size() {
    let totals = build_default(Arch::V3Small).totals();
    assert_close("v3-small params", totals.params, 2_554_968.0, 0.1);
    assert_close("v3-small MACs", totals.macs, 56e6, 1.5);
}

#[test]
fn v3_small_with_1280_head_adds_the_wider_penultimate_layer() {
    let mut config = ArchConfig::new(Arch::V3Small);
    config.v3.small_head_1280 = true;
    let wide = build(&config, 0).unwrap().totals();
    // 256 more units, each with 576 inputs + bias and 1000 outputs.
    let default = build_default(Arch::V3Small).totals();
    assert_eq!(wide.params - default.params, 256 * (576 + 1 + 1000));
    assert_close("v3-small-1280 params", wide.params, 2.96e6, 0.5);
}

#[test]
fn without_squeeze_excite_v3_loses_its_se_layers() {
    let mut config = ArchConfig::new(Arch::V3Large);
    config.v3.se_ratio = 0.0;
    let graph = build(&config, 0).unwrap();
    assert!(!graph.nodes().iter().any(|n| matches!(n.op, Op::MulChannel)));
    assert!(graph.totals().params < build_default(Arch::V3Large).totals().params);
}

#[test]
fn output_shapes() {
    let cases = [
        (
            config(Arch::V2, 0.35, Some(96), None),
            Shape::new(1, 1, 1000),
        ),
        (
            config(Arch::V1, 0.25, Some(128), Some(Head::Embedding(128))),
            Shape::new(1, 1, 128),
        ),
        (
            config(Arch::V3Small, 0.75, Some(160), Some(Head::Classifier(5))),
            Shape::new(1, 1, 5),
        ),
        (ArchConfig::new(Arch::V2K7), Shape::new(1, 1, 10)),
    ];
    for (config, expected) in cases {
        let graph = build(&config, 3).unwrap();
        assert_eq!(graph.output_shape(), expected, "{config:?}");
    }
}

#[test]
fn embedding_head_ends_in_an_unscaled_batch_norm() {
    let graph = build(&config(Arch::V1, 0.25, None, Some(Head::Embedding(64))), 0).unwrap();
    assert_eq!(graph.input_shape(), Shape::new(160, 160, 3));
    let Op::BatchNorm(bn) = &graph.node(graph.output()).op else {
        panic!("not a BatchNorm")
    };
    assert!(bn.gamma.iter().all(|&g| g == 1.0));
    assert_eq!(bn.eps, 1e-5);
}

#[test]
fn v2_k7_reaches_a_4x4_feature_map_with_both_depthwise_branches() {
    let graph = build_default(Arch::V2K7);
    assert_eq!(graph.input_shape(), Shape::new(32, 32, 3));
    let last = graph.nodes().iter().find(|n| n.name == "Conv_1").unwrap();
    assert_eq!(last.shape, Shape::new(4, 4, 1280));
    let kernels = |k: usize| {
        let is_depthwise_k =
            |op: &Op| matches!(op, Op::Conv2d(c) if c.groups > 1 && c.kernel_h == k);
        graph
            .nodes()
            .iter()
            .filter(|n| is_depthwise_k(&n.op))
            .count()
    };
    assert_eq!((kernels(7), kernels(3)), (17, 17));
}

#[test]
fn keras_layer_names() {
    let names = |arch| {
        build_default(arch)
            .nodes()
            .iter()
            .map(|n| n.name.clone())
            .collect::<Vec<_>>()
    };
    let v2 = names(Arch::V2);
    for name in [
        "Conv1",
        "block_3_depthwise",
        "block_3_project_BN",
        "block_5_add",
        "out_relu",
    ] {
        assert!(v2.iter().any(|n| n == name), "v2 lacks {name}");
    }
    let v3 = names(Arch::V3Large);
    for name in [
        "expanded_conv_6/expand",
        "expanded_conv_11/squeeze_excite/Conv",
        "Logits",
    ] {
        assert!(v3.iter().any(|n| n == name), "v3-large lacks {name}");
    }
}

fn all_weights(graph: &Graph) -> Vec<f32> {
    let mut values = Vec::new();
    for node in graph.nodes() {
        match &node.op {
            Op::Conv2d(conv) => values.extend(&conv.weights),
            Op::BatchNorm(bn) => values.extend(bn.gamma.iter().chain(&bn.mean)),
            Op::Dense(dense) => values.extend(&dense.weights),
            _ => {}
        }
    }
    values
}

#[test]
fn same_seed_gives_identical_weights_and_other_seeds_differ() {
    let config = config(Arch::V3Small, 0.5, Some(64), None);
    let a = all_weights(&build(&config, 42).unwrap());
    assert_eq!(a, all_weights(&build(&config, 42).unwrap()));
    let b = all_weights(&build(&config, 43).unwrap());
    assert_eq!(a.len(), b.len());
    let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(
        differing > a.len() * 9 / 10,
        "only {differing} of {} differ",
        a.len()
    );
}

#[test]
fn make_divisible_follows_keras() {
    // (v, expected) from Keras' `_make_divisible(v, 8)`.
    let cases = [
        (32.0 * 0.35, 16),
        (24.0 * 0.75, 24),
        (3.0, 8),
        (100.0, 104),
        (96.0 * 0.35, 32),
    ];
    for (v, expected) in cases {
        assert_eq!(make_divisible(v, 8, None), expected, "v = {v}");
    }
    assert_eq!(make_divisible(1280.0 * 1.4, 8, None), 1792);
    assert_eq!(make_divisible(5.0, 8, Some(16)), 16);
    assert_eq!(make_divisible(13.0, 4, None), 12);
    assert_eq!(make_divisible(f32::NAN, 8, None), 8);
}

fn assert_invalid(config: ArchConfig, needle: &str) {
    match build(&config, 0) {
        Err(Error::InvalidArgument(message)) => assert!(message.contains(needle), "{message}"),
        other => panic!("{config:?} gave {other:?}, expected an InvalidArgument about {needle}"),
    }
}

#[test]
fn invalid_options_are_rejected() {
    for alpha in [0.0, -1.0, f32::NAN, f32::INFINITY, 100.0] {
        assert_invalid(config(Arch::V2, alpha, None, None), "alpha");
    }
    assert_invalid(config(Arch::V1, 0.02, None, None), "alpha");
    assert_invalid(config(Arch::V2, 1.0, Some(31), None), "resolution");
    assert_invalid(config(Arch::V2K7, 1.0, Some(7), None), "resolution");
    assert_invalid(config(Arch::V1, 1.0, Some(1 << 20), None), "resolution");
    assert_invalid(
        config(Arch::V1, 1.0, None, Some(Head::Classifier(0))),
        "head",
    );
    assert_invalid(
        config(Arch::V3Large, 1.0, None, Some(Head::Embedding(0))),
        "head",
    );
    let mut v3 = ArchConfig::new(Arch::V3Small);
    v3.v3.se_ratio = 1.5;
    assert_invalid(v3, "se_ratio");
    let mut v1 = ArchConfig::new(Arch::V1);
    v1.v3.keras_hard_sigmoid = true;
    assert_invalid(v1, "v1");
    let mut large = ArchConfig::new(Arch::V3Large);
    large.v3.small_head_1280 = true;
    assert_invalid(large, "small_head_1280");
}

#[test]
fn smallest_resolutions_build() {
    assert!(build(&config(Arch::V2K7, 1.0, Some(8), None), 0).is_ok());
    for arch in [Arch::V1, Arch::V2, Arch::V3Large, Arch::V3Small] {
        for resolution in [32, 33] {
            let graph = build(&config(arch, 0.5, Some(resolution), None), 0);
            assert!(graph.is_ok(), "{arch} at {resolution}: {:?}", graph.err());
        }
    }
}

/// Root mean square of one tensor.
fn rms(values: &[f32]) -> f32 {
    (values.iter().map(|v| v * v).sum::<f32>() / values.len() as f32).sqrt()
}

#[test]
fn activations_neither_explode_nor_vanish() {
    for arch in Arch::ALL {
        let resolution = if arch == Arch::V2K7 { 32 } else { 64 };
        let graph = build(&config(arch, 1.0, Some(resolution), None), 5).unwrap();
        let pixels = graph.input_shape().len();
        let input: Vec<f32> = (0..pixels)
            .map(|i| (i * 7919 % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let outputs = mobilenet_wgpu::cpu::run(&graph, &input, 1).unwrap();
        for (node, output) in graph.nodes().iter().zip(&outputs) {
            assert!(output.iter().all(|v| v.is_finite()), "{arch} {}", node.name);
            if matches!(node.op, Op::Activation(_) | Op::Add) {
                let rms = rms(output);
                assert!(
                    (0.05..5.0).contains(&rms),
                    "{arch} {}: rms {rms}",
                    node.name
                );
            }
        }
    }
}
