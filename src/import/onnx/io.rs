//! The graph's two ends: its input becomes the IR input (integer inputs keep their
//! quantization, so their DequantizeLinear costs nothing), its first output the IR output.

use super::proto::{self, tensor_proto::DataType, type_proto};
use super::tensor::{self, Tensor};
use super::value::{dims_of, same_order, Act, Layout, Value};
use crate::error::{Error, Result};
use crate::graph::{Graph, Shape};
use crate::model::{DType, Quantization, TensorSpec};
use std::collections::HashMap;
use std::path::Path;

/// The IR graph started at the ONNX input, the input's name and value, and its spec.
pub(super) fn graph_input(
    path: &Path,
    graph: &proto::GraphProto,
    initializers: &HashMap<&str, &proto::TensorProto>,
) -> Result<(Graph, String, Value, TensorSpec)> {
    let invalid = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    // Files from old exporters also list their initializers as graph inputs.
    let inputs: Vec<&proto::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains_key(i.name.as_str()))
        .collect();
    let input = match inputs[..] {
        [one] => one,
        _ => {
            return Err(invalid(format!(
                "the graph has {} inputs; exactly one (the image batch) is supported",
                inputs.len()
            )))
        }
    };
    let (dtype, dims) = declared_type(input).map_err(&invalid)?;
    let (shape, layout, spec_layout) = input_layout(&input.name, &dims).map_err(&invalid)?;
    let quantization = match dtype {
        DType::F32 => None,
        _ => Some(input_quantization(graph, initializers, &input.name)),
    };
    let ir = Graph::new(shape).map_err(|e| invalid(format!("input `{}`: {e}", input.name)))?;
    let mut act = Act::new(ir.input(), layout);
    act.quant = quantization.map(|q| (q, dtype));
    let spec = TensorSpec {
        name: input.name.clone(),
        dtype,
        quantization,
        layout: spec_layout,
        dims,
    };
    Ok((ir, input.name.clone(), Value::Act(act), spec))
}

/// Element type and per-image dims (batch dropped) of a declared graph input.
fn declared_type(
    input: &proto::ValueInfoProto,
) -> std::result::Result<(DType, Vec<usize>), String> {
    let name = &input.name;
    let tensor = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => t,
        _ => return Err(format!("graph input `{name}` is not a tensor")),
    };
    let dtype = match DataType::try_from(tensor.elem_type) {
        Ok(DataType::Float) => DType::F32,
        Ok(DataType::Uint8) => DType::U8,
        Ok(DataType::Int8) => DType::I8,
        _ => {
            return Err(format!(
                "graph input `{name}` has element type {}; float32, uint8 or int8 is supported",
                tensor.elem_type
            ))
        }
    };
    let shape = tensor
        .shape
        .as_ref()
        .ok_or_else(|| format!("graph input `{name}` has no declared shape"))?;
    let mut dims = Vec::new();
    // The first dimension is the batch: any value or symbol is accepted.
    for (axis, dim) in shape.dim.iter().enumerate().skip(1) {
        use proto::tensor_shape_proto::dimension::Value as Dim;
        match dim.value {
            Some(Dim::DimValue(v)) if v > 0 => dims.push(v as usize),
            _ => {
                return Err(format!(
                    "graph input `{name}` has no fixed size on axis {axis}; only the batch may be symbolic"
                ))
            }
        }
    }
    Ok((dtype, dims))
}

/// The IR shape of an input and how ONNX lays it out: `[N, C, H, W]` unless the last axis
/// looks like colour channels and the second does not (`[N, H, W, 3]`, tf2onnx).
fn input_layout(
    name: &str,
    dims: &[usize],
) -> std::result::Result<(Shape, Layout, crate::model::Layout), String> {
    use crate::model::Layout as File;
    match *dims {
        [h, w, c] if c <= 4 && h > 4 => Ok((Shape::new(h, w, c), Layout::Nhwc, File::Nhwc)),
        [c, h, w] => Ok((Shape::new(h, w, c), Layout::Nchw, File::Nchw)),
        [f] => Ok((
            Shape::new(1, 1, f),
            Layout::Flat {
                dims: vec![f],
                from: None,
            },
            File::Nhwc,
        )),
        _ => Err(format!(
            "graph input `{name}` has shape [N, {dims:?}]; an image batch [N, C, H, W] / [N, H, W, C] or a vector batch [N, F] is supported"
        )),
    }
}

