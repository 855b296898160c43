//! Sliding-window operators over NCHW maps: Conv (with a preceding Pad folded in), Pad,
//! BatchNormalization, and the average pools (GlobalAveragePool, AveragePool, ReduceMean
//! over H and W).

use super::super::attrs::Attrs;
use super::super::value::{Act, Layout, Value};
use super::super::{Importer, NodeCtx};
use super::normalize_axis;
use crate::error::Result;
use crate::graph::{AvgPool, BatchNorm, Conv2d, Op, Padding, Shape};

/// Larger padding than any image has pixels is a malformed file, not a model.
const MAX_PAD: i64 = 1 << 16;

/// The IR shape of `act`, which must be an NCHW image batch (as ONNX's window operators
/// read every 4-D tensor).
fn nchw(im: &Importer, ctx: &NodeCtx, act: &Act) -> Result<Shape> {
    let shape = im.shape(act);
    match act.layout {
        Layout::Nchw => Ok(shape),
        Layout::Nhwc if shape.h * shape.w == 1 => Ok(shape),
        _ => Err(ctx.fail(format!(
            "expects an [N, C, H, W] tensor, got [N, {:?}]",
            im.dims(act)
        ))),
    }
}

/// One number for both spatial axes (the IR has a single stride and pooling size).
fn square(ctx: &NodeCtx, name: &str, values: Option<Vec<i64>>, default: i64) -> Result<usize> {
    let values = values.unwrap_or_else(|| vec![default, default]);
    match values[..] {
        [a, b] if a == b && a > 0 => Ok(a as usize),
        _ => Err(ctx.fail(format!(
            "attribute `{name}` = {values:?} is not supported (equal positive values on H and W)"
        ))),
    }
}

fn no_dilation(ctx: &NodeCtx, attrs: &Attrs) -> Result<()> {
    match attrs.ints("dilations").map_err(|e| ctx.fail(e))? {
        Some(d) if d.iter().any(|&v| v != 1) => Err(ctx.fail(format!(
            "attribute `dilations` = {d:?} is not supported (only 1)"
        ))),
        _ => Ok(()),
    }
}

/// The explicit padding of a window op from `auto_pad` and `pads`.
fn window_padding(
    ctx: &NodeCtx,
    attrs: &Attrs,
    input: Shape,
    kernel: (usize, usize),
    stride: usize,
) -> Result<Padding> {
    let auto = attrs.string("auto_pad").map_err(|e| ctx.fail(e))?;
    let same = |upper: bool| {
        let (top, bottom) = same_1d(input.h, kernel.0, stride, upper);
        let (left, right) = same_1d(input.w, kernel.1, stride, upper);
        Padding {
            top,
            bottom,
            left,
            right,
        }
    };
    match auto.as_deref().unwrap_or("NOTSET") {
        "NOTSET" => match attrs.ints("pads").map_err(|e| ctx.fail(e))?.as_deref() {
            None => Ok(Padding::default()),
            Some(&[t, l, b, r]) if [t, l, b, r].iter().all(|&p| (0..=MAX_PAD).contains(&p)) => {
                Ok(Padding {
                    top: t as usize,
                    left: l as usize,
                    bottom: b as usize,
                    right: r as usize,
                })
            }
            Some(p) => Err(ctx.fail(format!(
                "attribute `pads` = {p:?} is not supported (four non-negative values)"
            ))),
        },
        "VALID" => Ok(Padding::default()),
        "SAME_UPPER" => Ok(same(true)),
        "SAME_LOWER" => Ok(same(false)),
        other => Err(ctx.fail(format!("attribute `auto_pad` = {other} is not supported"))),
    }
}

/// SAME padding of one axis: output `ceil(size / stride)`, the odd pixel after (UPPER) or
/// before (LOWER).
fn same_1d(size: usize, kernel: usize, stride: usize, upper: bool) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out.max(1) - 1) * stride + kernel).saturating_sub(size);
    let small = total / 2;
    if upper {
        (small, total - small)
    } else {
        (total - small, small)
    }
}

fn add_padding(a: Padding, b: Padding) -> Padding {
    Padding {
        top: a.top + b.top,
        bottom: a.bottom + b.bottom,
        left: a.left + b.left,
        right: a.right + b.right,
    }
}

