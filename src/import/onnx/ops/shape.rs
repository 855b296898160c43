//! Shape plumbing: Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Concat, Shape, Gather,
//! Cast, Identity, Dropout and Constant. On constants they are folded; on activations they
//! only relabel the ONNX view of an IR tensor (an IR Flatten where an image becomes a
//! vector, a Concat along channels).

use super::super::attrs::Attrs;
use super::super::proto::tensor_proto::DataType;
use super::super::tensor::{self, Data, Int, Tensor};
use super::super::value::{same_order, transposed, vector_layout, Act, Layout, Value};
use super::super::{Importer, NodeCtx};
use super::normalize_axis;
use crate::error::Result;
use crate::graph::{BatchNorm, Op};

pub(super) fn reshape(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    match im.input(ctx, 0)? {
        Value::Const(t) => {
            let dims = new_dims(im, ctx, &t.dims, None)?;
            im.set_output(ctx, Value::Const(Tensor { dims, ..t }))
        }
        Value::Act(x) => {
            let dims = im.dims(&x);
            let new = new_dims(im, ctx, &dims, Some(()))?;
            reshape_act(im, ctx, x, new)
        }
    }
}

/// The node's output dims for input dims `dims`. For an activation (`batch` set), `dims`
/// and the result exclude the batch axis, which must stay first and unchanged.
fn new_dims(
    im: &mut Importer,
    ctx: &NodeCtx,
    dims: &[usize],
    batch: Option<()>,
) -> Result<Vec<usize>> {
    let attrs = Attrs::of(ctx.node);
    let lead = usize::from(batch.is_some());
    let full_rank = dims.len() + lead;
    let axes = |im: &mut Importer, rank: usize| -> Result<Option<Vec<usize>>> {
        raw_axes(im, ctx)?
            .map(|axes| {
                axes.iter()
                    .map(|&a| {
                        normalize_axis(a, rank)
                            .ok_or_else(|| ctx.fail(format!("axis {a} is out of range")))
                    })
                    .collect::<Result<Vec<usize>>>()
            })
            .transpose()
    };
    let total: usize = dims.iter().product();
    let out = match ctx.node.op_type.as_str() {
        "Flatten" => {
            let axis = attrs.int_or("axis", 1).map_err(|e| ctx.fail(e))?;
            let axis = normalize_axis(axis, full_rank + 1)
                .filter(|&a| a <= full_rank && (batch.is_none() || a == 1))
                .ok_or_else(|| {
                    ctx.fail(format!("attribute `axis` = {axis} is not supported here"))
                })?;
            match batch {
                Some(()) => vec![total],
                None => vec![dims[..axis].iter().product(), dims[axis..].iter().product()],
            }
        }
        "Squeeze" => {
            let axes = axes(im, full_rank)?;
            let drop = |i: usize| match &axes {
                Some(axes) => axes.contains(&(i + lead)),
                None => dims[i] == 1,
            };
            if axes
                .as_ref()
                .is_some_and(|a| a.contains(&0) && batch.is_some())
            {
                return Err(ctx.fail("squeezing the batch axis is not supported"));
            }
            if let Some(bad) = (0..dims.len()).find(|&i| drop(i) && dims[i] != 1) {
                return Err(ctx.fail(format!("axis {} has size {}, not 1", bad + lead, dims[bad])));
            }
            (0..dims.len())
                .filter(|&i| !drop(i))
                .map(|i| dims[i])
                .collect()
        }
        "Unsqueeze" => {
            let rank = full_rank + raw_axes(im, ctx)?.map_or(0, |a| a.len());
            let axes = axes(im, rank)?.ok_or_else(|| ctx.fail("has no axes"))?;
            if batch.is_some() && axes.contains(&0) {
                return Err(ctx.fail("unsqueezing before the batch axis is not supported"));
            }
            let mut rest = dims.iter();
            (lead..rank)
                .map(|i| {
                    if axes.contains(&i) {
                        Some(1)
                    } else {
                        rest.next().copied()
                    }
                })
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| ctx.fail("axes do not fit the input rank"))?
        }
        _ => reshape_target(im, ctx, dims, batch.is_some())?,
    };
    if out.iter().product::<usize>() != total {
        return Err(ctx.fail(format!("cannot reshape {dims:?} into {out:?}")));
    }
    Ok(out)
}

