//! Operators folded at load: Shape, Gather, Slice, Cast, Constant, and the constant side
//! of Transpose and Concat (the Shape → Gather → Concat → Reshape chains exporters write),
//! plus Identity and Dropout, which pass any value through.

use super::super::attrs::Attrs;
use super::super::proto::tensor_proto::DataType;
use super::super::tensor::{self, Data, Int, Tensor};
use super::super::value::{Act, Value};
use super::super::{Importer, NodeCtx};
use super::normalize_axis;
use crate::error::Result;
use crate::graph::{BatchNorm, Op};

pub(super) fn transpose_const(t: &Tensor, perm: &[usize]) -> Tensor {
    let dims: Vec<usize> = perm.iter().map(|&p| t.dims[p]).collect();
    let mut strides = vec![1; t.dims.len()];
    for i in (0..t.dims.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * t.dims[i + 1];
    }
    let moved: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
    let total: usize = dims.iter().product();
    let order = (0..total)
        .map(|flat| {
            let mut rem = flat;
            let mut src = 0;
            for axis in (0..dims.len()).rev() {
                src += (rem % dims[axis]) * moved[axis];
                rem /= dims[axis];
            }
            src
        })
        .collect::<Vec<usize>>();
    pick(t, &order, dims)
}

/// A tensor of `dims` whose elements are `t`'s at `order`.
fn pick(t: &Tensor, order: &[usize], dims: Vec<usize>) -> Tensor {
    let data = match &t.data {
        Data::Float(v) => Data::Float(order.iter().map(|&i| v[i]).collect()),
        Data::Int(v) => Data::Int(order.iter().map(|&i| v[i]).collect()),
    };
    Tensor {
        dims,
        elem: t.elem,
        data,
    }
}

pub(super) fn concat_const(tensors: &[Tensor], axis: i64) -> std::result::Result<Tensor, String> {
    let first = &tensors[0];
    let rank = first.dims.len();
    let axis = normalize_axis(axis, rank).ok_or(format!("axis {axis} is out of range"))?;
    let outer: usize = first.dims[..axis].iter().product();
    let mut dims = first.dims.clone();
    dims[axis] = 0;
    for t in tensors {
        let compatible =
            t.dims.len() == rank && (0..rank).all(|i| i == axis || t.dims[i] == first.dims[i]);
        if !compatible {
            return Err(format!(
                "cannot concatenate shapes {:?} and {:?}",
                first.dims, t.dims
            ));
        }
        dims[axis] += t.dims[axis];
    }
    let float = tensors.iter().any(|t| matches!(t.data, Data::Float(_)));
    let mut floats = Vec::new();
    let mut ints = Vec::new();
    for o in 0..outer {
        for t in tensors {
            let block: usize = t.dims[axis..].iter().product();
            let range = o * block..(o + 1) * block;
            match (&t.data, float) {
                (Data::Int(v), false) => ints.extend_from_slice(&v[range]),
                _ => floats.extend_from_slice(&t.to_f32()?[range]),
            }
        }
    }
    Ok(if float {
        Tensor::floats(floats, dims)
    } else {
        Tensor {
            dims,
            elem: first.elem,
            data: Data::Int(ints),
        }
    })
}

pub(super) fn shape(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let full: Vec<Int> = match im.input(ctx, 0)? {
        Value::Const(t) => t.dims.iter().map(|&d| Int::Known(d as i64)).collect(),
        Value::Act(x) => std::iter::once(Int::Batch)
            .chain(im.dims(&x).iter().map(|&d| Int::Known(d as i64)))
            .collect(),
    };
    let attrs = Attrs::of(ctx.node);
    let rank = full.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let start = clamp(attrs.int_or("start", 0).map_err(|e| ctx.fail(e))?);
    let end = clamp(attrs.int_or("end", rank).map_err(|e| ctx.fail(e))?);
    let slice = full.get(start..end.max(start)).unwrap_or_default().to_vec();
    let n = slice.len();
    im.set_output(ctx, Value::Const(Tensor::ints(slice, vec![n])))
}

pub(super) fn gather(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let data = im.constant(ctx, 0)?;
    let indices = im.constant(ctx, 1)?;
    let axis = Attrs::of(ctx.node)
        .int_or("axis", 0)
        .map_err(|e| ctx.fail(e))?;
    let axis = normalize_axis(axis, data.dims.len())
        .ok_or_else(|| ctx.fail(format!("attribute `axis` = {axis} is out of range")))?;
    let n = data.dims[axis];
    let picks = indices
        .to_i64()
        .map_err(|e| ctx.fail(e))?
        .iter()
        .map(|&i| {
            normalize_axis(i, n)
                .ok_or_else(|| ctx.fail(format!("index {i} is out of range for {n}")))
        })
        .collect::<Result<Vec<usize>>>()?;
    let outer: usize = data.dims[..axis].iter().product();
    let inner: usize = data.dims[axis + 1..].iter().product();
    let order: Vec<usize> = (0..outer)
        .flat_map(|o| {
            picks
                .iter()
                .flat_map(move |&p| (0..inner).map(move |i| (o * n + p) * inner + i))
        })
        .collect();
    let mut dims = data.dims[..axis].to_vec();
    dims.extend(&indices.dims);
    dims.extend(&data.dims[axis + 1..]);
    im.set_output(ctx, Value::Const(pick(&data, &order, dims)))
}

