//! Shape plumbing on activations: Flatten, Reshape, Squeeze, Unsqueeze, Transpose and
//! Concat only relabel the ONNX view of an IR tensor (an IR Flatten where an image becomes
//! a vector, an IR Concat along channels). On constants they are folded (`constants.rs`).

use super::super::attrs::Attrs;
use super::super::tensor::{Data, Int, Tensor};
use super::super::value::{same_order, transposed, vector_layout, Act, Layout, Value};
use super::super::{Importer, NodeCtx};
use super::constants::{concat_const, transpose_const};
use super::normalize_axis;
use crate::error::Result;
use crate::graph::Op;

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
            // Flatten's axis lies in [-rank, rank]; a negative one counts from `rank`.
            let axis = attrs.int_or("axis", 1).map_err(|e| ctx.fail(e))?;
            let rank = full_rank as i64;
            let axis = Some(if axis < 0 { axis + rank } else { axis })
                .filter(|a| (0..=rank).contains(a))
                .map(|a| a as usize)
                .filter(|&a| batch.is_none() || a == 1)
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
    if checked_product(&out) != Some(total) {
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
        let known = checked_product(&out).unwrap_or(0);
        let total: usize = dims.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(ctx.fail(format!("cannot reshape {dims:?} into {target:?}")));
        }
        out[i] = total / known;
    }
    Ok(out)
}

/// The product of `dims`, `None` on overflow (a malformed target shape).
fn checked_product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
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

pub(super) fn concat(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let axis = Attrs::of(ctx.node).int("axis").map_err(|e| ctx.fail(e))?;
    let axis = axis.ok_or_else(|| ctx.fail("has no `axis` attribute"))?;
    if ctx.node.input.is_empty() {
        return Err(ctx.fail("has no inputs"));
    }
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