/// Squeeze's and Unsqueeze's `axes`: an attribute before opset 13, an input from then on.
fn raw_axes(im: &mut Importer, ctx: &NodeCtx) -> Result<Option<Vec<i64>>> {
    if ctx.opset < 13 {
        return Attrs::of(ctx.node).ints("axes").map_err(|e| ctx.fail(e));
    }
    im.optional_constant(ctx, 1)?
        .map(|t| t.to_i64().map_err(|e| ctx.fail(e)))
        .transpose()
}

/// Reshape's target shape, with `0` (copy, unless `allowzero`) and `-1` (inferred) resolved.
fn reshape_target(
    im: &mut Importer,
    ctx: &NodeCtx,
    dims: &[usize],
    batch: bool,
) -> Result<Vec<usize>> {
    let target = match im.constant(ctx, 1)?.data {
        Data::Int(v) => v,
        Data::Float(_) => return Err(ctx.fail("the target shape is not an integer tensor")),
    };
    let allow_zero = Attrs::of(ctx.node)
        .int_or("allowzero", 0)
        .map_err(|e| ctx.fail(e))?
        != 0;
    let rest = match (batch, target.split_first()) {
        // The batch comes first: symbolic, copied (0), inferred (-1) or the file's own 1.
        (true, Some((Int::Batch | Int::Known(-1..=1), rest))) => rest,
        (true, _) => return Err(ctx.fail(format!("reshape to {target:?} changes the batch axis"))),
        (false, _) => &target[..],
    };
    let lead = usize::from(batch);
    let mut out = Vec::with_capacity(rest.len());
    let mut inferred = None;
    for (i, d) in rest.iter().enumerate() {
        match *d {
            Int::Known(0) if !allow_zero => out.push(
                *dims
                    .get(i)
                    .ok_or_else(|| ctx.fail("0 copies a dimension that does not exist"))?,
            ),
            Int::Known(-1) if inferred.is_none() => {
                inferred = Some(i);
                out.push(1);
            }
            Int::Known(k) if k >= 0 => out.push(k as usize),
            _ => {
                return Err(ctx.fail(format!(
                    "target dimension #{} = {d:?} is not supported",
                    i + lead
                )))
            }
        }
    }
    if let Some(i) = inferred {
        let known: usize = out.iter().product();
        let total: usize = dims.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(ctx.fail(format!("cannot reshape {dims:?} into {target:?}")));
        }
        out[i] = total / known;
    }
    Ok(out)
}

/// Gives activation `x` the ONNX dims `new` (batch excluded).
fn reshape_act(im: &mut Importer, ctx: &NodeCtx, x: Act, new: Vec<usize>) -> Result<()> {
    let shape = im.shape(&x);
    if new == im.dims(&x) {
        return im.set_output(ctx, Value::Act(x));
    }
    let in_order = same_order(&x.layout, shape);
    let layout = if shape.h * shape.w == 1 {
        match &x.layout {
            Layout::Flat { from, .. } if !in_order => Layout::Flat {
                dims: new,
                from: *from,
            },
            _ => vector_layout(new),
        }
    } else if new.len() == 1 {
        let from = (!in_order).then_some(shape);
        let id = im.emit(ctx, Op::Flatten, &[x.id])?;
        let flat = Act::new(id, Layout::Flat { dims: new, from });
        return im.set_output(
            ctx,
            Value::Act(Act {
                quant: x.quant,
                ..flat
            }),
        );
    } else {
        return Err(ctx.fail(format!(
            "reshaping [N, {:?}] to [N, {new:?}] is not supported",
            im.dims(&x)
        )));
    };
    im.set_output(ctx, Value::Act(Act { layout, ..x }))
}

