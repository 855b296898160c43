//! Constants known at load time: initializers, `Constant` nodes and everything folded from
//! them (weights after DequantizeLinear, the Shape → Gather → Concat chains of exporters).

use super::proto::{tensor_proto::DataLocation, tensor_proto::DataType, TensorProto};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

/// One integer element. Shapes read from an activation start with the batch size, which
/// is not known at load time; it stays symbolic through the ops that move it around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Int {
    Known(i64),
    Batch,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Data {
    Float(Vec<f32>),
    Int(Vec<Int>),
}

/// A constant tensor with its ONNX element type (which matters to QuantizeLinear and Cast).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Tensor {
    pub dims: Vec<usize>,
    pub elem: DataType,
    pub data: Data,
}

impl Tensor {
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Float(v) => v.len(),
            Data::Int(v) => v.len(),
        }
    }

    pub fn floats(values: Vec<f32>, dims: Vec<usize>) -> Tensor {
        Tensor {
            dims,
            elem: DataType::Float,
            data: Data::Float(values),
        }
    }

    pub fn ints(values: Vec<Int>, dims: Vec<usize>) -> Tensor {
        Tensor {
            dims,
            elem: DataType::Int64,
            data: Data::Int(values),
        }
    }

    /// The values as f32 (integers converted); the symbolic batch size is an error.
    pub fn to_f32(&self) -> Result<Vec<f32>, String> {
        match &self.data {
            Data::Float(v) => Ok(v.clone()),
            Data::Int(v) => v
                .iter()
                .map(|i| match i {
                    Int::Known(k) => Ok(*k as f32),
                    Int::Batch => Err("uses the batch size as a number".to_string()),
                })
                .collect(),
        }
    }

    /// The values as known integers (floats are an error).
    pub fn to_i64(&self) -> Result<Vec<i64>, String> {
        match &self.data {
            Data::Float(_) => Err("expected an integer tensor, got floats".into()),
            Data::Int(v) => v
                .iter()
                .map(|i| match i {
                    Int::Known(k) => Ok(*k),
                    Int::Batch => Err("uses the batch size as a number".to_string()),
                })
                .collect(),
        }
    }

    /// The single value of a one-element tensor.
    pub fn scalar_f32(&self) -> Result<f32, String> {
        match self.to_f32()?[..] {
            [v] => Ok(v),
            _ => Err(format!("expected one value, got shape {:?}", self.dims)),
        }
    }
}

/// Decodes a `TensorProto`; external data is read relative to `folder`.
pub(super) fn decode(t: &TensorProto, folder: Option<&Path>) -> Result<Tensor, String> {
    let name = &t.name;
    let dims = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("tensor `{name}` has dimension {d}")))
        .collect::<Result<Vec<usize>, String>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= 1 << 31)
        .ok_or_else(|| format!("tensor `{name}` has {dims:?} elements, too many"))?;
    let elem = DataType::try_from(t.data_type)
        .map_err(|_| format!("tensor `{name}` has unknown data type {}", t.data_type))?;
    let external;
    let raw: &[u8] = if t.data_location == DataLocation::External as i32 {
        external = read_external(t, folder)?;
        &external
    } else {
        &t.raw_data
    };
    let data = if raw.is_empty() && count > 0 {
        from_fields(t, elem)?
    } else {
        from_raw(raw, elem, name)?
    };
    let tensor = Tensor { dims, elem, data };
    if tensor.len() != count {
        return Err(format!(
            "tensor `{name}` has {} values for shape {:?}",
            tensor.len(),
            tensor.dims
        ));
    }
    Ok(tensor)
}