/// Slice of a constant (the shape arithmetic of exporters), positive steps.
pub(super) fn slice(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let data = im.constant(ctx, 0)?;
    let attrs = Attrs::of(ctx.node);
    let fail = |e: String| ctx.fail(e);
    let mut list = |k: usize, name: &str| -> Result<Option<Vec<i64>>> {
        if ctx.opset < 10 {
            return attrs.ints(name).map_err(fail);
        }
        im.optional_constant(ctx, k)?
            .map(|t| t.to_i64().map_err(fail))
            .transpose()
    };
    let starts = list(1, "starts")?.ok_or_else(|| ctx.fail("has no starts"))?;
    let ends = list(2, "ends")?.ok_or_else(|| ctx.fail("has no ends"))?;
    let rank = data.dims.len();
    let axes = list(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = list(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
    if [ends.len(), axes.len(), steps.len()] != [starts.len(); 3] {
        return Err(ctx.fail("starts, ends, axes and steps differ in length"));
    }
    let mut ranges: Vec<(usize, usize, usize)> = data.dims.iter().map(|&d| (0, d, 1)).collect();
    for (((&start, &end), &axis), &step) in starts.iter().zip(&ends).zip(&axes).zip(&steps) {
        let axis = normalize_axis(axis, rank)
            .ok_or_else(|| ctx.fail(format!("axis {axis} is out of range")))?;
        if step <= 0 {
            return Err(ctx.fail(format!(
                "step {step} is not supported (positive steps only)"
            )));
        }
        let size = data.dims[axis] as i64;
        let clamp = |v: i64| (if v < 0 { v + size } else { v }).clamp(0, size) as usize;
        ranges[axis] = (clamp(start), clamp(end), step as usize);
    }
    let dims: Vec<usize> = ranges
        .iter()
        .map(|&(start, end, step)| end.saturating_sub(start).div_ceil(step))
        .collect();
    let total: usize = dims.iter().product();
    let order: Vec<usize> = (0..total)
        .map(|flat| {
            let (mut rem, mut src, mut stride) = (flat, 0, 1);
            for axis in (0..rank).rev() {
                let (start, _, step) = ranges[axis];
                src += (start + (rem % dims[axis]) * step) * stride;
                rem /= dims[axis];
                stride *= data.dims[axis];
            }
            src
        })
        .collect();
    im.set_output(ctx, Value::Const(pick(&data, &order, dims)))
}

pub(super) fn cast(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let to = Attrs::of(ctx.node).int("to").map_err(|e| ctx.fail(e))?;
    let to = to
        .and_then(|t| DataType::try_from(t as i32).ok())
        .ok_or_else(|| ctx.fail("attribute `to` is missing or unknown"))?;
    let float = matches!(to, DataType::Float | DataType::Double | DataType::Float16);
    match im.input(ctx, 0)? {
        Value::Const(t) => {
            let data = if float {
                Data::Float(t.to_f32().map_err(|e| ctx.fail(e))?)
            } else {
                match t.data {
                    Data::Int(v) => Data::Int(v),
                    Data::Float(v) => {
                        Data::Int(v.iter().map(|&f| Int::Known(f.trunc() as i64)).collect())
                    }
                }
            };
            im.set_output(
                ctx,
                Value::Const(Tensor {
                    dims: t.dims,
                    elem: to,
                    data,
                }),
            )
        }
        Value::Act(x) if float => cast_to_float(im, ctx, x),
        Value::Act(_) => Err(ctx.fail(format!(
            "casting an activation to {} is not supported",
            to.as_str_name()
        ))),
    }
}

/// Casting a quantized activation to float exposes its integers: `q = x / scale + zp`.
fn cast_to_float(im: &mut Importer, ctx: &NodeCtx, x: Act) -> Result<()> {
    let Some((q, _)) = x.quant else {
        return im.set_output(ctx, Value::Act(x));
    };
    if (q.scale, q.zero_point) == (1.0, 0) {
        return im.set_output(ctx, Value::Act(Act { quant: None, ..x }));
    }
    let c = im.shape(&x).c;
    let affine = BatchNorm::affine(vec![1.0 / q.scale; c], vec![q.zero_point as f32; c]);
    let id = im.emit(ctx, Op::BatchNorm(affine), &[x.id])?;
    im.set_act(ctx, id, x.layout)
}

pub(super) fn identity(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    if ctx.node.op_type == "Dropout" {
        let training = match im.optional_constant(ctx, 2)? {
            Some(t) => t
                .to_i64()
                .map_err(|e| ctx.fail(e))?
                .first()
                .copied()
                .unwrap_or(0),
            None => 0,
        };
        if training != 0 {
            return Err(ctx.fail("training-mode Dropout is not supported"));
        }
    }
    let value = im.input(ctx, 0)?;
    im.set_output(ctx, value)
}

pub(super) fn constant(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let attrs = Attrs::of(ctx.node);
    let fail = |e: String| ctx.fail(e);
    let value = if let Some(t) = attrs.tensor("value").map_err(fail)? {
        tensor::decode(t, None).map_err(fail)?
    } else if let Some(f) = attrs.float("value_float").map_err(fail)? {
        Tensor::floats(vec![f], vec![])
    } else if let Some(f) = attrs.floats("value_floats").map_err(fail)? {
        let n = f.len();
        Tensor::floats(f, vec![n])
    } else if let Some(i) = attrs.int("value_int").map_err(fail)? {
        Tensor::ints(vec![Int::Known(i)], vec![])
    } else if let Some(i) = attrs.ints("value_ints").map_err(fail)? {
        let n = i.len();
        Tensor::ints(i.into_iter().map(Int::Known).collect(), vec![n])
    } else {
        let names: Vec<&str> = attrs.names().collect();
        return Err(ctx.fail(format!("constant attribute {names:?} is not supported")));
    };
    im.set_output(ctx, Value::Const(value))
}
