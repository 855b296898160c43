//! Tensor metadata, constant buffers and quantization, decoded from the flatbuffer into plain
//! values. Every index and length read from the file is checked here, so the graph walk can
//! trust what it gets. Errors are plain strings; the caller adds the file path.

use super::schema::{self, TensorType};
use crate::graph::{Shape, TensorQuant};

/// `real = scale[ch] * (q - zero_point[ch])`, with `ch` the index along `dim` when per-channel.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Quant {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    pub dim: usize,
}

/// A tensor's description plus its constant data, if it has any.
pub(super) struct TensorInfo<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: TensorType,
    pub quant: Option<Quant>,
    pub data: Option<&'a [u8]>,
}

/// Real values between which a tensor's contents are known to lie.
pub(super) type Range = (f32, f32);

/// Decodes every tensor of `subgraph`, resolving its buffer against `model.buffers`.
pub(super) fn decode_tensors<'a>(
    model: &schema::Model<'a>,
    subgraph: &schema::SubGraph,
) -> Result<Vec<TensorInfo<'a>>, String> {
    if subgraph.tensors.is_empty() {
        return Err("the subgraph has no tensors".into());
    }
    subgraph
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| decode_tensor(i, t, &model.buffers))
        .collect()
}

fn decode_tensor<'a>(
    index: usize,
    t: &schema::Tensor,
    buffers: &[&'a [u8]],
) -> Result<TensorInfo<'a>, String> {
    let name = t.name.clone().unwrap_or_else(|| format!("#{index}"));
    let shape = t
        .shape
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| format!("tensor `{name}` has a negative dimension {d}"))
        })
        .collect::<Result<_, _>>()?;
    if t.sparse {
        return Err(format!(
            "tensor `{name}` is sparse; sparse tensors are not supported"
        ));
    }
    let buffer = buffers.get(t.buffer as usize).ok_or_else(|| {
        format!(
            "tensor `{name}` refers to buffer #{} of {}",
            t.buffer,
            buffers.len()
        )
    })?;
    let data = Some(*buffer).filter(|d| !d.is_empty());
    let quant = t
        .quantization
        .as_ref()
        .map(|q| decode_quant(&name, q))
        .transpose()?
        .flatten();
    Ok(TensorInfo {
        name,
        shape,
        dtype: t.dtype,
        quant,
        data,
    })
}

/// `None` when the tensor carries no scale (float tensors, or min/max statistics only).
fn decode_quant(name: &str, q: &schema::QuantizationParameters) -> Result<Option<Quant>, String> {
    let scale = q.scale.clone();
    if scale.is_empty() {
        return Ok(None);
    }
    if q.custom {
        return Err(format!(
            "tensor `{name}` uses custom quantization details, which are not supported"
        ));
    }
    if let Some(bad) = scale.iter().find(|s| !s.is_finite() || **s <= 0.0) {
        return Err(format!(
            "tensor `{name}` has an invalid quantization scale {bad}"
        ));
    }
    let mut zero_point = q.zero_point.clone();
    if zero_point.is_empty() {
        zero_point = vec![0; scale.len()];
    }
    if zero_point.len() != scale.len() {
        return Err(format!(
            "tensor `{name}` has {} scales but {} zero points",
            scale.len(),
            zero_point.len()
        ));
    }
    let dim = usize::try_from(q.quantized_dimension)
        .map_err(|_| format!("tensor `{name}` has a negative quantized dimension"))?;
    Ok(Some(Quant {
        scale,
        zero_point,
        dim,
    }))
}

/// Number of elements of a shape (1 for a scalar).
pub(super) fn element_count(shape: &[usize]) -> Result<usize, String> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| "tensor too large".to_string())
}

