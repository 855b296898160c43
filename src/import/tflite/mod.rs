//! TFLite importer: reads a `.tflite` flatbuffer (`flatbuf.rs`, bounds-checked; `schema.rs`,
//! the tables it decodes) and maps its single subgraph onto the crate's float graph IR.
//!
//! Quantized files are dequantized at load time: weights and biases become f32, and every op
//! whose output tensor is quantized gets a clamp to that tensor's representable range, because
//! several converters encode ReLU/ReLU6 only as that range. Computing in float with those clamps
//! reproduces the network the integer kernels compute, up to rounding. Each node also keeps
//! its integer form (the tensor's grid, the 8-bit weights and int32 biases), from which the
//! integer path computes exactly what TFLite's integer kernels do.

mod elementwise;
mod flatbuf;
mod integer;
mod ops;
mod schema;
mod tensors;
mod walk;

use crate::error::{Error, Result};
use crate::graph::Shape;
use crate::model::{
    nhwc_dims, DType, Format, Layout, Model, Normalization, Quantization, Resize, TensorSpec,
};
use schema::TensorType;
use std::path::Path;
use tensors::{Quant, TensorInfo};

/// True when `bytes` carry TFLite's `TFL3` file identifier.
pub fn is_tflite(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"TFL3".as_slice())
}

/// Imports a `.tflite` flatbuffer already in memory. `path` names the file in errors and
/// `name` names the model.
pub fn import(bytes: &[u8], path: &Path, name: &str) -> Result<Model> {
    let invalid = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    if !is_tflite(bytes) {
        return Err(invalid(
            "not a valid TFLite flatbuffer: the file identifier is not `TFL3`".into(),
        ));
    }
    let model = schema::decode(bytes)
        .map_err(|e| invalid(format!("not a valid TFLite flatbuffer: {e}")))?;
    let subgraph = single_subgraph(&model).map_err(invalid)?;
    let tensors = tensors::decode_tensors(&model, subgraph).map_err(invalid)?;
    let (input, output) = single_io(subgraph, tensors.len()).map_err(invalid)?;
    let normalization = normalization(&tensors[input]).map_err(invalid)?;
    let graph = walk::build_graph(path, &model, subgraph, &tensors, input, output)?;
    let background_class = graph.output_shape().c == 1001;
    let input = spec(&tensors[input], graph.input_shape()).map_err(invalid)?;
    let output = spec(&tensors[output], graph.output_shape()).map_err(invalid)?;
    Ok(Model {
        name: name.to_string(),
        format: Format::Tflite,
        graph,
        normalization,
        resize: Resize::CenterSquare,
        background_class,
        input,
        output,
    })
}

/// The file's declaration of an input or output tensor.
fn spec(info: &TensorInfo, shape: Shape) -> std::result::Result<TensorSpec, String> {
    let dtype = match info.dtype {
        TensorType::FLOAT32 => DType::F32,
        TensorType::UINT8 => DType::U8,
        TensorType::INT8 => DType::I8,
        other => {
            return Err(format!(
                "model input/output `{}` has type {}; expected float32, uint8 or int8",
                info.name,
                tensors::type_name(other)
            ))
        }
    };
    let quantization = match &info.quant {
        Some(Quant {
            scale, zero_point, ..
        }) if dtype != DType::F32 => match (&scale[..], &zero_point[..]) {
            ([scale], [zero_point]) => Some(Quantization {
                scale: *scale,
                zero_point: i32::try_from(*zero_point)
                    .map_err(|_| format!("`{}` has zero point {zero_point}", info.name))?,
            }),
            _ => None,
        },
        _ => None,
    };
    Ok(TensorSpec {
        name: info.name.clone(),
        dtype,
        quantization,
        layout: Layout::Nhwc,
        dims: nhwc_dims(shape),
    })
}

fn single_subgraph<'m>(
    model: &'m schema::Model,
) -> std::result::Result<&'m schema::SubGraph, String> {
    match &model.subgraphs[..] {
        [] => Err("the file has no subgraph".into()),
        [subgraph] => Ok(subgraph),
        all => Err(format!(
            "the file has {} subgraphs; only single-subgraph models are supported",
            all.len()
        )),
    }
}

/// The subgraph's one input and one output tensor index, bounds-checked.
fn single_io(
    subgraph: &schema::SubGraph,
    tensor_count: usize,
) -> std::result::Result<(usize, usize), String> {
    let one = |list: &[i32], what: &str| -> std::result::Result<usize, String> {
        match *list {
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
    let input = one(&subgraph.inputs, "input")?;
    let output = one(&subgraph.outputs, "output")?;
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
        (TensorType::FLOAT32, _) => Ok(Normalization::symmetric()),
        (TensorType::UINT8, Some(q)) => {
            let (scale, zp) = per_tensor(q)?;
            Ok(Normalization::from_quantization(scale, zp))
        }
        // An int8 input is fed `pixel - 128`: real = scale * (pixel - 128 - zp).
        (TensorType::INT8, Some(q)) => {
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
