//! The ONNX front-end against onnxruntime: exporter-shaped graphs written by
//! `scripts/onnx_reference.py` with onnxruntime's outputs, the shared QDQ files on the
//! shared photos, and files that must fail with a one-line error.

mod common;

use std::path::{Path, PathBuf};

use mobilenet_wgpu::io::{self, Values};
use mobilenet_wgpu::model::{DType, Format, Layout, Model};
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::{preprocess, Error, Precision};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/onnx")
        .join(name)
}

fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).expect("npy");
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    (shape, npy.into_vec::<f32>().expect("float32 npy"))
}

/// An array's shape and values.
type Array = (Vec<usize>, Vec<f32>);

/// Our output for `NAME.input.npy` as the file declares it, and onnxruntime's.
fn ours_and_onnxruntime(name: &str) -> Option<(Array, Array)> {
    let runtime = common::runtime()?;
    let model = Model::load(&data(&format!("{name}.onnx")).display().to_string())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(model.format, Format::Onnx);
    let (shape, input) = io::npy::read(&data(&format!("{name}.input.npy"))).expect("input npy");
    let (batch, graph_input) = io::graph_input(&model, &shape, &input).expect("input");
    let session = runtime.session(&model, batch).expect("session");
    let output = session.run(&graph_input).expect("run").data;
    let (out_shape, out) = io::file_output(&model, batch, &output, true);
    let Values::F32(out) = out else {
        panic!("{name}: expected a float output")
    };
    let reference = read_npy(&data(&format!("{name}.output.npy")));
    Some(((out_shape, out), reference))
}

/// Max |ours − onnxruntime| relative to onnxruntime's max |value|.
fn relative_error(ours: &[f32], reference: &[f32]) -> f32 {
    let scale = reference
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(1e-12);
    let worst = ours
        .iter()
        .zip(reference)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    worst / scale
}

#[test]
fn exporter_shaped_float_graphs_match_onnxruntime() {
    let graphs = [
        "torchvision_v2_opset13",
        "torchvision_v2_opset9",
        "torchvision_v3_small_opset14",
        "torchvision_v3_small_opset13",
        "tf2onnx_v1_nhwc",
        "tf2onnx_v3_keras",
        "flatten_gemm_opset11",
        "external_data",
        "two_outputs",
        "edge_cases",
    ];
    for name in graphs {
        let Some(((shape, ours), (ref_shape, reference))) = ours_and_onnxruntime(name) else {
            continue;
        };
        assert_eq!(shape, ref_shape, "{name}: output shape");
        let error = relative_error(&ours, &reference);
        assert!(error <= 1e-4, "{name}: max relative error {error:e}");
    }
}

#[test]
fn quantize_static_graphs_match_onnxruntime_within_their_grid() {
    // QDQ: V2-shaped (ReLU6) and V3-Small-shaped (HardSwish as HardSigmoid + Mul, SE): in
    // the second, every step of the hard swish is followed by its range clamp. QOperator
    // (QLinearConv, QLinearMatMul, QGemm, com.microsoft's QLinearAdd, QLinearMul,
    // QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat, QLinearSoftmax): the
    // same V2 (also after quant_pre_process) and V3-Small shapes, tf2onnx's V1, a conv net
    // flattened into a Gemm, and two by hand: a uint8 input read by a QLinearConv (and
    // QLinearSigmoid), int8 activations with a QLinearAdd whose output zero point is omitted.
    for name in [
        "quantize_static_qdq",
        "quantize_static_v3_qdq",
        "qoperator_v2",
        "qoperator_v2_preprocessed",
        "qoperator_v3_small",
        "qoperator_tf2onnx_v1",
        "qoperator_flatten_gemm",
        "qoperator_uint8_input",
        "qoperator_int8_add",
    ] {
        let Some(((shape, ours), (ref_shape, reference))) = ours_and_onnxruntime(name) else {
            return;
        };
        assert_eq!(shape, ref_shape, "{name}");
        // onnxruntime rounds every activation to its uint8 grid; we compute in float with
        // the grid's range as clamps, so outputs differ by a few steps of the output's
        // grid, whose step the calibrated range over 255 approximates.
        let model = Model::load(&data(&format!("{name}.onnx")).display().to_string()).unwrap();
        assert_eq!(model.output.dtype, DType::F32);
        let (lo, hi) = reference
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let step = (hi - lo) / 255.0;
        let worst = ours
            .iter()
            .zip(&reference)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            worst <= 8.0 * step,
            "{name}: max difference {worst} is over 8 output steps"
        );
        // For classifiers ([N, classes]): onnxruntime's top class is ours too, or within one
        // output step of ours (a tie on its grid, as in qoperator_flatten_gemm's second
        // image: 0.3349 vs 0.3350).
        let classes = if shape.len() == 2 { shape[1] } else { continue };
        for (a, b) in ours.chunks(classes).zip(reference.chunks(classes)) {
            let top = |v: &[f32]| (0..v.len()).max_by(|&i, &j| v[i].total_cmp(&v[j]));
            let (ours_top, reference_top) = (top(a).unwrap(), top(b).unwrap());
            assert!(
                a[ours_top] - a[reference_top] <= step,
                "{name}: top class {ours_top}, onnxruntime's {reference_top}"
            );
        }
    }
}

