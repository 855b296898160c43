//! Element-wise operators: activations (Relu, Clip, HardSwish, HardSigmoid, Sigmoid) and
//! the binary Add, Sub, Mul, Div, Min, Max. With one constant operand they become a
//! per-channel affine map or a clamp; with two activations, a residual Add, a channel scale
//! (squeeze-excite) or `x · HardSigmoid(x)` (HardSwish as opset 13 exporters write it).

use super::super::attrs::Attrs;
use super::super::tensor::Tensor;
use super::super::value::{same_order, Act, Layout, Value};
use super::super::{Importer, NodeCtx};
use super::fold;
use crate::error::Result;
use crate::graph::{Activation, BatchNorm, Op, Shape, TensorId};

pub(super) fn activation(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let attrs = Attrs::of(ctx.node);
    let fail = |e: String| ctx.fail(e);
    let act = match ctx.node.op_type.as_str() {
        "Relu" => Activation::Relu,
        "HardSwish" => Activation::HardSwish,
        "Sigmoid" => Activation::Sigmoid,
        "HardSigmoid" => Activation::HardSigmoid {
            alpha: attrs.float_or("alpha", 0.2).map_err(fail)?,
            beta: attrs.float_or("beta", 0.5).map_err(fail)?,
        },
        _ => {
            let (min, max) = clip_bounds(im, ctx, &attrs)?;
            clamp(min, max)
        }
    };
    let x = im.act(ctx, 0)?;
    let id = im.emit(ctx, Op::Activation(act), &[x.id])?;
    im.set_act(ctx, id, x.layout)
}

/// Clip's bounds: attributes before opset 11, optional constant inputs from then on.
fn clip_bounds(im: &mut Importer, ctx: &NodeCtx, attrs: &Attrs) -> Result<(f32, f32)> {
    if ctx.opset < 11 {
        let fail = |e: String| ctx.fail(e);
        return Ok((
            attrs.float_or("min", f32::NEG_INFINITY).map_err(fail)?,
            attrs.float_or("max", f32::INFINITY).map_err(fail)?,
        ));
    }
    let mut bound = |k: usize, default: f32| -> Result<f32> {
        match im.optional_constant(ctx, k)? {
            Some(t) => t
                .scalar_f32()
                .map_err(|e| ctx.fail(format!("input #{k}: {e}"))),
            None => Ok(default),
        }
    };
    Ok((bound(1, f32::NEG_INFINITY)?, bound(2, f32::INFINITY)?))
}

/// The plainest activation clamping to `[min, max]`.
pub(super) fn clamp(min: f32, max: f32) -> Activation {
    match (min, max) {
        (0.0, 6.0) => Activation::Relu6,
        (0.0, f32::INFINITY) => Activation::Relu,
        _ => Activation::Clamp { min, max },
    }
}

pub(super) fn binary(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let a = im.input(ctx, 0)?;
    let b = im.input(ctx, 1)?;
    match (a, b) {
        (Value::Const(a), Value::Const(b)) => {
            let folded = fold_binary(&ctx.node.op_type, &a, &b).map_err(|e| ctx.fail(e))?;
            im.set_output(ctx, Value::Const(folded))
        }
        (Value::Act(_), Value::Const(c)) => with_constant(im, ctx, 0, &c, false),
        (Value::Const(c), Value::Act(_)) => with_constant(im, ctx, 1, &c, true),
        (Value::Act(_), Value::Act(_)) => two_activations(im, ctx),
    }
}

fn fold_binary(op: &str, a: &Tensor, b: &Tensor) -> std::result::Result<Tensor, String> {
    match op {
        "Add" => fold::binary(a, b, |x, y| x + y, i64::checked_add),
        "Sub" => fold::binary(a, b, |x, y| x - y, i64::checked_sub),
        "Mul" => fold::binary(a, b, |x, y| x * y, i64::checked_mul),
        "Div" => fold::binary(a, b, |x, y| x / y, i64::checked_div),
        "Min" => fold::binary(a, b, f32::min, |x, y| Some(x.min(y))),
        _ => fold::binary(a, b, f32::max, |x, y| Some(x.max(y))),
    }
}

