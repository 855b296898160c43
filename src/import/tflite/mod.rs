//! TFLite importer: reads a `.tflite` flatbuffer (through `tract-tflite`'s generated schema
//! bindings) and maps its single subgraph onto the crate's float graph IR.
//!
//! Quantized files are dequantized at load time: weights and biases become f32, and every op
//! whose output tensor is quantized gets a clamp to that tensor's representable range, because
//! several converters encode ReLU/ReLU6 only as that range. Computing in float with those clamps
//! reproduces the network the integer kernels compute, up to rounding.

mod elementwise;
mod ops;
mod tensors;
mod walk;

use crate::error::{Error, Result};
use crate::model::{Model, Normalization};
use std::path::{Path, PathBuf};
use tensors::{Quant, TensorInfo};
use tract_tflite::tflite;

/// Reads and imports a `.tflite` file. The model is named after the file stem.
pub fn load_tflite(path: &Path) -> Result<Model> {
    Ok(load_imported(path)?.model)
}

/// Imports a `.tflite` file already in memory; `name` names the model and appears in errors.
pub fn parse_tflite(bytes: &[u8], name: &str) -> Result<Model> {
    Ok(import(bytes, Path::new(name), name)?.model)
}

/// Imports several files and chains them, each one's output feeding the next one's input:
/// e.g. a feature extractor followed by its classifier head. Quantized boundaries must agree
/// (same type, scale and zero point), since the integer tensor is what passes between them.
/// Normalization comes from the first model, the background class from the last.
pub fn load_chain(paths: &[PathBuf]) -> Result<Model> {
    let (first, rest) = paths
        .split_first()
        .ok_or_else(|| Error::InvalidArgument("load_chain needs at least one model file".into()))?;
    let mut chained = load_imported(first)?;
    for path in rest {
        let next = load_imported(path)?;
        if chained.output_io != next.input_io {
            return Err(Error::Model {
                path: path.clone(),
                reason: format!(
                    "its input ({}) does not match the previous model's output ({})",
                    next.input_io, chained.output_io
                ),
            });
        }
        chained.model.graph = chained.model.graph.chain(&next.model.graph)?;
        chained.model.name = format!("{}+{}", chained.model.name, next.model.name);
        chained.model.background_class = next.model.background_class;
        chained.output_io = next.output_io;
    }
    Ok(chained.model)
}

/// An imported model plus the type and quantization at its two ends, for chaining.
struct Imported {
    model: Model,
    input_io: Boundary,
    output_io: Boundary,
}

/// The element type and quantization of a model input or output tensor.
#[derive(Clone, Debug, PartialEq)]
struct Boundary {
    dtype: tflite::TensorType,
    quant: Option<Quant>,
}

impl std::fmt::Display for Boundary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", tensors::type_name(self.dtype))?;
        match &self.quant {
            Some(q) => write!(f, " scale {:?} zero point {:?}", q.scale, q.zero_point),
            None => Ok(()),
        }
    }
}

fn load_imported(path: &Path) -> Result<Imported> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let stem = path
        .file_stem()
        .map_or_else(|| path.to_string_lossy(), |s| s.to_string_lossy());
    import(&bytes, path, &stem)
}

fn import(bytes: &[u8], path: &Path, name: &str) -> Result<Imported> {
    let invalid = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.get(4..8) != Some(b"TFL3".as_slice()) {
        return Err(invalid(
            "not a valid TFLite flatbuffer: the file identifier is not `TFL3`".into(),
        ));
    }
    let model = tflite::root_as_model(bytes)
        .map_err(|e| invalid(format!("not a valid TFLite flatbuffer: {e}")))?;
    let subgraph = single_subgraph(&model).map_err(invalid)?;
    let tensors = tensors::decode_tensors(&model, &subgraph).map_err(invalid)?;
    let (input, output) = single_io(&subgraph, tensors.len()).map_err(invalid)?;
    let normalization = normalization(&tensors[input]).map_err(invalid)?;
    let graph = walk::build_graph(path, &model, &subgraph, &tensors, input, output)?;
    let background_class = graph.output_shape().c == 1001;
    let boundary = |t: &TensorInfo| Boundary {
        dtype: t.dtype,
        quant: t.quant.clone(),
    };
    Ok(Imported {
        model: Model {
            name: name.to_string(),
            graph,
            normalization,
            background_class,
        },
        input_io: boundary(&tensors[input]),
        output_io: boundary(&tensors[output]),
    })
}

fn single_subgraph<'a>(
    model: &tflite::Model<'a>,
) -> std::result::Result<tflite::SubGraph<'a>, String> {
    let subgraphs = model.subgraphs().ok_or("the file has no subgraph")?;
    match subgraphs.len() {
        1 => Ok(subgraphs.iter().next().ok_or("the file has no subgraph")?),
        n => Err(format!(
            "the file has {n} subgraphs; only single-subgraph models are supported"
        )),
    }
}

/// The subgraph's one input and one output tensor index, bounds-checked.
fn single_io(
    subgraph: &tflite::SubGraph,
    tensor_count: usize,
) -> std::result::Result<(usize, usize), String> {
    let one = |list: Option<Vec<i32>>, what: &str| -> std::result::Result<usize, String> {
        match list.unwrap_or_default()[..] {
            [t] => usize::try_from(t)
                .ok()
                .filter(|&t| t < tensor_count)
                .ok_or_else(|| format!("the {what} tensor index {t} is out of range")),
            ref all => Err(format!(
                "the model has {} {what}s; exactly one is supported",
                all.len()
            )),
        }
    };
    let input = one(subgraph.inputs().map(|v| v.iter().collect()), "input")?;
    let output = one(subgraph.outputs().map(|v| v.iter().collect()), "output")?;
    Ok((input, output))
}

/// How 8-bit pixels map to the input tensor's real values.
fn normalization(input: &TensorInfo) -> std::result::Result<Normalization, String> {
    let per_tensor = |q: &Quant| match (&q.scale[..], &q.zero_point[..]) {
        ([scale], [zp]) => Ok((*scale, *zp as f32)),
        _ => Err(format!(
            "input tensor `{}` is quantized per channel",
            input.name
        )),
    };
    match (input.dtype, &input.quant) {
        (tflite::TensorType::FLOAT32, _) => Ok(Normalization::symmetric()),
        (tflite::TensorType::UINT8, Some(q)) => {
            let (scale, zp) = per_tensor(q)?;
            Ok(Normalization::from_quantization(scale, zp))
        }
        // An int8 input is fed `pixel - 128`: real = scale * (pixel - 128 - zp).
        (tflite::TensorType::INT8, Some(q)) => {
            let (scale, zp) = per_tensor(q)?;
            Ok(Normalization::from_quantization(scale, zp + 128.0))
        }
        (dtype, _) => Err(format!(
            "input tensor `{}` has type {} without quantization; expected float32, or quantized uint8/int8",
            input.name,
            tensors::type_name(dtype)
        )),
    }
}
