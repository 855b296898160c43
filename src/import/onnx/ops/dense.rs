//! Dense layers and the classifier's end: Gemm, MatMul (its bias comes as a following Add,
//! which the planner folds) and Softmax. Their input is a vector `[N, F]`; after the
//! flatten of an NCHW map its features are in ONNX's `c·H·W + h·W + w` order, so the
//! weight columns are permuted into the IR's order once, here.

use super::super::attrs::Attrs;
use super::super::tensor::Tensor;
use super::super::value::{Act, Layout};
use super::super::{Importer, NodeCtx};
use super::math::nchw_flat_to_ir;
use crate::error::Result;
use crate::graph::{Dense, Op, Shape};

/// The features of a vector activation, and the NCHW map they were flattened from when
/// their order differs from the IR's.
fn features(im: &Importer, ctx: &NodeCtx, x: &Act) -> Result<(usize, Option<Shape>)> {
    let shape = im.shape(x);
    let dims = im.dims(x);
    let vector = shape.h * shape.w == 1 && dims.iter().filter(|&&d| d != 1).count() <= 1;
    match &x.layout {
        Layout::Flat { dims, from } if dims.len() == 1 => Ok((dims[0], *from)),
        _ if vector => Ok((shape.c, None)),
        _ => Err(ctx.fail(format!(
            "expects a [N, F] input, got [N, {dims:?}] (flatten it first)"
        ))),
    }
}

/// Adds a dense layer from `[out][in]` weights in ONNX feature order.
fn emit_dense(
    im: &mut Importer,
    ctx: &NodeCtx,
    x: &Act,
    rows: Vec<f32>,
    out: usize,
    bias: Option<Vec<f32>>,
) -> Result<()> {
    let (inputs, from) = features(im, ctx, x)?;
    let weights = match from {
        Some(s) if s.h * s.w > 1 && s.c > 1 => rows
            .chunks(inputs)
            .flat_map(|row| nchw_flat_to_ir(row, s))
            .collect(),
        _ => rows,
    };
    let op = Op::Dense(Dense {
        out_features: out,
        weights,
        bias,
    });
    let id = im.emit(ctx, op, &[x.id])?;
    im.set_act(
        ctx,
        id,
        Layout::Flat {
            dims: vec![out],
            from: None,
        },
    )
}

/// `[rows][cols]` → `[cols][rows]`.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols)
        .flat_map(|c| (0..rows).map(move |r| values[r * cols + c]))
        .collect()
}

fn matrix(ctx: &NodeCtx, t: &Tensor, what: &str) -> Result<(usize, usize, Vec<f32>)> {
    match t.dims[..] {
        [r, c] => Ok((r, c, t.to_f32().map_err(|e| ctx.fail(e))?)),
        _ => Err(ctx.fail(format!(
            "{what} has shape {:?}; a matrix is expected",
            t.dims
        ))),
    }
}

/// `alpha · A · B' + beta · C` with `B' = B` or `Bᵀ` (`transB`); A is the activation.
pub(super) fn gemm(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let attrs = Attrs::of(ctx.node);
    let fail = |e: String| ctx.fail(e);
    if attrs.int_or("transA", 0).map_err(fail)? != 0 {
        return Err(ctx.fail("attribute `transA` = 1 is not supported"));
    }
    let alpha = attrs.float_or("alpha", 1.0).map_err(fail)?;
    let beta = attrs.float_or("beta", 1.0).map_err(fail)?;
    let x = im.act(ctx, 0)?;
    let (inputs, _) = features(im, ctx, &x)?;
    let b = im.constant(ctx, 1)?;
    let (r, c, values) = matrix(ctx, &b, "B")?;
    let (out, rows) = if attrs.int_or("transB", 0).map_err(fail)? != 0 {
        (r, values)
    } else {
        (c, transpose(&values, r, c))
    };
    if rows.len() != out * inputs {
        return Err(ctx.fail(format!(
            "B of shape {:?} does not multiply {inputs} input features",
            b.dims
        )));
    }
    let rows = rows.iter().map(|w| alpha * w).collect();
    let bias = match im.optional_constant(ctx, 2)? {
        None => None,
        Some(c) => Some(
            bias_vector(ctx, &c, out)?
                .iter()
                .map(|v| beta * v)
                .collect(),
        ),
    };
    emit_dense(im, ctx, &x, rows, out, bias)
}

/// Gemm's C broadcast to `[out]`: a scalar, `[out]` or `[1, out]`.
fn bias_vector(ctx: &NodeCtx, c: &Tensor, out: usize) -> Result<Vec<f32>> {
    let values = c.to_f32().map_err(|e| ctx.fail(e))?;
    match (
        values.len(),
        c.dims.iter().rev().nth(1).copied().unwrap_or(1),
    ) {
        (1, _) => Ok(vec![values[0]; out]),
        (n, 1) if n == out => Ok(values),
        _ => Err(ctx.fail(format!(
            "C of shape {:?} does not broadcast to [N, {out}]",
            c.dims
        ))),
    }
}

/// `A · B` with B a `[F, out]` constant.
pub(super) fn matmul(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let x = im.act(ctx, 0)?;
    let (inputs, _) = features(im, ctx, &x)?;
    let b = im.constant(ctx, 1)?;
    let (r, c, values) = matrix(ctx, &b, "the second operand")?;
    if r != inputs {
        return Err(ctx.fail(format!(
            "[N, {inputs}] times {:?} does not multiply",
            b.dims
        )));
    }
    emit_dense(im, ctx, &x, transpose(&values, r, c), c, None)
}

pub(super) fn softmax(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let attrs = Attrs::of(ctx.node);
    let x = im.act(ctx, 0)?;
    let dims = im.dims(&x);
    let default = if ctx.opset < 13 { 1 } else { -1 };
    let axis = attrs.int_or("axis", default).map_err(|e| ctx.fail(e))?;
    let rank = dims.len() as i64 + 1;
    let axis = if axis < 0 { axis + rank } else { axis };
    // Before 13 the input is coerced to [prod(dims before axis), rest]: all features when
    // every dim before the axis (batch excluded) is 1.
    let over_features = if ctx.opset < 13 {
        axis >= 1 && dims.iter().take(axis as usize - 1).all(|&d| d == 1)
    } else {
        axis >= 1
            && dims
                .iter()
                .enumerate()
                .all(|(i, &d)| i + 1 == axis as usize || d == 1)
    };
    let shape = im.shape(&x);
    if !over_features || shape.h * shape.w != 1 {
        return Err(ctx.fail(format!(
            "softmax over axis {axis} of [N, {dims:?}] is not supported (only over the features of a vector)"
        )));
    }
    let id = im.emit(ctx, Op::Softmax, &[x.id])?;
    im.set_act(ctx, id, x.layout)
}