/// Activation input `k` combined with constant `c`; `reversed` when the constant is the
/// first operand (it matters to Sub and Div).
fn with_constant(
    im: &mut Importer,
    ctx: &NodeCtx,
    k: usize,
    c: &Tensor,
    reversed: bool,
) -> Result<()> {
    let x = im.act(ctx, k)?;
    let op_type = ctx.node.op_type.as_str();
    if let "Min" | "Max" = op_type {
        let bounds = per_channel(im, ctx, &x, c)?;
        let bound = bounds[0];
        if bounds.iter().any(|&b| b != bound) {
            return per_channel_bound(im, ctx, &x, bounds, op_type == "Min");
        }
        let act = if op_type == "Min" {
            clamp(f32::NEG_INFINITY, bound)
        } else {
            clamp(bound, f32::INFINITY)
        };
        let id = im.emit(ctx, Op::Activation(act), &[x.id])?;
        return im.set_act(ctx, id, x.layout);
    }
    let v = per_channel(im, ctx, &x, c)?;
    let ones = vec![1.0; v.len()];
    let zeros = vec![0.0; v.len()];
    let (scale, shift) = match (op_type, reversed) {
        ("Add", _) => (ones, v),
        ("Mul", _) => (v, zeros),
        ("Sub", false) => (ones, v.iter().map(|t| -t).collect()),
        ("Sub", true) => (vec![-1.0; v.len()], v),
        ("Div", false) => (v.iter().map(|t| 1.0 / t).collect(), zeros),
        _ => return Err(ctx.fail("dividing a constant by an activation is not supported")),
    };
    if scale.iter().chain(&shift).any(|t| !t.is_finite()) {
        return Err(ctx.fail("the constant operand makes a non-finite scale or shift"));
    }
    let id = im.emit(ctx, Op::BatchNorm(BatchNorm::affine(scale, shift)), &[x.id])?;
    im.set_act(ctx, id, x.layout)
}

/// `min(x, v)` or `max(x, v)` with a different `v` per channel, which the IR's scalar
/// clamps cannot say: `v − relu(v − x)` and `v + relu(x − v)`, two affine maps around a
/// ReLU (tf2onnx writes per-channel `clip_by_value` bounds this way).
fn per_channel_bound(
    im: &mut Importer,
    ctx: &NodeCtx,
    x: &Act,
    v: Vec<f32>,
    min: bool,
) -> Result<()> {
    let sign = if min { -1.0 } else { 1.0 };
    let n = v.len();
    let towards: Vec<f32> = v.iter().map(|b| -sign * b).collect();
    let name = ctx.output_name()?.to_string();
    let graph = &mut im.graph;
    let add = |graph: &mut crate::graph::Graph, suffix: &str, op: Op, input| {
        graph
            .add(format!("{name}/{suffix}"), op, &[input])
            .map_err(|e| ctx.fail(e))
    };
    let diff = BatchNorm::affine(vec![sign; n], towards);
    let diff = add(graph, "difference", Op::BatchNorm(diff), x.id)?;
    let relu = add(graph, "relu", Op::Activation(Activation::Relu), diff)?;
    let back = BatchNorm::affine(vec![sign; n], v);
    let id = im.emit(ctx, Op::BatchNorm(back), &[relu])?;
    im.set_act(ctx, id, x.layout.clone())
}

