//! The integer path against LiteRT's reference kernels (`BUILTIN_REF`): on every quantized
//! shared model and every committed input, the raw output tensor must be byte-identical to
//! the one `scripts/tflite_int_reference.py` recorded in tests/data/tflite_int_reference/.

mod common;

use std::path::{Path, PathBuf};

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::graph::TensorQuant;
use mobilenet_wgpu::io::{npy, Values};
use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::plan::KernelChoice;
use mobilenet_wgpu::runtime::{Runtime, Session};
use mobilenet_wgpu::{preprocess, Precision};

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tflite_int_reference")
}

/// The committed reference outputs: (model name, input name, raw values).
fn references() -> Vec<(String, String, Vec<i32>)> {
    let mut found = Vec::new();
    for model in std::fs::read_dir(reference_dir())
        .expect("reference dir")
        .flatten()
    {
        if !model.path().is_dir() || model.file_name() == "corpus" {
            continue;
        }
        for file in std::fs::read_dir(model.path())
            .expect("model dir")
            .flatten()
        {
            let (_, values) = npy::read(&file.path()).expect("reference npy");
            let input = file
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .to_string();
            found.push((
                model.file_name().to_string_lossy().to_string(),
                input,
                stored(values),
            ));
        }
    }
    found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    found
}

fn stored(values: Values) -> Vec<i32> {
    match values {
        Values::U8(v) => v.into_iter().map(i32::from).collect(),
        Values::I8(v) => v.into_iter().map(i32::from).collect(),
        Values::F32(_) => panic!("references are integer tensors"),
    }
}

/// The bytes of the script's LCG (`grid_bytes`): the high byte of each state.
fn grid_bytes(seed: u64, count: usize) -> Vec<i32> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as i32
        })
        .collect()
}

/// The model's stored input for `input`: a photo center-cropped and resized like PIL, or the
/// script's random bytes.
fn input_values(shared: &Path, model: &Model, input: &str) -> Vec<i32> {
    let shape = model.graph.input_shape();
    if let Some(k) = input.strip_prefix("random_") {
        return grid_bytes(1000 + k.parse::<u64>().unwrap(), shape.len());
    }
    let photo = std::fs::read_dir(shared.join("images"))
        .unwrap()
        .flatten()
        .find(|f| f.path().file_stem().is_some_and(|s| s == input))
        .unwrap_or_else(|| panic!("no photo named {input}"));
    let rgb = preprocess::load_image(&photo.path()).expect("photo");
    preprocess::center_crop_resize(&rgb, shape.w, shape.h)
        .into_iter()
        .map(|v| v as i32)
        .collect()
}

#[test]
fn the_integer_cpu_reference_is_byte_identical_to_tflite() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let mut checked = 0;
    let mut model: Option<(String, Model)> = None;
    for (name, input, expected) in references() {
        if model.as_ref().is_none_or(|(n, _)| *n != name) {
            model = Some((name.clone(), common::shared_models::load(&shared, &name)));
        }
        let graph = &model.as_ref().unwrap().1.graph;
        let x = input_values(&shared, &model.as_ref().unwrap().1, &input);
        let got = cpu::int::run_output(graph, &x, 1).unwrap_or_else(|e| panic!("{name}: {e}"));
        let differing = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
        let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).max();
        assert_eq!(
            (got.len(), differing),
            (expected.len(), 0),
            "{name} on {input}: {differing} values differ, by up to {worst:?} LSB"
        );
        checked += 1;
    }
    assert_eq!(checked, 120, "10 models x 12 inputs");
}

/// The grid of tensor `id` of `graph`.
fn grid(graph: &mobilenet_wgpu::graph::Graph, id: mobilenet_wgpu::graph::TensorId) -> TensorQuant {
    graph
        .node(id)
        .integer
        .as_ref()
        .expect("an integer graph")
        .output
}

