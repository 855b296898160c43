//! The TFLite importer on the real model files of `../shared/models` (skipped when absent,
//! except under CI=true) and on malformed files.
//!
//! Reference data in tests/data/tflite_reference/ comes from scripts/tflite_reference.py
//! (the LiteRT interpreter on the same preprocessed images).

use mobilenet_wgpu::graph::{Activation, Op, Shape};
use mobilenet_wgpu::import::{load as load_tflite, load_chain, parse as parse_tflite};
use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::{cpu, Error};
use std::path::{Path, PathBuf};

/// (file stem, input resolution, classes, parameters as counted in shared/models/MANIFEST.md)
const MODELS: &[(&str, usize, usize, usize)] = &[
    ("mobilenet_v1_0.25_128_float", 128, 1001, 467_593),
    ("mobilenet_v1_0.25_128_quant", 128, 1001, 467_593),
    ("mobilenet_v1_0.5_160_quant", 160, 1001, 1_326_633),
    ("mobilenet_v1_0.75_192_quant", 192, 1001, 2_578_121),
    ("mobilenet_v2_0.5_224_quant", 224, 1001, 1_960_689),
    ("mobilenet_v2_0.75_224_quant", 224, 1001, 2_624_385),
    ("mobilenet_v2_1.0_224_int8_ptq", 224, 1001, 3_489_097),
    ("mobilenet_v2_1.0_224_quant", 224, 1001, 3_489_097),
    (
        "mobilenet_v3_large_minimalistic_1.0_224_quant",
        224,
        1001,
        3_913_369,
    ),
    ("mobilenet_v3_small_1.0_224_quant", 224, 1001, 2_537_825),
];

const EXTRACTOR: &str = "mobilenet_v1_1.0_224_quant_embedding_extractor";
const HEAD: &str = "mobilenet_v1_1.0_224_quant_head_layers";

fn models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MOBILENET_WGPU_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "model directory {} is missing (CI=true requires it)",
            dir.display()
        );
    }
    eprintln!(
        "skipping: no model directory at {} (set MOBILENET_WGPU_MODELS)",
        dir.display()
    );
    None
}

fn model_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.tflite"))
}

fn reference(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tflite_reference")
        .join(name)
}