/// An integer input's quantization: that of the DequantizeLinear and QOperator nodes reading
/// it when they all agree (per tensor), else the integers themselves (scale 1, zero point 0).
fn input_quantization(
    graph: &proto::GraphProto,
    initializers: &HashMap<&str, &proto::TensorProto>,
    input: &str,
) -> Quantization {
    let identity = Quantization {
        scale: 1.0,
        zero_point: 0,
    };
    // The nodes reading the input, looking through layout-only ops (a tf2onnx Transpose).
    let mut readers: Vec<(&proto::NodeProto, String)> = Vec::new();
    let mut frontier = vec![input.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(value) = frontier.pop() {
        if !seen.insert(value.clone()) {
            continue;
        }
        for node in graph.node.iter().filter(|n| n.input.contains(&value)) {
            let first = node.input.first() == Some(&value);
            match node.op_type.as_str() {
                "Transpose" | "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Identity"
                    if first =>
                {
                    frontier.extend(node.output.iter().take(1).cloned())
                }
                _ => readers.push((node, value.clone())),
            }
        }
    }
    let param = |node: &proto::NodeProto, k: usize| -> Option<Tensor> {
        let name = node.input.get(k)?;
        tensor::decode(initializers.get(name.as_str())?, None).ok()
    };
    // The inputs holding the scale and zero point a reader gives `value`.
    let grid_of = |node: &proto::NodeProto, value: &str| -> Option<(usize, usize)> {
        if node.op_type == "DequantizeLinear" {
            return (node.input.first()? == value).then_some((1, 2));
        }
        let operands = super::ops::quantized_operands(node);
        let operand = operands
            .iter()
            .find(|o| node.input.get(o.value).is_some_and(|v| v == value))?;
        Some((operand.scale, operand.zero_point))
    };
    let of = |(node, value): &(&proto::NodeProto, String)| -> Option<Quantization> {
        let (scale, zero_point) = grid_of(node, value)?;
        let scale = param(node, scale)?.scalar_f32().ok()?;
        let zero_point = match param(node, zero_point) {
            Some(zp) => zp.scalar_f32().ok()? as i32,
            None => 0,
        };
        Some(Quantization { scale, zero_point })
    };
    let found: Option<Vec<Quantization>> = readers.iter().map(of).collect();
    match found.as_deref() {
        Some([first, rest @ ..]) if rest.iter().all(|q| q == first) => *first,
        _ => identity,
    }
}

/// Sets the IR output to the graph's first output and describes it.
pub(super) fn finish(
    path: &Path,
    mut ir: Graph,
    values: &HashMap<String, Value>,
    graph: &proto::GraphProto,
) -> Result<(Graph, TensorSpec)> {
    let invalid = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let output = graph
        .output
        .first()
        .ok_or_else(|| invalid("the graph has no output".into()))?;
    let name = &output.name;
    let act = match values.get(name) {
        Some(Value::Act(act)) => act,
        Some(Value::Const(_)) => {
            return Err(invalid(format!("graph output `{name}` is a constant")))
        }
        None => return Err(invalid(format!("no node computes graph output `{name}`"))),
    };
    if act.id == ir.input() {
        return Err(invalid(format!(
            "graph output `{name}` is the input itself"
        )));
    }
    if act.pad != Default::default() {
        return Err(invalid(format!("graph output `{name}` comes from a Pad")));
    }
    let shape = ir.shape(act.id);
    let layout = match &act.layout {
        Layout::Nchw if shape.h * shape.w > 1 => crate::model::Layout::Nchw,
        other if same_order(other, shape) => crate::model::Layout::Nhwc,
        _ => {
            return Err(invalid(format!(
                "graph output `{name}` is a flattened NCHW map, which is not supported"
            )))
        }
    };
    ir.set_output(act.id)?;
    let ir = ir.pruned()?;
    let (dtype, quantization) = match act.quant {
        Some((q, dtype)) => (dtype, Some(q)),
        None => (DType::F32, None),
    };
    let spec = TensorSpec {
        name: name.clone(),
        dtype,
        quantization,
        layout,
        dims: dims_of(&act.layout, shape),
    };
    Ok((ir, spec))
}
