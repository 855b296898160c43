//! One function per ONNX operator (or family), grouped like the IR's layers: windows
//! (convolution, pooling, padding), element-wise math, dense layers, shape plumbing and
//! quantization.

mod constants;
mod dense;
mod fold;
mod math;
mod qlinear;
mod quant;
mod shape;
mod window;

pub(super) use qlinear::operands as quantized_operands;

use super::{Importer, NodeCtx};
use crate::error::Result;

/// Imports one node: its outputs become known values (constants or activations).
pub(super) fn import_node(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let Some(parts) = qlinear::expand(ctx.node).map_err(|e| ctx.fail(e))? else {
        return import_plain(im, ctx);
    };
    for part in &parts {
        let part_ctx = NodeCtx {
            node: &part.node,
            within: Some(&ctx.node.op_type),
            opset: part.opset.unwrap_or(ctx.opset),
            ..*ctx
        };
        import_plain(im, &part_ctx)?;
    }
    Ok(())
}

/// Imports a node of the operator set that maps onto the IR directly.
fn import_plain(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let node = ctx.node;
    if !node.domain.is_empty() && node.domain != "ai.onnx" {
        return Err(ctx.fail(format!(
            "operators of domain `{}` are not supported",
            node.domain
        )));
    }
    let used = |o: &&String| !o.is_empty() && im.readers(o) > 0;
    if let Some(extra) = node.output.iter().skip(1).find(used) {
        return Err(ctx.fail(format!(
            "its extra output `{extra}` is used; only the first output is supported"
        )));
    }
    match node.op_type.as_str() {
        "Conv" => window::conv(im, ctx),
        "Pad" => window::pad(im, ctx),
        "BatchNormalization" => window::batch_norm(im, ctx),
        "GlobalAveragePool" => window::global_average_pool(im, ctx),
        "AveragePool" => window::average_pool(im, ctx),
        "ReduceMean" => window::reduce_mean(im, ctx),
        "Relu" | "Clip" | "HardSwish" | "HardSigmoid" | "Sigmoid" => math::activation(im, ctx),
        "Add" | "Sub" | "Mul" | "Div" | "Min" | "Max" => math::binary(im, ctx),
        "Gemm" => dense::gemm(im, ctx),
        "MatMul" => dense::matmul(im, ctx),
        "Softmax" => dense::softmax(im, ctx),
        "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze" => shape::reshape(im, ctx),
        "Transpose" => shape::transpose(im, ctx),
        "Concat" => shape::concat(im, ctx),
        "Shape" => constants::shape(im, ctx),
        "Gather" => constants::gather(im, ctx),
        "Slice" => constants::slice(im, ctx),
        "Cast" => constants::cast(im, ctx),
        "Identity" | "Dropout" => constants::identity(im, ctx),
        "Constant" => constants::constant(im, ctx),
        "QuantizeLinear" => quant::quantize(im, ctx),
        "DequantizeLinear" => quant::dequantize(im, ctx),
        _ => Err(ctx.fail("unsupported operator")),
    }
}

/// An axis attribute or input in `[-rank, rank)`, made non-negative.
fn normalize_axis(axis: i64, rank: usize) -> Option<usize> {
    let rank = rank as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    (0..rank).contains(&axis).then_some(axis as usize)
}