/// Little-endian `raw_data` of one of the supported element types.
fn from_raw(raw: &[u8], elem: DataType, name: &str) -> Result<Data, String> {
    let size = match elem {
        DataType::Float | DataType::Int32 => 4,
        DataType::Double | DataType::Int64 => 8,
        DataType::Float16 | DataType::Int16 | DataType::Uint16 => 2,
        DataType::Int8 | DataType::Uint8 | DataType::Bool => 1,
        other => return Err(unsupported(name, other)),
    };
    if !raw.len().is_multiple_of(size) {
        return Err(format!(
            "tensor `{name}` has {} bytes of {}",
            raw.len(),
            elem.as_str_name()
        ));
    }
    let words = raw.chunks_exact(size);
    let int = |v: i64| Int::Known(v);
    Ok(match elem {
        DataType::Float => Data::Float(
            words
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        DataType::Double => Data::Float(
            words
                .map(|b| f64::from_le_bytes(b.try_into().unwrap_or_default()) as f32)
                .collect(),
        ),
        DataType::Float16 => Data::Float(
            words
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        ),
        DataType::Int64 => Data::Int(
            words
                .map(|b| int(i64::from_le_bytes(b.try_into().unwrap_or_default())))
                .collect(),
        ),
        DataType::Int32 => Data::Int(
            words
                .map(|b| int(i32::from_le_bytes([b[0], b[1], b[2], b[3]]).into()))
                .collect(),
        ),
        DataType::Int16 => Data::Int(
            words
                .map(|b| int(i16::from_le_bytes([b[0], b[1]]).into()))
                .collect(),
        ),
        DataType::Uint16 => Data::Int(
            words
                .map(|b| int(u16::from_le_bytes([b[0], b[1]]).into()))
                .collect(),
        ),
        DataType::Int8 => Data::Int(words.map(|b| int((b[0] as i8).into())).collect()),
        _ => Data::Int(words.map(|b| int(b[0].into())).collect()),
    })
}

/// The typed repeated fields, used when `raw_data` is empty.
fn from_fields(t: &TensorProto, elem: DataType) -> Result<Data, String> {
    let ints = |v: &[i32]| Data::Int(v.iter().map(|&x| Int::Known(x.into())).collect());
    Ok(match elem {
        DataType::Float => Data::Float(t.float_data.clone()),
        DataType::Double => Data::Float(t.double_data.iter().map(|&x| x as f32).collect()),
        // float16 values are stored as their bit patterns in `int32_data`.
        DataType::Float16 => Data::Float(
            t.int32_data
                .iter()
                .map(|&bits| half::f16::from_bits(bits as u16).to_f32())
                .collect(),
        ),
        DataType::Int64 => Data::Int(t.int64_data.iter().map(|&x| Int::Known(x)).collect()),
        DataType::Int32
        | DataType::Int16
        | DataType::Uint16
        | DataType::Int8
        | DataType::Uint8
        | DataType::Bool => ints(&t.int32_data),
        other => return Err(unsupported(&t.name, other)),
    })
}

fn unsupported(name: &str, elem: DataType) -> String {
    format!(
        "tensor `{name}` has element type {}, which is not supported",
        elem.as_str_name()
    )
}

/// The bytes of an external-data tensor: `location` (relative to the model's folder, never
/// leaving it), `offset` and `length`.
fn read_external(t: &TensorProto, folder: Option<&Path>) -> Result<Vec<u8>, String> {
    let name = &t.name;
    let field = |key: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    };
    let location = field("location")
        .ok_or_else(|| format!("tensor `{name}` is stored externally but names no location"))?;
    let relative = Path::new(location);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "tensor `{name}`: external data location `{location}` must stay inside the model's folder"
        ));
    }
    let folder = folder.ok_or_else(|| {
        format!("tensor `{name}` is stored in the side file `{location}`; load the model from its file so the side file can be found")
    })?;
    let path = folder.join(relative);
    let unreadable = |e: std::io::Error| {
        format!(
            "tensor `{name}` is stored in the side file `{}`, which cannot be read: {e}",
            path.display()
        )
    };
    let parse = |key: &str| -> Result<Option<u64>, String> {
        field(key)
            .map(|v| {
                v.parse().map_err(|_| {
                    format!("tensor `{name}`: external data {key} `{v}` is not a number")
                })
            })
            .transpose()
    };
    let offset = parse("offset")?.unwrap_or(0);
    // Only the tensor's own range is read: a side file holds every weight of the model.
    let mut file = std::fs::File::open(&path).map_err(unreadable)?;
    let file_len = file.metadata().map_err(unreadable)?.len();
    let end = match parse("length")? {
        Some(length) => offset.checked_add(length),
        None => Some(file_len),
    };
    let Some(length) = end
        .filter(|&end| end <= file_len && offset <= end)
        .map(|end| end - offset)
    else {
        return Err(format!(
            "tensor `{name}`: external data range is past the end of `{}` ({file_len} bytes)",
            path.display()
        ));
    };
    let mut bytes = vec![0; length as usize];
    file.seek(SeekFrom::Start(offset)).map_err(unreadable)?;
    file.read_exact(&mut bytes).map_err(unreadable)?;
    Ok(bytes)
}
