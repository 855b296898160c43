//! QuantizeLinear and DequantizeLinear. On constants (weights, biases) DequantizeLinear is
//! computed at load, per tensor or per channel. On activations the graph stays in float:
//! QuantizeLinear clamps to the representable range `[scale·(qmin − zp), scale·(qmax − zp)]`
//! and marks the value quantized; the DequantizeLinear reading it with the same parameters
//! is then free (with other parameters, an affine map).

use super::super::attrs::Attrs;
use super::super::proto::tensor_proto::DataType;
use super::super::tensor::{Data, Int, Tensor};
use super::super::value::{Act, Value};
use super::super::{Importer, NodeCtx};
use super::math::clamp;
use super::normalize_axis;
use crate::error::Result;
use crate::graph::{Activation, BatchNorm, Op};
use crate::model::{DType, Quantization};

/// Scale and zero point (inputs 1 and 2) as per-channel vectors of equal length.
fn parameters(im: &mut Importer, ctx: &NodeCtx) -> Result<(Vec<f32>, Vec<i64>, Option<DataType>)> {
    let scale = im.constant(ctx, 1)?.to_f32().map_err(|e| ctx.fail(e))?;
    let zp = im.optional_constant(ctx, 2)?;
    let elem = zp.as_ref().map(|z| z.elem);
    let zp = match zp {
        Some(z) => z
            .to_i64()
            .map_err(|e| ctx.fail(format!("zero point: {e}")))?,
        None => vec![0; scale.len()],
    };
    if zp.len() != scale.len()
        || scale.is_empty()
        || scale.iter().any(|s| !(s.is_finite() && *s > 0.0))
    {
        return Err(ctx.fail(format!(
            "needs positive finite scales and as many zero points ({} scales, {} zero points)",
            scale.len(),
            zp.len()
        )));
    }
    if Attrs::of(ctx.node)
        .int_or("block_size", 0)
        .map_err(|e| ctx.fail(e))?
        != 0
    {
        return Err(ctx.fail("blocked quantization (`block_size`) is not supported"));
    }
    Ok((scale, zp, elem))
}

/// Per-tensor parameters, as activations need.
fn per_tensor(ctx: &NodeCtx, scale: &[f32], zp: &[i64]) -> Result<Quantization> {
    match (scale, zp) {
        ([scale], [zp]) => Ok(Quantization {
            scale: *scale,
            zero_point: i32::try_from(*zp).map_err(|_| ctx.fail(format!("zero point {zp}")))?,
        }),
        _ => Err(ctx.fail("per-channel quantization of an activation is not supported")),
    }
}

pub(super) fn dequantize(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let (scale, zp, _) = parameters(im, ctx)?;
    match im.input(ctx, 0)? {
        Value::Const(t) => {
            let values = dequantize_const(ctx, &t, &scale, &zp)?;
            im.set_output(ctx, Value::Const(Tensor::floats(values, t.dims)))
        }
        Value::Act(x) => {
            let q = per_tensor(ctx, &scale, &zp)?;
            if x.pad != Default::default() && x.quant.is_some_and(|(held, _)| held != q) {
                return Err(ctx.fail("requantizes the output of a Pad"));
            }
            let Some((held, _)) = x.quant else {
                return Err(ctx.fail("dequantizes a float activation"));
            };
            if held == q {
                return im.set_output(ctx, Value::Act(Act { quant: None, ..x }));
            }
            // real' = s'·(x/s + z − z') for the integers x/s + z the tensor holds.
            let ratio = q.scale / held.scale;
            let shift = q.scale * (held.zero_point - q.zero_point) as f32;
            let c = im.shape(&x).c;
            let op = Op::BatchNorm(BatchNorm::affine(vec![ratio; c], vec![shift; c]));
            let id = im.emit(ctx, op, &[x.id])?;
            im.set_act(ctx, id, x.layout)
        }
    }
}

/// `scale[ch] · (q − zp[ch])` with `ch` the index along the `axis` attribute.
fn dequantize_const(ctx: &NodeCtx, t: &Tensor, scale: &[f32], zp: &[i64]) -> Result<Vec<f32>> {
    let ints = match &t.data {
        Data::Int(v) => v,
        Data::Float(_) => return Err(ctx.fail("dequantizes a float constant")),
    };
    let (channels, inner) = channel_layout(ctx, t, scale.len())?;
    ints.iter()
        .enumerate()
        .map(|(i, v)| match v {
            Int::Known(q) => {
                let ch = (i / inner) % channels;
                Ok(scale[ch] * (q - zp[ch]) as f32)
            }
            Int::Batch => Err(ctx.fail("dequantizes the batch size")),
        })
        .collect()
}