fn read_npy<T: npyz::Deserialize>(name: &str) -> Vec<T> {
    let bytes = std::fs::read(reference(name)).unwrap();
    npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap()
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

#[test]
fn every_shared_model_imports_with_its_shapes_and_parameter_count() {
    let Some(dir) = models_dir() else { return };
    for &(stem, res, classes, params) in MODELS {
        let model = load_tflite(&model_path(&dir, stem)).unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(model.name, stem);
        assert_eq!(model.graph.input_shape(), Shape::new(res, res, 3), "{stem}");
        assert_eq!(
            model.graph.output_shape(),
            Shape::new(1, 1, classes),
            "{stem}"
        );
        assert!(model.background_class, "{stem}");
        // V3-small's scalar ADD/MUL constants become per-channel 1x1 depthwise weights.
        let counted = model.graph.totals().params;
        assert!(
            counted >= params && counted <= params + params / 100,
            "{stem}: {counted} params, expected {params}"
        );
    }
}

#[test]
fn normalization_follows_the_input_quantization() {
    let Some(dir) = models_dir() else { return };
    let norm = |stem: &str| load_tflite(&model_path(&dir, stem)).unwrap().normalization;
    let float = norm("mobilenet_v1_0.25_128_float");
    assert_eq!((float.mean, float.std), ([127.5; 3], [127.5; 3]));
    let v1 = norm("mobilenet_v1_0.25_128_quant");
    assert_eq!((v1.mean[0], v1.std[0]), (128.0, 128.0));
    let v2 = norm("mobilenet_v2_0.5_224_quant");
    assert_eq!(v2.mean[0], 128.0);
    assert!((v2.std[0] - 127.0).abs() < 1e-3, "{v2:?}");
}

#[test]
fn quantized_ranges_become_clamps_where_no_activation_is_recorded() {
    let Some(dir) = models_dir() else { return };
    // This file records no fused activation: its 35 ReLU6 exist only as uint8 ranges ~[0, 6].
    let model = load_tflite(&model_path(&dir, "mobilenet_v2_0.5_224_quant")).unwrap();
    let relu6_like = model
        .graph
        .nodes()
        .iter()
        .filter(|n| {
            matches!(n.op, Op::Activation(Activation::Clamp { min, max }) if min == 0.0 && (max - 6.0).abs() < 0.05)
        })
        .count();
    assert!(relu6_like >= 35, "only {relu6_like} ReLU6-like clamps");
}

#[test]
fn the_split_v1_model_chains_into_one_classifier() {
    let Some(dir) = models_dir() else { return };
    let model = load_chain(&[model_path(&dir, EXTRACTOR), model_path(&dir, HEAD)]).unwrap();
    assert_eq!(model.graph.input_shape(), Shape::new(224, 224, 3));
    assert_eq!(model.graph.output_shape(), Shape::new(1, 1, 1001));
    assert_eq!(model.graph.totals().params, 3_196_032 + 1_026_025);
    assert_eq!(model.normalization.mean[0], 128.0);
    assert!(model.background_class);
}

#[test]
fn chaining_mismatched_quantizations_is_an_error() {
    let Some(dir) = models_dir() else { return };
    let err = load_chain(&[
        model_path(&dir, "mobilenet_v1_0.25_128_quant"),
        model_path(&dir, HEAD),
    ])
    .unwrap_err();
    assert!(
        matches!(&err, Error::Model { reason, .. } if reason.contains("does not match")),
        "{err}"
    );
}

#[test]
fn float_model_matches_the_tflite_interpreter() {
    let Some(dir) = models_dir() else { return };
    let model = load_tflite(&model_path(&dir, "mobilenet_v1_0.25_128_float")).unwrap();
    for image in ["chelsea", "coffee"] {
        let input: Vec<f32> = read_npy(&format!("{image}_128_input.npy"));
        let expected: Vec<f32> = read_npy(&format!("{image}_128_probs.npy"));
        let probs = cpu::run_output(&model.graph, &input, 1).unwrap();
        assert_eq!(probs.len(), expected.len());
        let worst = probs
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "{image}: max |difference| {worst}");
    }
}

/// The interpreter's top-1 class for (model, image) from shared/expected/tflite_top5.tsv.
fn interpreter_top1(dir: &Path, model: &str, image: &str) -> usize {
    let tsv = std::fs::read_to_string(dir.join("../expected/tflite_top5.tsv")).unwrap();
    tsv.lines()
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == model && f[1] == image && f[2] == "1")
        .and_then(|f| f[3].parse().ok())
        .unwrap_or_else(|| panic!("no top-1 for {model} / {image}"))
}

fn normalized_input(model: &Model, pixels: &[u8]) -> Vec<f32> {
    pixels
        .iter()
        .enumerate()
        .map(|(i, &p)| model.normalization.apply(i % 3, f32::from(p)))
        .collect()
}

/// Quantized files computed in float (with their range clamps) pick the interpreter's top-1.
#[test]
fn quantized_top1_matches_the_tflite_interpreter() {
    let Some(dir) = models_dir() else { return };
    let single = [
        "mobilenet_v2_1.0_224_quant",
        "mobilenet_v2_0.5_224_quant",
        "mobilenet_v2_1.0_224_int8_ptq",
    ];
    let mut models: Vec<(String, Model)> = single
        .iter()
        .map(|stem| {
            (
                stem.to_string(),
                load_tflite(&model_path(&dir, stem)).unwrap(),
            )
        })
        .collect();
    let chain = load_chain(&[model_path(&dir, EXTRACTOR), model_path(&dir, HEAD)]).unwrap();
    models.push((format!("{EXTRACTOR}+head_layers"), chain));
    for (name, model) in &models {
        for image in ["chelsea", "coffee"] {
            let pixels: Vec<u8> = read_npy(&format!("{image}_224_pixels.npy"));
            let probs =
                cpu::run_output(&model.graph, &normalized_input(model, &pixels), 1).unwrap();
            let expected = interpreter_top1(&dir, name, &format!("{image}.png"));
            assert_eq!(argmax(&probs), expected, "{name} on {image}");
        }
    }
}

