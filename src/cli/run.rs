//! `run`: the model's raw output for an input array, both as `.npy`, in the layout and
//! element type the model file declares (see [`mobilenet_wgpu::io`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mobilenet_wgpu::io;
use mobilenet_wgpu::model::{Format, Model};
use mobilenet_wgpu::{Error, Result};

use super::{open_runtime, ModelArgs};

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input: `[N, …]` exactly as the model file declares its input (NCHW for PyTorch
    /// exports, NHWC for TFLite and tf2onnx): float32 real values, or the input's own
    /// uint8/int8 type.
    #[arg(long, value_name = "IN.npy")]
    input_npy: PathBuf,
    /// Output: the graph's output, `[N, classes]` or `[N, …]` in the file's layout.
    #[arg(long, value_name = "OUT.npy")]
    output_npy: PathBuf,
    /// Write the values before the final softmax.
    #[arg(long)]
    logits: bool,
    /// Write a quantized output as its uint8/int8 integers instead of real values (the
    /// default for ONNX graphs, whose output type is what onnxruntime returns).
    #[arg(long)]
    quantized_output: bool,
}

pub fn execute(args: &RunArgs, backend: Option<&str>) -> Result<ExitCode> {
    let model = args.model.load(None)?;
    let model = if args.logits {
        logits_model(model)?
    } else {
        model
    };
    let (shape, values) = io::npy::read(&args.input_npy)?;
    let (batch, input) = io::graph_input(&model, &shape, &values)
        .map_err(|e| Error::InvalidArgument(format!("{}: {e}", args.input_npy.display())))?;
    let output = open_runtime(backend, args.model.kernels)?
        .session_with_precision(&model, batch, args.model.precision)?
        .run(&input)?
        .data;
    let quantized = args.quantized_output || model.format == Format::Onnx;
    let (out_shape, out) = io::file_output(&model, batch, &output, quantized);
    io::npy::write(&args.output_npy, &out_shape, &out)?;
    errln!("wrote {} {:?}", args.output_npy.display(), out_shape);
    Ok(ExitCode::SUCCESS)
}

/// The model ending before its final softmax: a float output of the logits' shape.
fn logits_model(model: Model) -> Result<Model> {
    let graph = model.graph.logits()?;
    let mut output = model.output.clone();
    if graph.output() != model.graph.output() {
        output.dtype = mobilenet_wgpu::model::DType::F32;
        output.quantization = None;
        output.dims = mobilenet_wgpu::model::nhwc_dims(graph.output_shape());
    }
    Ok(Model {
        graph,
        output,
        ..model
    })
}
