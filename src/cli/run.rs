//! `run`: the model's raw output for an input array, both as `.npy`, in the layout and
//! element type the model file declares (see [`mobilenet_wgpu::io`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mobilenet_wgpu::io::{self, Values};
use mobilenet_wgpu::model::{Format, Model};
use mobilenet_wgpu::{Error, Result};
use npyz::WriterBuilder;

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
    let (shape, values) = read_npy(&args.input_npy)?;
    let (batch, input) = io::graph_input(&model, &shape, &values)
        .map_err(|e| Error::InvalidArgument(format!("{}: {e}", args.input_npy.display())))?;
    let output = open_runtime(backend, args.model.kernels)?
        .session_with_precision(&model, batch, args.model.precision)?
        .run(&input)?
        .data;
    let quantized = args.quantized_output || model.format == Format::Onnx;
    let (out_shape, out) = io::file_output(&model, batch, &output, quantized);
    write_npy(&args.output_npy, &out_shape, &out)?;
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

fn read_npy(path: &PathBuf) -> Result<(Vec<usize>, Values)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::InvalidArgument(format!("{}: {reason}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(bad(
            "Fortran-ordered arrays are not supported; save it C-ordered".into(),
        ));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let type_str = match npy.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => return Err(bad(format!("unsupported array type {}", other.descr()))),
    };
    let read = |e: std::io::Error| bad(format!("cannot read the data: {e}"));
    let values = match type_str.as_str() {
        "<f4" => Values::F32(npy.into_vec::<f32>().map_err(read)?),
        "|u1" => Values::U8(npy.into_vec::<u8>().map_err(read)?),
        "|i1" => Values::I8(npy.into_vec::<i8>().map_err(read)?),
        other => {
            return Err(bad(format!(
                "array type `{other}` is not supported (float32, uint8 or int8)"
            )))
        }
    };
    Ok((shape, values))
}

fn write_npy(path: &PathBuf, shape: &[usize], values: &Values) -> Result<()> {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let writer = std::io::BufWriter::new(file);
    let io_error = |e| Error::io(path, e);
    match values {
        Values::F32(v) => write_values(writer, &shape, v).map_err(io_error),
        Values::U8(v) => write_values(writer, &shape, v).map_err(io_error),
        Values::I8(v) => write_values(writer, &shape, v).map_err(io_error),
    }
}

fn write_values<T: npyz::Serialize + npyz::AutoSerialize + Copy>(
    writer: impl std::io::Write,
    shape: &[u64],
    values: &[T],
) -> std::io::Result<()> {
    let mut out = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(writer)
        .begin_nd()?;
    out.extend(values.iter().copied())?;
    out.finish()
}