/// Both kernel families (the `cpu-adapter` one's pointwise kernel sums in f32, the `gpu`
/// one's in packed integer dot products) give TFLite's bytes.
#[test]
fn the_int8_gpu_path_is_byte_identical_to_tflite() {
    let (Some(shared), Some(runtime)) = (common::shared_dir(), common::runtime()) else {
        return;
    };
    let mut checked = 0;
    for choice in [KernelChoice::CpuAdapter, KernelChoice::Gpu] {
        let runtime = runtime.clone().with_kernels(choice);
        let mut session: Option<(String, Session)> = None;
        for (name, input, expected) in references() {
            if session.as_ref().is_none_or(|(n, _)| *n != name) {
                let model = common::shared_models::load(&shared, &name);
                let s = runtime
                    .session_with_precision(&model, 1, Precision::Int8)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                session = Some((name.clone(), s));
            }
            let session = &session.as_ref().unwrap().1;
            let differing = gpu_differences(session, &shared, &input, &expected);
            assert_eq!(differing, 0, "{name} on {input}, {choice:?} kernels");
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 120, "two families x 10 models x 12 inputs");
}

/// How many output values of `session` on `input` differ from TFLite's `expected`.
fn gpu_differences(session: &Session, shared: &Path, input: &str, expected: &[i32]) -> usize {
    let graph = &session.model().graph;
    let (input_grid, output_grid) = (grid(graph, graph.input()), grid(graph, graph.output()));
    let x: Vec<f32> = input_values(shared, session.model(), input)
        .into_iter()
        .map(|q| input_grid.dequantize(q))
        .collect();
    let output = session.run(&x).unwrap_or_else(|e| panic!("{input}: {e}"));
    assert_eq!(output.data.len(), expected.len(), "{input}: output size");
    output
        .data
        .iter()
        .zip(expected)
        .filter(|(&v, &e)| output_grid.quantize(v) != e)
        .count()
}

/// `run --precision int8 --quantized-output` reads a uint8 `.npy` as the model's input
/// tensor as is and writes its raw output tensor: the committed reference bytes.
#[test]
fn run_writes_tflites_raw_output_tensor() {
    let (Some(shared), Some(_)) = (common::shared_dir(), common::runtime()) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("int8-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "mobilenet_v2_1.0_224_int8_ptq",
        "mobilenet_v3_small_1.0_224_quant",
        "mobilenet_v1_1.0_224_quant_embedding_extractor+head_layers",
    ] {
        let model = common::shared_models::load(&shared, name);
        let shape = model.graph.input_shape();
        let input: Vec<u8> = grid_bytes(1000, shape.len())
            .iter()
            .map(|&v| v as u8)
            .collect();
        let (input_path, output_path) = (dir.join("in.npy"), dir.join("out.npy"));
        npy::write(
            &input_path,
            &[1, shape.h, shape.w, shape.c],
            &Values::U8(input),
        )
        .unwrap();
        let models: Vec<String> = match name.split_once('+') {
            Some((a, b)) => vec![a.into(), format!("mobilenet_v1_1.0_224_quant_{b}")],
            None => vec![name.into()],
        };
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mobilenet-wgpu"));
        command.args(["run", "--precision", "int8", "--quantized-output"]);
        for m in &models {
            command.args(["--model", m]);
        }
        let status = command
            .arg("--input-npy")
            .arg(&input_path)
            .arg("--output-npy")
            .arg(&output_path)
            .env("MOBILENET_WGPU_MODELS", shared.join("models"))
            .status()
            .expect("runs");
        assert!(status.success(), "{name}");
        let (_, got) = npy::read(&output_path).unwrap();
        let (_, expected) = npy::read(&reference_dir().join(name).join("random_0.npy")).unwrap();
        assert_eq!(got, expected, "{name}: the raw output tensor");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The quantized fuzz seeds (a per-channel int8 model with a float input and output, a
/// uint8 one with FULLY_CONNECTED, one with LOGISTIC and CONCATENATION, an int8 one with a
/// grouped conv, a depth multiplier of 4 and a residual, an int8 one with HARD_SWISH after
/// convolutions (one with a residual after it), and a uint8 and an int8 one whose
/// 1x1 conv makes the largest sums 8-bit values can), run from their files in int8 on the
/// GPU, one input at a time and both as one batch: TFLite's reference outputs exactly,
/// float outputs included (a float input is quantized on the host as TFLite's QUANTIZE
/// does; a final DEQUANTIZE is the host's decoding).
#[test]
fn the_quantized_fuzz_seeds_match_tflite_in_int8() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tflite");
    let in_corpus = [
        "int8_per_channel",
        "v2_like_uint8",
        "uint8_concat_logistic",
        "int8_word_paths",
        "int8_hard_swish",
    ];
    // Kept beside their outputs: the wide pointwise ones' float forms are ill-conditioned
    // on purpose; the MEANs cover each integer path TFLite's reference MEAN may take.
    let means = ["uint8", "int8"].into_iter().flat_map(|t| {
        ["", "_keep_dims", "_same_grid", "_keep_dims_same_grid"]
            .map(|variant| format!("{t}_mean{variant}"))
    });
    let wide = ["uint8_wide_pointwise", "int8_wide_pointwise"].map(String::from);
    let beside: Vec<String> = wide.into_iter().chain(means).collect();
    let seeds = in_corpus
        .iter()
        .map(|seed| (*seed, corpus.join(format!("{seed}.tflite"))))
        .chain(beside.iter().map(|seed| {
            let path = reference_dir().join(format!("corpus/{seed}/{seed}.tflite"));
            (seed.as_str(), path)
        }));
    for (seed, path) in seeds {
        let model = mobilenet_wgpu::import::load(&path).expect("a corpus seed");
        let inputs: Vec<Vec<f32>> = (0..2).map(|k| seed_input(&model, k)).collect();
        let expected: Vec<Values> = (0..2)
            .map(|k| {
                let file = reference_dir().join(format!("corpus/{seed}/random_{k}.npy"));
                npy::read(&file).expect("reference").1
            })
            .collect();
        for choice in [KernelChoice::CpuAdapter, KernelChoice::Gpu] {
            let runtime = runtime.clone().with_kernels(choice);
            let seed = format!("{seed} ({choice:?} kernels)");
            check_seed(&runtime, &model, &seed, &inputs, &expected);
        }
    }
}

/// `model` in int8, one input at a time and both as one batch, against `expected`.
fn check_seed(
    runtime: &Runtime,
    model: &Model,
    seed: &str,
    inputs: &[Vec<f32>],
    expected: &[Values],
) {
    let graph = &model.graph;
    let stored = |output: &[f32], like: &Values| match like {
        Values::F32(_) => Values::F32(output.to_vec()),
        _ => {
            let grid = grid(graph, graph.output());
            Values::U8(output.iter().map(|&v| grid.quantize(v) as u8).collect())
        }
    };
    let single = runtime
        .session_with_precision(model, 1, Precision::Int8)
        .unwrap_or_else(|e| panic!("{seed}: {e}"));
    for (k, (input, expected)) in inputs.iter().zip(expected).enumerate() {
        let output = single.run(input).expect("int8 run").data;
        assert_eq!(stored(&output, expected), *expected, "{seed} on random_{k}");
    }
    let batch = runtime
        .session_with_precision(model, 2, Precision::Int8)
        .unwrap_or_else(|e| panic!("{seed} at batch 2: {e}"));
    let output = batch.run(&inputs.concat()).expect("int8 run").data;
    for (k, (image, expected)) in output.chunks(output.len() / 2).zip(expected).enumerate() {
        let what = format!("{seed} on random_{k}, image {k} of a batch of 2");
        assert_eq!(stored(image, expected), *expected, "{what}");
    }
}

/// Corpus input `k` of a seed: the shared bytes on its input grid, or (for a float input)
/// `(byte - 128) / 32`, exact in f32.
fn seed_input(model: &Model, k: u64) -> Vec<f32> {
    let graph = &model.graph;
    let bytes = grid_bytes(1000 + k, graph.input_shape().len());
    match model.input.dtype {
        mobilenet_wgpu::model::DType::F32 => {
            bytes.iter().map(|&b| (b - 128) as f32 / 32.0).collect()
        }
        _ => {
            let grid = grid(graph, graph.input());
            bytes.iter().map(|&q| grid.dequantize(q)).collect()
        }
    }
}

/// V3-Small's HARD_SWISHes follow convolutions, and ride in their steps: none is a step of
/// its own in the int8 plan (94 dispatches instead of 113).
#[test]
fn a_convolutions_hard_swish_runs_in_its_step() {
    use mobilenet_wgpu::plan::{Kernel, KernelFamily, Plan};
    use mobilenet_wgpu::quant::lower::IntStep;
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let model = common::shared_models::load(&shared, "mobilenet_v3_small_1.0_224_quant");
    let plan = Plan::build_for(&model.graph, 1, Precision::Int8, KernelFamily::CpuAdapter)
        .expect("an int8 plan");
    let kernels: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|step| match &step.kernel {
            Kernel::Int(kernel) => Some(kernel),
            _ => None,
        })
        .collect();
    let fused = kernels.iter().filter(|k| k.hard_swish.is_some()).count();
    let alone = kernels
        .iter()
        .filter(|k| matches!(k.step, IntStep::HardSwish(_)))
        .count();
    assert_eq!((fused, alone), (19, 0));
    assert_eq!(plan.steps.len(), 94);
}
