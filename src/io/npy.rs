//! `.npy` arrays in and out: the file format `run` reads its input from and writes its
//! output to. The header is untrusted: its shape is checked against the bytes that follow
//! before anything the size of the array is allocated.

use super::Values;
use crate::model::DType;
use crate::{Error, Result};
use npyz::WriterBuilder;
use std::path::Path;

/// Reads a C-ordered float32, uint8 or int8 array: its shape and its values.
pub fn read(path: &Path) -> Result<(Vec<usize>, Values)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(&bytes, &path.display().to_string())
}

/// [`read`] from memory; `name` names the array in errors.
pub fn parse(bytes: &[u8], name: &str) -> Result<(Vec<usize>, Values)> {
    let bad = |reason: String| Error::InvalidArgument(format!("{name}: {reason}"));
    check_nesting(bytes).map_err(bad)?;
    let npy = npyz::NpyFile::new(bytes).map_err(|e| bad(format!("not a .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(bad(
            "Fortran-ordered arrays are not supported; save it C-ordered".into(),
        ));
    }
    let dtype = match npy.dtype() {
        npyz::DType::Plain(t) => match t.to_string().as_str() {
            "<f4" => DType::F32,
            "|u1" => DType::U8,
            "|i1" => DType::I8,
            other => {
                return Err(bad(format!(
                    "array type `{other}` is not supported (float32, uint8 or int8)"
                )))
            }
        },
        other => return Err(bad(format!("unsupported array type {}", other.descr()))),
    };
    let element_bytes = if dtype == DType::F32 { 4 } else { 1 };
    let shape = checked_shape(npy.shape(), element_bytes, bytes.len()).map_err(bad)?;
    let read = |e: std::io::Error| bad(format!("cannot read the data: {e}"));
    let values = match dtype {
        DType::F32 => Values::F32(npy.into_vec::<f32>().map_err(read)?),
        DType::U8 => Values::U8(npy.into_vec::<u8>().map_err(read)?),
        DType::I8 => Values::I8(npy.into_vec::<i8>().map_err(read)?),
    };
    Ok((shape, values))
}

/// Refuses headers nested deeper than numpy writes them (`{'shape': (…)}`: two levels)
/// before npyz's parser sees them: it takes exponential time on deep nesting (a 200-byte
/// header of `{{{{…` took over ten seconds).
fn check_nesting(bytes: &[u8]) -> Result<(), String> {
    const MAX_DEPTH: usize = 2;
    let mut depth = 0usize;
    for &b in header(bytes) {
        match b {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err("not a .npy file: its header is nested deeper than numpy writes".into());
        }
    }
    Ok(())
}

/// The header dictionary as npyz reads it: the length the preamble declares (a 2-byte
/// length from version 1, 4 bytes from version 2), whatever line breaks it holds; empty
/// for versions npyz refuses anyway and for files too short to have a header.
fn header(bytes: &[u8]) -> &[u8] {
    let (start, len) = match (bytes.get(6), bytes.get(8..12)) {
        (Some(1), Some(b)) => (10, usize::from(u16::from_le_bytes([b[0], b[1]]))),
        (Some(2 | 3), Some(b)) => (12, u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
        _ => return &[],
    };
    let rest = bytes.get(start..).unwrap_or_default();
    &rest[..len.min(rest.len())]
}

/// The header's shape, if the file is long enough to hold that many elements.
fn checked_shape(
    dims: &[u64],
    element_bytes: u64,
    file_bytes: usize,
) -> Result<Vec<usize>, String> {
    let data_bytes = dims
        .iter()
        .try_fold(element_bytes, |acc, &d| acc.checked_mul(d));
    match data_bytes {
        Some(n) if n <= file_bytes as u64 => Ok(dims.iter().map(|&d| d as usize).collect()),
        _ => Err(format!(
            "its header's shape {dims:?} needs more data than the file's {file_bytes} bytes"
        )),
    }
}

/// Writes `values` as a C-ordered array of `shape`, whole or not at all (see
/// [`super::write_file`]).
pub fn write(path: &Path, shape: &[usize], values: &Values) -> Result<()> {
    let mut bytes = Vec::new();
    encode(&mut bytes, shape, values).map_err(|e| Error::io(path, e))?;
    super::write_file(path, &bytes)
}

/// [`write`](fn@write) into any writer.
fn encode(writer: impl std::io::Write, shape: &[usize], values: &Values) -> std::io::Result<()> {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    match values {
        Values::F32(v) => write_values(writer, &shape, v),
        Values::U8(v) => write_values(writer, &shape, v),
        Values::I8(v) => write_values(writer, &shape, v),
    }
}

fn write_values<T: npyz::Serialize + npyz::AutoSerialize + Copy>(
    writer: impl std::io::Write,
    shape: &[u64],
    values: &[T],
) -> std::io::Result<()> {
    let mut out = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(writer)
        .begin_nd()?;
    out.extend(values.iter().copied())?;
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy_bytes(shape: &[usize], values: &Values) -> Vec<u8> {
        let mut bytes = Vec::new();
        encode(&mut bytes, shape, values).unwrap();
        bytes
    }

    #[test]
    fn arrays_round_trip_in_every_type() {
        for values in [
            Values::F32(vec![1.5, -2.0, 0.25, 8.0, 0.0, 3.0]),
            Values::U8(vec![0, 1, 2, 253, 254, 255]),
            Values::I8(vec![-128, -1, 0, 1, 126, 127]),
        ] {
            let bytes = npy_bytes(&[2, 3], &values);
            assert_eq!(parse(&bytes, "a.npy").unwrap(), (vec![2, 3], values));
        }
    }

    /// A version 1.0 header for `dict`, padded as numpy pads it, followed by `data`.
    fn handmade(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = format!("{dict}\n");
        while (10 + header.len()) % 64 != 0 {
            header.insert(header.len() - 1, ' ');
        }
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    /// Also after a line break inside the header (a fuzzer's find: the check stopped there,
    /// and npyz's parser took over 12 s on the nesting after it).
    #[test]
    fn a_deeply_nested_header_is_refused_at_once() {
        for before in ["", "'x': '\r\n', "] {
            let dict = format!(
                "{{'descr': '|u1', {before}'fortran_order': {}False{}, 'shape': (2,), }}",
                "{".repeat(20),
                "}".repeat(20)
            );
            let start = std::time::Instant::now();
            let err = parse(&handmade(&dict, &[1, 2]), "deep.npy")
                .unwrap_err()
                .to_string();
            assert!(err.contains("nested deeper than numpy writes"), "{err}");
            assert!(start.elapsed() < std::time::Duration::from_millis(100));
        }
    }

    #[test]
    fn a_header_claiming_more_than_the_file_holds_is_refused_before_reading() {
        let dict =
            |shape: &str| format!("{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}");
        let fits = handmade(&dict("(2, 3)"), &[7; 6]);
        assert_eq!(parse(&fits, "a.npy").unwrap().0, vec![2, 3]);
        for shape in [
            "(100000, 100000, 3)",
            "(4294967296, 4294967296, 4294967296)",
        ] {
            let bomb = handmade(&dict(shape), &[7; 6]);
            let err = parse(&bomb, "bomb.npy").unwrap_err().to_string();
            assert!(
                err.starts_with("invalid argument: bomb.npy: its header's shape"),
                "{err}"
            );
        }
    }
}