pub(super) fn conv(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let attrs = Attrs::of(ctx.node);
    let x = im.padded_act(ctx, 0)?;
    if x.quant.is_some() {
        return Err(ctx.fail("reads a quantized tensor without a DequantizeLinear"));
    }
    let shape = nchw(im, ctx, &x)?;
    let w = im.constant(ctx, 1)?;
    let bias = im.optional_constant(ctx, 2)?;
    let [out_c, in_per_group, kh, kw] = w.dims[..] else {
        return Err(ctx.fail(format!(
            "weights have shape {:?}; a 2-D convolution's are [M, C/group, kH, kW]",
            w.dims
        )));
    };
    if let Some(k) = attrs.ints("kernel_shape").map_err(|e| ctx.fail(e))? {
        if k != [kh as i64, kw as i64] {
            return Err(ctx.fail(format!(
                "attribute `kernel_shape` = {k:?} disagrees with the weights' {kh}x{kw}"
            )));
        }
    }
    no_dilation(ctx, &attrs)?;
    let stride = square(
        ctx,
        "strides",
        attrs.ints("strides").map_err(|e| ctx.fail(e))?,
        1,
    )?;
    let groups = attrs.int_or("group", 1).map_err(|e| ctx.fail(e))?;
    let groups = usize::try_from(groups)
        .ok()
        .filter(|&g| g > 0 && g.checked_mul(in_per_group) == Some(shape.c))
        .ok_or_else(|| {
            ctx.fail(format!(
                "attribute `group` = {groups} with weights [{out_c}, {in_per_group}, {kh}, {kw}] does not fit {} input channels",
                shape.c
            ))
        })?;
    // A preceding Pad is part of the input the convolution sees, SAME padding included.
    let padded = Shape::new(
        shape.h + x.pad.top + x.pad.bottom,
        shape.w + x.pad.left + x.pad.right,
        shape.c,
    );
    let padding = window_padding(ctx, &attrs, padded, (kh, kw), stride)?;
    let weights = oihw_to_ohwi(
        &w.to_f32().map_err(|e| ctx.fail(e))?,
        out_c,
        in_per_group,
        kh,
        kw,
    );
    let bias = bias
        .map(|b| b.to_f32().map_err(|e| ctx.fail(e)))
        .transpose()?;
    let op = Op::Conv2d(Conv2d {
        out_channels: out_c,
        kernel_h: kh,
        kernel_w: kw,
        stride,
        padding: add_padding(x.pad, padding),
        groups,
        weights,
        bias,
    });
    let id = im.emit(ctx, op, &[x.id])?;
    im.set_act(ctx, id, Layout::Nchw)
}

/// ONNX's `[O][I][kH][kW]` weights in the IR's `[O][kH][kW][I]` order.
fn oihw_to_ohwi(w: &[f32], o: usize, i: usize, kh: usize, kw: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(w.len());
    for oc in 0..o {
        for y in 0..kh {
            for x in 0..kw {
                for ic in 0..i {
                    out.push(w[((oc * i + ic) * kh + y) * kw + x]);
                }
            }
        }
    }
    out
}

pub(super) fn pad(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let attrs = Attrs::of(ctx.node);
    let x = im.padded_act(ctx, 0)?;
    let mode = attrs.string("mode").map_err(|e| ctx.fail(e))?;
    if mode.as_deref().is_some_and(|m| m != "constant") {
        return Err(ctx.fail(format!(
            "attribute `mode` = {} is not supported (constant zero padding only)",
            mode.unwrap_or_default()
        )));
    }
    let (pads, value) = if ctx.opset < 11 {
        let pads = attrs.ints("pads").map_err(|e| ctx.fail(e))?;
        (pads, attrs.float_or("value", 0.0).map_err(|e| ctx.fail(e))?)
    } else {
        let pads = im.constant(ctx, 1)?.to_i64().map_err(|e| ctx.fail(e))?;
        let value = match im.optional_constant(ctx, 2)? {
            Some(v) => v.scalar_f32().map_err(|e| ctx.fail(e))?,
            None => 0.0,
        };
        if im.optional_input(ctx, 3)?.is_some() {
            return Err(ctx.fail("the `axes` input is not supported"));
        }
        (Some(pads), value)
    };
    if value != 0.0 {
        return Err(ctx.fail(format!("padding value {value} is not supported (only 0)")));
    }
    let pads = pads.ok_or_else(|| ctx.fail("has no `pads`"))?;
    let (h, w) = match x.layout {
        Layout::Nchw => (2, 3),
        Layout::Nhwc => (1, 2),
        Layout::Flat { .. } => return Err(ctx.fail("pads a tensor that is not an image")),
    };
    let spatial_only = pads.len() == 8
        && pads.iter().all(|&p| (0..=MAX_PAD).contains(&p))
        && (0..4).all(|axis| axis == h || axis == w || (pads[axis] == 0 && pads[axis + 4] == 0));
    if !spatial_only {
        return Err(ctx.fail(format!(
            "pads {pads:?} are not supported (non-negative, on H and W of a 4-D tensor)"
        )));
    }
    let extra = Padding {
        top: pads[h] as usize,
        left: pads[w] as usize,
        bottom: pads[h + 4] as usize,
        right: pads[w + 4] as usize,
    };
    let padded = Act {
        pad: add_padding(x.pad, extra),
        ..x
    };
    im.set_output(ctx, Value::Act(padded))
}