/// The real values of a constant tensor: float32/float16 as is, integers dequantized.
pub(super) fn dequantize(info: &TensorInfo) -> Result<Vec<f32>, String> {
    let name = &info.name;
    let data = info
        .data
        .ok_or_else(|| format!("tensor `{name}` should be a constant but has no data"))?;
    let count = element_count(&info.shape)?;
    let (width, raw): (usize, fn(&[u8]) -> f32) = match info.dtype {
        TensorType::FLOAT32 => (4, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        TensorType::FLOAT16 => (2, |b| half_to_f32(u16::from_le_bytes([b[0], b[1]]))),
        TensorType::UINT8 => (1, |b| f32::from(b[0])),
        TensorType::INT8 => (1, |b| f32::from(b[0] as i8)),
        TensorType::INT32 => (4, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32),
        other => {
            return Err(format!(
                "constant `{name}` has unsupported type {}",
                type_name(other)
            ))
        }
    };
    let needed = count.checked_mul(width).ok_or("tensor too large")?;
    if data.len() < needed {
        return Err(format!(
            "buffer of `{name}` has {} bytes, expected {needed}",
            data.len()
        ));
    }
    let values = data.chunks_exact(width).take(count).map(raw);
    let is_float = matches!(info.dtype, TensorType::FLOAT32 | TensorType::FLOAT16);
    match (&info.quant, is_float) {
        (_, true) => Ok(values.collect()),
        (None, false) => Err(format!(
            "integer constant `{name}` has no quantization scale"
        )),
        (Some(q), false) => {
            let channel_of = channel_indexer(name, q, &info.shape)?;
            Ok(values
                .enumerate()
                .map(|(i, v)| {
                    let ch = channel_of(i);
                    q.scale[ch] * (v - q.zero_point[ch] as f32)
                })
                .collect())
        }
    }
}

/// Maps a flat element index to its quantization channel (always 0 when per-tensor).
fn channel_indexer(
    name: &str,
    q: &Quant,
    shape: &[usize],
) -> Result<impl Fn(usize) -> usize, String> {
    let channels = q.scale.len();
    if channels == 1 {
        return Ok(Box::new(|_: usize| 0usize) as Box<dyn Fn(usize) -> usize>);
    }
    if shape.get(q.dim) != Some(&channels) {
        return Err(format!(
            "tensor `{name}` has {channels} per-channel scales along dimension {} of shape {shape:?}",
            q.dim
        ));
    }
    let inner = element_count(&shape[q.dim + 1..])?;
    Ok(Box::new(move |i| (i / inner) % channels))
}

/// Integer values of a constant index tensor (axes, paddings, shapes), not dequantized.
pub(super) fn int_values(info: &TensorInfo) -> Result<Vec<i64>, String> {
    let name = &info.name;
    let data = info
        .data
        .ok_or_else(|| format!("tensor `{name}` should be a constant but has no data"))?;
    let count = element_count(&info.shape)?;
    let values: Vec<i64> = match info.dtype {
        TensorType::INT32 => data
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]).into())
            .collect(),
        TensorType::INT64 => data
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect(),
        other => {
            return Err(format!(
                "index tensor `{name}` has type {}, expected INT32",
                type_name(other)
            ))
        }
    };
    if values.len() < count {
        return Err(format!(
            "buffer of `{name}` holds {} values, expected {count}",
            values.len()
        ));
    }
    Ok(values[..count].to_vec())
}

/// The real range an activation tensor can represent, `None` for float tensors.
pub(super) fn range(info: &TensorInfo) -> Result<Option<Range>, String> {
    let name = &info.name;
    let (qmin, qmax) = match info.dtype {
        TensorType::FLOAT32 => return Ok(None),
        TensorType::UINT8 => (0.0, 255.0),
        TensorType::INT8 => (-128.0, 127.0),
        other => {
            return Err(format!(
                "activation tensor `{name}` has type {}; only float32, uint8 and int8 activations are supported",
                type_name(other)
            ))
        }
    };
    let q = per_tensor(info)?;
    let (scale, zp) = (q.scale[0], q.zero_point[0] as f32);
    Ok(Some((scale * (qmin - zp), scale * (qmax - zp))))
}