/// Constant `c` broadcast onto activation `x` as one value per IR channel. It may vary only
/// along the channel axis of an image; along any axis of a vector.
fn per_channel(im: &Importer, ctx: &NodeCtx, x: &Act, c: &Tensor) -> Result<Vec<f32>> {
    let shape = im.shape(x);
    let dims = im.dims(x);
    let mut full = vec![1usize];
    full.extend(&dims);
    let fits = fold::broadcast_dims(&c.dims, &full).is_some_and(|d| d == full);
    if !fits {
        return Err(ctx.fail(format!(
            "constant of shape {:?} does not broadcast onto [N, {dims:?}] per image",
            c.dims
        )));
    }
    let values = c.to_f32().map_err(|e| ctx.fail(e))?;
    let index = fold::broadcast_indices(&c.dims, &full);
    let channel_axis = match &x.layout {
        Layout::Nchw => Some(1),
        Layout::Nhwc => Some(3),
        Layout::Flat { .. } => None,
    };
    let Some(axis) = channel_axis.filter(|_| shape.h * shape.w > 1) else {
        return flat_values(x, shape, &values, &index);
    };
    // Images: the constant must be the same at every pixel.
    let channel_of = |i: usize| {
        let per_axis: usize = full[axis + 1..].iter().product();
        (i / per_axis) % full[axis]
    };
    let mut out = vec![f32::NAN; shape.c];
    for (i, &src) in index.iter().enumerate() {
        let slot = &mut out[channel_of(i)];
        if slot.is_nan() {
            *slot = values[src];
        } else if *slot != values[src] {
            return Err(ctx.fail(format!(
                "constant of shape {:?} varies over H or W; only per-channel constants are supported",
                c.dims
            )));
        }
    }
    Ok(out)
}

/// A vector's constant in IR element order.
fn flat_values(x: &Act, shape: Shape, values: &[f32], index: &[usize]) -> Result<Vec<f32>> {
    let onnx_order: Vec<f32> = index.iter().map(|&i| values[i]).collect();
    match &x.layout {
        Layout::Flat { from: Some(s), .. } if !same_order(&x.layout, shape) => {
            Ok(nchw_flat_to_ir(&onnx_order, *s))
        }
        _ => Ok(onnx_order),
    }
}

/// Reorders values indexed like an NCHW map of IR shape `s` flattened (`c·H·W + h·W + w`)
/// into the IR's `(h·W + w)·C + c` order.
pub(super) fn nchw_flat_to_ir(values: &[f32], s: Shape) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for c in 0..s.c {
        for p in 0..s.h * s.w {
            out[p * s.c + c] = values[c * s.h * s.w + p];
        }
    }
    out
}

fn two_activations(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let a = im.act(ctx, 0)?;
    let b = im.act(ctx, 1)?;
    let (da, db) = (im.dims(&a), im.dims(&b));
    let (sa, sb) = (im.shape(&a), im.shape(&b));
    match ctx.node.op_type.as_str() {
        "Add" if da == db && sa == sb && a.layout == b.layout => {
            let id = im.emit(ctx, Op::Add, &[a.id, b.id])?;
            im.set_act(ctx, id, a.layout)
        }
        "Mul" => multiply(im, ctx, a, b),
        op => Err(ctx.fail(format!(
            "{op} of two activations of shapes [N, {da:?}] and [N, {db:?}] is not supported"
        ))),
    }
}