fn tiny_model() -> Vec<u8> {
    std::fs::read(reference("unsupported_op.tflite")).unwrap()
}

fn model_error(bytes: &[u8]) -> String {
    match parse_tflite(bytes, "bad.tflite") {
        Err(Error::Model { path, reason }) => {
            assert_eq!(path, Path::new("bad.tflite"));
            reason
        }
        other => panic!("expected a model error, got {other:?}"),
    }
}

#[test]
fn an_unsupported_operator_is_named_with_its_index() {
    let err = parse_tflite(&tiny_model(), "tanh.tflite").unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedOp { op, index: 0, .. } if op == "TANH"),
        "{err:?}"
    );
}

#[test]
fn truncated_files_are_rejected() {
    let bytes = tiny_model();
    for len in [0, 7, 16, bytes.len() / 2, bytes.len() - 8] {
        let reason = model_error(&bytes[..len]);
        assert!(
            reason.contains("TFLite flatbuffer"),
            "{len} bytes: {reason}"
        );
    }
}

/// Constants stored after the flatbuffer (each buffer's offset and size, as converters write
/// files over 2 GB) import to the same network as the same constants inside it; LiteRT gives
/// the two files the same output too (scripts/fuzz_seeds.py).
#[test]
fn constants_after_the_flatbuffer_import_like_those_inside_it() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tflite");
    let run = |name: &str| {
        let bytes = std::fs::read(corpus.join(name)).unwrap();
        let model = parse_tflite(&bytes, name).unwrap();
        let input: Vec<f32> = (0..48).map(|i| (i as f32 * 0.37).sin()).collect();
        cpu::run_output(&model.graph, &input, 1).unwrap()
    };
    let (inside, outside) = (run("buffers_inside.tflite"), run("buffers_outside.tflite"));
    assert_eq!(inside.len(), 5);
    assert!(inside.iter().any(|&v| v != 0.0));
    assert_eq!(inside, outside);
    // The same file cut before its constants refers to bytes it no longer has.
    let bytes = std::fs::read(corpus.join("buffers_outside.tflite")).unwrap();
    let reason = model_error(&bytes[..bytes.len() - 64]);
    assert!(reason.contains("outside the file"), "{reason}");
}

/// A depthwise convolution dilated 3 down and 2 across (a valid file, which LiteRT runs) is
/// refused naming both dilations, in that order.
#[test]
fn dilations_are_read_from_their_own_fields() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tflite/dilated_depthwise.tflite");
    let reason = model_error(&std::fs::read(path).unwrap());
    assert!(
        reason.contains("dilation (3, 2) is not supported"),
        "{reason}"
    );
}

#[test]
fn a_wrong_file_identifier_is_rejected() {
    let mut bytes = tiny_model();
    bytes[4..8].copy_from_slice(b"ONNX");
    assert!(model_error(&bytes).contains("identifier"));
}

#[test]
fn random_bytes_are_rejected_even_with_the_right_identifier() {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for _ in 0..50 {
        let mut bytes = vec![0u8; 512];
        rng.fill_bytes(&mut bytes);
        bytes[4..8].copy_from_slice(b"TFL3");
        let reason = model_error(&bytes);
        assert!(reason.contains("not a valid TFLite flatbuffer"), "{reason}");
    }
}

#[test]
fn a_missing_file_is_an_io_error_with_its_path() {
    let path = Path::new("/nonexistent/model.tflite");
    let err = load_tflite(path).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path: p, .. } if p == path),
        "{err:?}"
    );
}