pub(super) fn batch_norm(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let attrs = Attrs::of(ctx.node);
    let x = im.act(ctx, 0)?;
    if attrs.int_or("training_mode", 0).map_err(|e| ctx.fail(e))? != 0
        || attrs.int_or("spatial", 1).map_err(|e| ctx.fail(e))? != 1
    {
        return Err(ctx.fail("only inference-mode, spatial BatchNormalization is supported"));
    }
    let shape = im.shape(&x);
    let channels_ok = match &x.layout {
        Layout::Nchw => true,
        Layout::Nhwc => shape.h * shape.w == 1,
        Layout::Flat { dims, from } => dims.len() == 1 && from.is_none(),
    };
    if !channels_ok {
        return Err(ctx.fail(format!(
            "normalises axis 1 of [N, {:?}], which is not the channel axis here",
            im.dims(&x)
        )));
    }
    let mut params = Vec::with_capacity(4);
    for k in 1..=4 {
        let t = im.constant(ctx, k)?;
        params.push(t.to_f32().map_err(|e| ctx.fail(e))?);
    }
    let [gamma, beta, mean, var] =
        <[Vec<f32>; 4]>::try_from(params).map_err(|_| ctx.fail("needs scale, B, mean and var"))?;
    let eps = attrs.float_or("epsilon", 1e-5).map_err(|e| ctx.fail(e))?;
    let op = Op::BatchNorm(BatchNorm {
        gamma,
        beta,
        mean,
        var,
        eps,
    });
    let id = im.emit(ctx, op, &[x.id])?;
    im.set_act(ctx, id, x.layout)
}

pub(super) fn global_average_pool(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let x = im.act(ctx, 0)?;
    nchw(im, ctx, &x)?;
    let id = im.emit(ctx, Op::GlobalAvgPool, &[x.id])?;
    im.set_act(ctx, id, Layout::Nchw)
}

pub(super) fn average_pool(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let attrs = Attrs::of(ctx.node);
    let x = im.act(ctx, 0)?;
    let shape = nchw(im, ctx, &x)?;
    let fail = |e: String| ctx.fail(e);
    let kernel = square(
        ctx,
        "kernel_shape",
        attrs.ints("kernel_shape").map_err(fail)?,
        0,
    )?;
    let stride = square(ctx, "strides", attrs.ints("strides").map_err(fail)?, 1)?;
    no_dilation(ctx, &attrs)?;
    let padding = window_padding(ctx, &attrs, shape, (kernel, kernel), stride)?;
    let padded = padding != Padding::default();
    if padded && attrs.int_or("count_include_pad", 0).map_err(fail)? != 0 {
        return Err(ctx.fail("attribute `count_include_pad` = 1 with padding is not supported"));
    }
    if attrs.int_or("ceil_mode", 0).map_err(fail)? != 0 {
        let exact = |size: usize, lo: usize, hi: usize| {
            (size + lo + hi)
                .checked_sub(kernel)
                .is_some_and(|n| n % stride == 0)
        };
        if !(exact(shape.h, padding.top, padding.bottom)
            && exact(shape.w, padding.left, padding.right))
        {
            return Err(ctx.fail("attribute `ceil_mode` = 1 is not supported where it rounds up"));
        }
    }
    let pool = AvgPool {
        kernel,
        stride,
        padding,
    };
    let id = im.emit(ctx, pool.op_for(shape), &[x.id])?;
    im.set_act(ctx, id, Layout::Nchw)
}

pub(super) fn reduce_mean(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let attrs = Attrs::of(ctx.node);
    let x = im.act(ctx, 0)?;
    let axes = if ctx.opset < 18 {
        attrs.ints("axes").map_err(|e| ctx.fail(e))?
    } else {
        im.optional_constant(ctx, 1)?
            .map(|t| t.to_i64().map_err(|e| ctx.fail(e)))
            .transpose()?
    };
    let keep = attrs.int_or("keepdims", 1).map_err(|e| ctx.fail(e))? != 0;
    let mut axes: Vec<usize> = axes
        .unwrap_or_default()
        .iter()
        .map(|&a| normalize_axis(a, 4).ok_or_else(|| ctx.fail(format!("axis {a} is out of range"))))
        .collect::<Result<_>>()?;
    axes.sort_unstable();
    let spatial = match x.layout {
        Layout::Nchw => [2, 3],
        Layout::Nhwc => [1, 2],
        Layout::Flat { .. } => [0, 0],
    };
    if axes != spatial {
        return Err(ctx.fail(format!(
            "reduces axes {axes:?} of [N, {:?}]; only the mean over H and W is supported",
            im.dims(&x)
        )));
    }
    let id = im.emit(ctx, Op::GlobalAvgPool, &[x.id])?;
    let c = im.graph.shape(id).c;
    let layout = match (keep, &x.layout) {
        (true, layout) => layout.clone(),
        (false, _) => Layout::Flat {
            dims: vec![c],
            from: None,
        },
    };
    im.set_act(ctx, id, layout)
}