pub(super) fn transpose(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let perm = Attrs::of(ctx.node).ints("perm").map_err(|e| ctx.fail(e))?;
    match im.input(ctx, 0)? {
        Value::Const(t) => {
            let rank = t.dims.len();
            let perm = checked_perm(ctx, perm, rank)?;
            im.set_output(ctx, Value::Const(transpose_const(&t, &perm)))
        }
        Value::Act(x) => {
            let shape = im.shape(&x);
            let rank = im.dims(&x).len() + 1;
            let perm = checked_perm(ctx, perm, rank)?;
            let moved: Vec<usize> = perm.iter().skip(1).map(|&p| p.wrapping_sub(1)).collect();
            let layout = (perm[0] == 0)
                .then(|| transposed(&x.layout, shape, &moved))
                .flatten()
                .ok_or_else(|| {
                    ctx.fail(format!(
                        "transposing [N, {:?}] by {perm:?} is not supported (only NCHW <-> NHWC and unit axes)",
                        im.dims(&x)
                    ))
                })?;
            im.set_output(ctx, Value::Act(Act { layout, ..x }))
        }
    }
}

/// `perm` (default: reversed) checked to be a permutation of `0..rank`.
fn checked_perm(ctx: &NodeCtx, perm: Option<Vec<i64>>, rank: usize) -> Result<Vec<usize>> {
    let perm: Vec<usize> = match perm {
        Some(p) => p
            .iter()
            .map(|&a| normalize_axis(a, rank).unwrap_or(usize::MAX))
            .collect(),
        None => (0..rank).rev().collect(),
    };
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..rank).collect::<Vec<_>>() {
        return Err(ctx.fail(format!(
            "attribute `perm` = {perm:?} is not a permutation of {rank} axes"
        )));
    }
    Ok(perm)
}

fn transpose_const(t: &Tensor, perm: &[usize]) -> Tensor {
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

pub(super) fn concat(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let axis = Attrs::of(ctx.node).int("axis").map_err(|e| ctx.fail(e))?;
    let axis = axis.ok_or_else(|| ctx.fail("has no `axis` attribute"))?;
    let mut values = Vec::new();
    for k in 0..ctx.node.input.len() {
        values.push(im.input(ctx, k)?);
    }
    if values.iter().all(|v| matches!(v, Value::Const(_))) {
        let tensors: Vec<Tensor> = values
            .into_iter()
            .filter_map(|v| match v {
                Value::Const(t) => Some(t),
                Value::Act(_) => None,
            })
            .collect();
        let folded = concat_const(&tensors, axis).map_err(|e| ctx.fail(e))?;
        return im.set_output(ctx, Value::Const(folded));
    }
    let mut acts = Vec::new();
    for k in 0..values.len() {
        acts.push(im.act(ctx, k)?);
    }
    let first = acts[0].clone();
    let rank = im.dims(&first).len() + 1;
    let channel = match first.layout {
        Layout::Nchw => Some(1),
        Layout::Nhwc => Some(3),
        Layout::Flat {
            ref dims,
            from: None,
        } if dims.len() == 1 => Some(1),
        Layout::Flat { .. } => None,
    };
    let same_kind = acts
        .iter()
        .all(|a| std::mem::discriminant(&a.layout) == std::mem::discriminant(&first.layout));
    if !same_kind || channel.is_none() || normalize_axis(axis, rank) != channel {
        return Err(ctx.fail(format!(
            "concatenation along axis {axis} of [N, {:?}] is not supported (only along channels)",
            im.dims(&first)
        )));
    }
    let ids: Vec<_> = acts.iter().map(|a| a.id).collect();
    let id = im.emit(ctx, Op::Concat, &ids)?;
    let layout = match first.layout {
        Layout::Flat { .. } => Layout::Flat {
            dims: vec![im.graph.shape(id).c],
            from: None,
        },
        other => other,
    };
    im.set_act(ctx, id, layout)
}

fn concat_const(tensors: &[Tensor], axis: i64) -> std::result::Result<Tensor, String> {
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