/// The integer grid of an activation tensor, `None` for float tensors.
pub(super) fn grid(info: &TensorInfo) -> Result<Option<TensorQuant>, String> {
    let Some(dtype) = super::integer::int_type(info.dtype) else {
        return range(info).map(|_| None);
    };
    let q = per_tensor(info)?;
    let zero_point = i32::try_from(q.zero_point[0])
        .ok()
        .filter(|&zp| dtype.saturate(zp) == zp)
        .ok_or_else(|| format!("tensor `{}` has zero point {}", info.name, q.zero_point[0]))?;
    Ok(Some(TensorQuant {
        dtype,
        scale: q.scale[0],
        zero_point,
    }))
}

/// The quantization of an activation tensor, which must be per tensor.
fn per_tensor<'i>(info: &'i TensorInfo) -> Result<&'i Quant, String> {
    let name = &info.name;
    let q = info
        .quant
        .as_ref()
        .ok_or_else(|| format!("integer tensor `{name}` has no quantization scale"))?;
    if q.scale.len() != 1 {
        return Err(format!(
            "activation tensor `{name}` is quantized per channel, which is not supported"
        ));
    }
    Ok(q)
}

/// The per-image NHWC shape of an activation tensor: `[1,h,w,c]` or `[1,c]`.
pub(super) fn activation_shape(info: &TensorInfo) -> Result<Shape, String> {
    match info.shape[..] {
        [1, h, w, c] => Ok(Shape::new(h, w, c)),
        [1, c] => Ok(Shape::new(1, 1, c)),
        _ => Err(format!(
            "tensor `{}` has shape {:?}; expected [1, H, W, C] or [1, C] (batch 1)",
            info.name, info.shape
        )),
    }
}

/// The schema's name for a tensor type, for messages.
pub(super) fn type_name(t: TensorType) -> String {
    t.name()
        .map_or_else(|| format!("type #{}", t.0), str::to_string)
}

/// IEEE 754 half precision to single precision (subnormals, infinities and NaN included).
fn half_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f32::from(bits & 0x3ff);
    match exponent {
        0 => sign * mantissa * 2f32.powi(-24),
        31 if mantissa == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + mantissa / 1024.0) * 2f32.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_decodes_normals_subnormals_and_specials() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x3555), 0.333_251_95);
        assert_eq!(half_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(half_to_f32(0x7c00), f32::INFINITY);
        assert!(half_to_f32(0x7e00).is_nan());
    }

    fn info(
        shape: Vec<usize>,
        dtype: TensorType,
        quant: Option<Quant>,
        data: &[u8],
    ) -> TensorInfo<'_> {
        TensorInfo {
            name: "t".into(),
            shape,
            dtype,
            quant,
            data: Some(data),
        }
    }

    #[test]
    fn per_channel_int8_dequantizes_along_the_quantized_dimension() {
        let q = Quant {
            scale: vec![0.5, 2.0],
            zero_point: vec![0, 0],
            dim: 0,
        };
        let bytes = [2u8, 4, 0xff, 3];
        let t = info(vec![2, 2], TensorType::INT8, Some(q), &bytes);
        assert_eq!(dequantize(&t).unwrap(), vec![1.0, 2.0, -2.0, 6.0]);
    }

    #[test]
    fn uint8_range_follows_the_zero_point() {
        let q = Quant {
            scale: vec![0.5],
            zero_point: vec![10],
            dim: 0,
        };
        let t = info(vec![1, 4], TensorType::UINT8, Some(q), &[]);
        assert_eq!(range(&t).unwrap(), Some((-5.0, 122.5)));
    }

    #[test]
    fn short_buffers_and_bad_per_channel_scales_are_errors() {
        let t = info(vec![2, 2], TensorType::FLOAT32, None, &[0; 12]);
        assert!(dequantize(&t).unwrap_err().contains("expected 16"));
        let q = Quant {
            scale: vec![1.0; 3],
            zero_point: vec![0; 3],
            dim: 0,
        };
        let t = info(vec![2, 2], TensorType::INT8, Some(q), &[0; 4]);
        assert!(dequantize(&t).unwrap_err().contains("per-channel"));
    }
}
