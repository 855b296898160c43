//! What each fuzz target does with its bytes. Every function must return without
//! panicking, whatever the bytes: a bad input is an error of one line, and a good one goes
//! through every stage a user's file would (import → graph → plan → kernel launches → CPU
//! reference).
//! `tests/fuzz_corpus.rs` includes this file to replay the committed corpus on stable.

use mobilenet_wgpu::graph::{Graph, Op};
use mobilenet_wgpu::io;
use mobilenet_wgpu::model::{DType, Layout, Model, Normalization, Quantization};
use mobilenet_wgpu::plan::{KernelFamily, Plan};
use mobilenet_wgpu::{import, preprocess, Error, Precision};
use std::path::Path;
use std::sync::OnceLock;

/// Above this much work per image (MACs plus elements written) a graph that imported
/// fine is planned but not run on the CPU, so one input cannot stall the fuzzer.
const CPU_RUN_BUDGET: usize = 2_000_000;

/// TFLite import, then planning and the CPU reference.
pub fn tflite(data: &[u8]) {
    let model = import::tflite::import(data, Path::new("fuzz.tflite"), "fuzz");
    check_model(model);
}

/// ONNX import (weights in the file only), then planning and the CPU reference.
pub fn onnx(data: &[u8]) {
    let model = import::onnx::import(data, Path::new("fuzz.onnx"), "fuzz", None);
    check_model(model);
}

/// Image decoding, then both resize-and-crop pipelines.
pub fn image(data: &[u8]) {
    match preprocess::decode_image(data, "fuzz.png") {
        Ok(img) => {
            let input = preprocess::preprocess(&img, 7, 5, &Normalization::imagenet());
            assert_eq!(input.len(), 7 * 5 * 3);
            assert_eq!(
                preprocess::short_side_resize_crop(&img, 5, 7).len(),
                5 * 7 * 3
            );
        }
        Err(e) => one_line(&e),
    }
}

/// `.npy` parsing, then conversion to the graph input of a small NCHW uint8 model.
pub fn npy(data: &[u8]) {
    match io::npy::parse(data, "fuzz.npy") {
        Ok((shape, values)) => {
            assert_eq!(shape.iter().product::<usize>(), values.len());
            match io::graph_input(npy_model(), &shape, &values) {
                Ok((batch, input)) => assert_eq!(input.len(), batch * 12),
                Err(e) => one_line(&e),
            }
        }
        Err(e) => one_line(&e),
    }
}

fn npy_model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let shape = mobilenet_wgpu::graph::Shape::new(2, 2, 3);
        let graph = Graph::new(shape).expect("a 2x2x3 input is valid");
        let mut model = Model::from_graph("npy", graph);
        model.input.layout = Layout::Nchw;
        model.input.dims = vec![3, 2, 2];
        model.input.dtype = DType::U8;
        model.input.quantization = Some(Quantization {
            scale: 0.5,
            zero_point: 3,
        });
        model
    })
}

fn check_model(model: mobilenet_wgpu::Result<Model>) {
    let model = match model {
        Ok(model) => model,
        Err(e) => return one_line(&e),
    };
    let graph = &model.graph;
    for precision in [Precision::F32, Precision::F16, Precision::Int8] {
        for family in [KernelFamily::CpuAdapter, KernelFamily::Gpu] {
            let checked = Plan::build_for(graph, 2, precision, family)
                .and_then(|plan| mobilenet_wgpu::gpu::check_launches(&plan));
            if let Err(e) = checked {
                one_line(&e);
            }
        }
    }
    if small_enough_for_the_cpu(graph) {
        let input = vec![0.5; graph.input_shape().len()];
        match mobilenet_wgpu::cpu::run_output(graph, &input, 1) {
            Ok(out) => assert_eq!(out.len(), graph.output_shape().len()),
            Err(e) => one_line(&e),
        }
        // Quantized files also run on the integer CPU reference, at each input extreme.
        let range = mobilenet_wgpu::quant::lower::input_grid(graph).map(|g| g.dtype.range());
        for value in range.map_or(vec![], |(lo, hi)| vec![lo, hi]) {
            let input = vec![value; graph.input_shape().len()];
            match mobilenet_wgpu::cpu::int::run_output(graph, &input, 1) {
                Ok(out) => assert_eq!(out.len(), graph.output_shape().len()),
                Err(e) => one_line(&e),
            }
        }
    }
}

/// Whether `graph` is cheap enough to run on the CPU reference for every fuzz input.
pub fn small_enough_for_the_cpu(graph: &Graph) -> bool {
    let elements: usize = graph.nodes().iter().map(|n| n.shape.len()).sum();
    // `totals` counts no MACs for pooling; a window's taps are work all the same.
    let pooling: usize = graph
        .nodes()
        .iter()
        .map(|n| match &n.op {
            Op::AvgPool(pool) => n.shape.len().saturating_mul(pool.kernel.saturating_pow(2)),
            _ => 0,
        })
        .fold(0, usize::saturating_add);
    let work = graph
        .totals()
        .macs
        .saturating_add(elements)
        .saturating_add(pooling);
    work <= CPU_RUN_BUDGET
}

/// Errors are shown to users as one line.
fn one_line(e: &Error) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "a multi-line error: {text}");
}