/// `x · s`: a channel scale when `s` is 1×1×C, HardSwish when `s` is a hard sigmoid of `x`.
fn multiply(im: &mut Importer, ctx: &NodeCtx, a: Act, b: Act) -> Result<()> {
    for (x, s) in [(&a, &b), (&b, &a)] {
        let Some(factor) = hard_sigmoid_gate(im, s.id, x.id) else {
            continue;
        };
        let op = Op::Activation(Activation::HardSwish);
        let id = if factor == 1.0 {
            im.emit(ctx, op, &[x.id])?
        } else {
            let name = format!("{}/hard_swish", ctx.output_name()?);
            let hswish = im.graph.add(name, op, &[x.id]).map_err(|e| ctx.fail(e))?;
            let c = im.shape(x).c;
            let scale = BatchNorm::affine(vec![factor; c], vec![0.0; c]);
            im.emit(ctx, Op::BatchNorm(scale), &[hswish])?
        };
        return im.set_act(ctx, id, x.layout.clone());
    }
    for (x, s) in [(&a, &b), (&b, &a)] {
        let (xs, ss) = (im.shape(x), im.shape(s));
        let scale_dims = im.dims(s);
        // The scale broadcasts over H and W in the activation's own layout (or both are
        // vectors of the same length).
        let broadcastable = match x.layout {
            Layout::Nchw => scale_dims == [xs.c, 1, 1],
            Layout::Nhwc => scale_dims == [1, 1, xs.c],
            Layout::Flat { .. } => scale_dims == im.dims(x),
        };
        if broadcastable && ss == Shape::new(1, 1, xs.c) && s.layout == x.layout {
            let id = im.emit(ctx, Op::MulChannel, &[x.id, s.id])?;
            return im.set_act(ctx, id, x.layout.clone());
        }
    }
    Err(ctx.fail(format!(
        "Mul of activations [N, {:?}] and [N, {:?}] is supported only as a channel scale or x * HardSigmoid(x)",
        im.dims(&a),
        im.dims(&b)
    )))
}

/// `Some(k)` when IR tensor `s` is `k · hard_sigmoid(x)`, so that `x · s` is `k ·
/// hard_swish(x)`: an ONNX HardSigmoid with MobileNetV3's constants (k = 1), Keras'
/// `relu6(x + 3) · (1/6)` (k = 1), or TensorFlow's `relu6(x + 3)` before its `/ 6` (k = 6).
/// In QDQ graphs every step is followed by its quantization range's clamp: looked through.
/// QOperator graphs quantize `x` and the gate's input apart, so the gate may read `x`
/// before its range clamp: the same wherever that clamp does not bind (within the range
/// calibration chose), and taken as the same. Other clamps (a user's Clip) are not.
fn hard_sigmoid_gate(im: &Importer, s: TensorId, x: TensorId) -> Option<f32> {
    let graph = &im.graph;
    let through = |id: TensorId| through_range_clamps(im, id);
    let (s, x) = (through(s), through(x));
    let node = graph.node(s);
    let reads_x = |inputs: &[TensorId]| matches!(inputs, [i] if through(*i) == x);
    let relu6_of_x_plus_3 = |id: TensorId| {
        let relu = graph.node(through(id));
        let shift = graph.node(through(*relu.inputs.first()?));
        let is_relu6 = matches!(relu.op, Op::Activation(Activation::Relu6));
        (is_relu6 && reads_x(&shift.inputs) && uniform_affine(&shift.op) == Some((1.0, 3.0)))
            .then_some(())
    };
    match node.op {
        Op::Activation(a) if a == Activation::HARD_SIGMOID && reads_x(&node.inputs) => Some(1.0),
        Op::Activation(Activation::Relu6) => relu6_of_x_plus_3(s).map(|()| 6.0),
        Op::BatchNorm(_) => {
            let (scale, shift) = uniform_affine(&node.op)?;
            let sixth = (scale - 1.0 / 6.0).abs() < 1e-6 && shift == 0.0;
            (sixth && relu6_of_x_plus_3(node.inputs[0]).is_some()).then_some(1.0)
        }
        _ => None,
    }
}

/// The tensor a chain of range clamps (what QuantizeLinear nodes became) starts from.
fn through_range_clamps(im: &Importer, mut id: TensorId) -> TensorId {
    while im.range_clamps.contains(&id) {
        match im.graph.node(id).inputs[..] {
            [input] => id = input,
            _ => break,
        }
    }
    id
}

/// The `(scale, shift)` of a BatchNorm that is the same affine map on every channel.
fn uniform_affine(op: &Op) -> Option<(f32, f32)> {
    let Op::BatchNorm(bn) = op else { return None };
    let (scale, shift) = bn.scale_shift();
    let (s0, t0) = (*scale.first()?, *shift.first()?);
    (scale.iter().all(|&v| v == s0) && shift.iter().all(|&v| v == t0)).then_some((s0, t0))
}