/// How a per-channel parameter vector of `count` values lines up with constant `t`: the
/// number of channels and the elements per channel step (`axis` attribute, default 1).
fn channel_layout(ctx: &NodeCtx, t: &Tensor, count: usize) -> Result<(usize, usize)> {
    if count == 1 {
        return Ok((1, 1));
    }
    let axis = Attrs::of(ctx.node)
        .int_or("axis", 1)
        .map_err(|e| ctx.fail(e))?;
    let axis = normalize_axis(axis, t.dims.len())
        .filter(|&a| t.dims[a] == count)
        .ok_or_else(|| {
            ctx.fail(format!(
                "{count} scales do not match axis {axis} of shape {:?}",
                t.dims
            ))
        })?;
    Ok((count, t.dims[axis + 1..].iter().product::<usize>()))
}

/// QuantizeLinear of a constant (float weights before their DequantizeLinear, as
/// fake-quantized exports write them): the integers, computed at load.
fn quantize_const(
    ctx: &NodeCtx,
    t: &Tensor,
    scale: &[f32],
    zp: &[i64],
    dtype: DType,
    elem: DataType,
) -> Result<Tensor> {
    let (channels, inner) = channel_layout(ctx, t, scale.len())?;
    let values = t.to_f32().map_err(|e| ctx.fail(e))?;
    let ints = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / inner) % channels;
            let q = Quantization {
                scale: scale[ch],
                zero_point: zp[ch] as i32,
            };
            Int::Known(i64::from(q.quantize(v, dtype)))
        })
        .collect();
    Ok(Tensor {
        dims: t.dims.clone(),
        elem,
        data: Data::Int(ints),
    })
}

pub(super) fn quantize(im: &mut Importer, ctx: &NodeCtx) -> Result<()> {
    let (scale, zp, zp_elem) = parameters(im, ctx)?;
    let declared = Attrs::of(ctx.node)
        .int("output_dtype")
        .map_err(|e| ctx.fail(e))?;
    let elem = match (declared, zp_elem) {
        (Some(d), _) if d != 0 => DataType::try_from(d as i32).ok(),
        (_, Some(e)) => Some(e),
        _ => Some(DataType::Uint8),
    };
    let dtype = match elem {
        Some(DataType::Uint8) => DType::U8,
        Some(DataType::Int8) => DType::I8,
        other => {
            return Err(ctx.fail(format!(
                "quantizing to {} is not supported (uint8 or int8)",
                other.map_or("an unknown type", |e| e.as_str_name())
            )))
        }
    };
    if let Value::Const(t) = im.input(ctx, 0)? {
        let elem = elem.unwrap_or(DataType::Uint8);
        let folded = quantize_const(ctx, &t, &scale, &zp, dtype, elem)?;
        return im.set_output(ctx, Value::Const(folded));
    }
    let q = per_tensor(ctx, &scale, &zp)?;
    let x = im.padded_act(ctx, 0)?;
    if x.quant.is_some() {
        return Err(ctx.fail("quantizes an already quantized tensor"));
    }
    let (qmin, qmax) = Quantization::grid(dtype).unwrap_or((0, 255));
    let bounds = (q.dequantize(qmin), q.dequantize(qmax));
    // A Pad's zeros pass through the clamp unchanged when 0 is representable.
    if x.pad != Default::default() && !(bounds.0 <= 0.0 && 0.0 <= bounds.1) {
        return Err(ctx.fail("quantizes padding zeros to a range without 0"));
    }
    let id = if within(known_range(im, &x), bounds) {
        x.id
    } else {
        let act = clamp(bounds.0, bounds.1);
        let id = im.emit(ctx, Op::Activation(act), &[x.id])?;
        im.range_clamps.insert(id);
        id
    };
    let out = Act {
        id,
        quant: Some((q, dtype)),
        ..x
    };
    im.set_output(ctx, Value::Act(out))
}

/// Bounds `x`'s values are known to respect: those of the clamp that produced it, or of
/// an integer graph input's grid.
fn known_range(im: &Importer, x: &Act) -> Option<(f32, f32)> {
    if x.id == im.graph.input() {
        let spec = &im.input_spec;
        let q = spec.quantization?;
        let (lo, hi) = Quantization::grid(spec.dtype)?;
        return Some((q.dequantize(lo), q.dequantize(hi)));
    }
    match im.graph.node(x.id).op {
        Op::Activation(Activation::Clamp { min, max }) => Some((min, max)),
        Op::Activation(Activation::Relu6) => Some((0.0, 6.0)),
        _ => None,
    }
}

/// True when values in `known` already satisfy `bounds` (up to f32 rounding).
fn within(known: Option<(f32, f32)>, bounds: (f32, f32)) -> bool {
    let tolerance = |v: f32| 1e-6 * v.abs().max(1.0);
    known.is_some_and(|(lo, hi)| {
        lo >= bounds.0 - tolerance(bounds.0) && hi <= bounds.1 + tolerance(bounds.1)
    })
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn a_clamp_is_skipped_only_inside_the_known_range() {
        assert!(within(Some((0.0, 6.0)), (0.0, 6.000001)));
        assert!(!within(Some((0.0, 6.0)), (0.0, 5.9)));
        assert!(!within(None, (0.0, 6.0)));
    }
}