#[test]
fn layouts_and_types_are_the_files_own() {
    let load = |name: &str| Model::load(&data(name).display().to_string()).unwrap();
    let torch = load("torchvision_v2_opset13.onnx");
    assert_eq!(
        (torch.input.layout, torch.input.dims.clone()),
        (Layout::Nchw, vec![3, 64, 64])
    );
    assert_eq!(torch.output.dims, vec![10]);
    let tf = load("tf2onnx_v1_nhwc.onnx");
    assert_eq!(
        (tf.input.layout, tf.input.dims.clone()),
        (Layout::Nhwc, vec![48, 48, 3])
    );
    assert_eq!(tf.input.name, "input_1:0");
    // A uint8 input takes its grid from the QLinearConv reading it, as from a
    // DequantizeLinear: its real values reach the convolution with no dispatch between.
    let uint8 = load("qoperator_uint8_input.onnx");
    assert_eq!(uint8.input.dtype, DType::U8);
    let grid = uint8.input.quantization.expect("the input's grid");
    assert_eq!((grid.scale, grid.zero_point), (0.02, 128));
}

#[test]
fn batch_norm_clip_and_residuals_fold_and_fuse_like_the_builders() {
    // Every Conv → BatchNormalization → Clip is one dispatch, residual Adds included: the
    // torchvision-shaped V2 has 16 convolutions, a pool, a dense layer and nothing else.
    let model = Model::load(&data("torchvision_v2_opset13.onnx").display().to_string()).unwrap();
    let plan = Plan::build_with_precision(&model.graph, 1, Precision::F32).unwrap();
    let convs = model
        .graph
        .nodes()
        .iter()
        .filter(|n| n.op.kind() == "Conv2d")
        .count();
    assert_eq!(convs, 16);
    assert_eq!(plan.dispatch_count(), convs + 2);

    // The same network through quant_pre_process and QOperator quantization: every
    // QLinearConv (its range clamp, the residual QLinearAdd) is one dispatch too, plus the
    // clamp of the input's QuantizeLinear.
    let model = Model::load(&data("qoperator_v2_preprocessed.onnx").display().to_string());
    let plan = Plan::build_with_precision(&model.unwrap().graph, 1, Precision::F32).unwrap();
    assert_eq!(plan.dispatch_count(), convs + 3);
}

#[test]
fn the_shared_qdq_files_classify_the_photos_like_onnxruntime() {
    let (Some(runtime), Some(shared)) = (common::runtime(), common::shared_dir()) else {
        return;
    };
    let expected = std::fs::read_to_string(shared.join("expected/onnx_top5.tsv")).unwrap();
    let mut checked = 0;
    for model_name in [
        "mobilenet_v1_0.5_128_quant_qdq",
        "mobilenet_v2_1.0_224_int8_qdq",
    ] {
        let path = shared.join("models").join(format!("{model_name}.onnx"));
        let model = Model::load(&path.display().to_string()).unwrap();
        let session = runtime.session(&model, 1).unwrap();
        for line in expected
            .lines()
            .filter(|l| l.starts_with(&format!("{model_name}\t")))
        {
            let fields: Vec<&str> = line.split('\t').collect();
            if fields[2] != "1" {
                continue;
            }
            let photo = preprocess::load_image(&shared.join("images").join(fields[1])).unwrap();
            let top = session.classify(&[photo.into()], 1).unwrap()[0][0].index;
            let want: usize = fields[3].parse().unwrap();
            // V1 0.5/128 on grace_hopper: classes 401 and 653 tie on the uint8 output grid.
            let tie = fields[1] == "grace_hopper.bmp" && model_name.starts_with("mobilenet_v1");
            let ok = top == want || (tie && [401, 653].contains(&top));
            assert!(
                ok,
                "{model_name} / {}: top-1 {top}, onnxruntime {want}",
                fields[1]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 20);
}

/// The one-line reason of a model error.
fn model_error(result: Result<Model, Error>) -> String {
    match result {
        Err(Error::Model { reason, .. }) => {
            assert!(!reason.contains('\n'), "multi-line error: {reason}");
            reason
        }
        other => panic!("expected a model error, got {other:?}"),
    }
}

/// Why loading test file `name` fails.
fn refusal(name: &str) -> String {
    model_error(Model::load(&data(name).display().to_string()))
}

#[test]
fn an_unsupported_operator_is_named_with_its_node_and_opset() {
    let reason = refusal("unsupported_op.onnx");
    assert!(reason.contains("(Elu, opset 13)"), "{reason}");
    assert!(reason.contains("unsupported operator"), "{reason}");
}

#[test]
fn a_users_clip_is_not_looked_through_as_a_range_clamp() {
    let reason = refusal("clip_before_gate.onnx");
    assert!(reason.contains("(Mul, opset 13)"), "{reason}");
    assert!(reason.contains("x * HardSigmoid(x)"), "{reason}");
}

#[test]
fn a_refused_qoperator_node_is_named_with_its_part() {
    let leaky = refusal("qlinearleakyrelu_refused.onnx");
    assert!(
        leaky.contains("(LeakyRelu in QLinearLeakyRelu, opset 13)"),
        "{leaky}"
    );
    assert!(leaky.contains("unsupported operator"), "{leaky}");
    let pool = refusal("qlinearglobalaveragepool_refused.onnx");
    assert!(
        pool.contains("(QLinearGlobalAveragePool, opset 13)"),
        "{pool}"
    );
    assert!(pool.contains("`channels_last` 1"), "{pool}");
    let add = refusal("qlinearadd_refused.onnx");
    assert!(
        add.contains("(QLinearAdd, opset 13): input #6 is missing"),
        "{add}"
    );
}

#[test]
fn disagreeing_shapes_are_an_error() {
    let reason = refusal("shapes_disagree.onnx");
    assert!(
        reason.contains("Conv") && reason.contains("group"),
        "{reason}"
    );
}

#[test]
fn a_missing_external_data_file_is_named() {
    let reason = refusal("missing_external.onnx");
    assert!(reason.contains("missing_external.onnx.data"), "{reason}");
}

#[test]
fn external_data_needs_the_models_folder() {
    let bytes = std::fs::read(data("external_data.onnx")).unwrap();
    let reason = model_error(Model::from_bytes(&bytes, "external_data.onnx"));
    assert!(reason.contains("side file"), "{reason}");
}

#[test]
fn truncated_and_corrupted_files_are_errors_not_panics() {
    let bytes = std::fs::read(data("torchvision_v2_opset13.onnx")).unwrap();
    for len in [1, 2, 10, 100, 1000, bytes.len() / 2, bytes.len() - 1] {
        model_error(Model::from_bytes(&bytes[..len], "truncated.onnx"));
    }
    let mut corrupted = bytes.clone();
    for i in (0..corrupted.len()).step_by(97) {
        corrupted[i] ^= 0x5a;
    }
    model_error(Model::from_bytes(&corrupted, "corrupted.onnx"));
    let reason = model_error(Model::from_bytes(b"\x01\x02 neither format", "garbage"));
    assert!(reason.contains("neither a TFLite flatbuffer"), "{reason}");
}

#[test]
fn the_format_comes_from_the_content_not_the_extension() {
    let bytes = std::fs::read(data("flatten_gemm_opset11.onnx")).unwrap();
    let model = Model::from_bytes(&bytes, "model.tflite").unwrap();
    assert_eq!(model.format, Format::Onnx);
}
