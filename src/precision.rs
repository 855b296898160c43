//! Storage precision of activations and weights on the GPU. Float kernels compute in f32
//! (except the GPU family's f16 GEMM, which multiplies in f16); f16 halves the memory
//! traffic and the activation memory, at about three decimal digits per stored value. Int8 is another kind of plan: a quantized TFLite file run on its
//! own integer grid with TFLite's integer arithmetic (`quant`, `plan::int`).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use half::slice::HalfFloatSliceExt;

use crate::error::{Error, Result};

/// Values converted between f32 and f16 at a time (`encode_into`, `decode`).
const HALVES: usize = 512;

/// How activations and weights are stored in GPU buffers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// IEEE single precision (the reference).
    #[default]
    F32,
    /// IEEE half precision storage, f32 arithmetic except the GPU family's GEMM (f16
    /// products); needs `wgpu::Features::SHADER_F16`.
    F16,
    /// The model's own 8-bit integers, four to a word, and TFLite's integer arithmetic:
    /// byte-identical to TFLite's reference kernels (fully quantized TFLite files only).
    Int8,
}

impl Precision {
    /// Bytes per stored value.
    pub fn bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
            Precision::Int8 => 1,
        }
    }

    /// The storage of a float plan's values: int8 plans store theirs on each tensor's own
    /// grid (`gpu::Codec::Int`), and pack weights themselves, so they never encode floats.
    fn float(self) -> FloatStorage {
        match self {
            Precision::F16 => FloatStorage::F16,
            Precision::F32 | Precision::Int8 => FloatStorage::F32,
        }
    }

    /// WGSL put before every float kernel file: the storage types `Elem` and `Quad` and
    /// their conversions (`shaders/precision_*.wgsl`).
    pub(crate) fn wgsl_header(self) -> &'static str {
        match self.float() {
            FloatStorage::F32 => include_str!("../shaders/precision_f32.wgsl"),
            FloatStorage::F16 => include_str!("../shaders/precision_f16.wgsl"),
        }
    }

    /// Bytes `count` values take on the GPU, padded to whole 4-byte words (buffer writes
    /// and copies move whole words).
    pub(crate) fn encoded_len(self, count: usize) -> usize {
        match self.float() {
            FloatStorage::F32 => count * 4,
            FloatStorage::F16 => count.next_multiple_of(2) * 2,
        }
    }

    /// Writes `values` as stored on the GPU into `out` (`encoded_len` bytes, the padding
    /// zeroed): straight into a staging buffer, without an intermediate allocation.
    pub(crate) fn encode_into(self, values: &[f32], out: &mut [u8]) {
        match self.float() {
            FloatStorage::F32 => out.copy_from_slice(bytemuck::cast_slice(values)),
            FloatStorage::F16 => {
                // Whole slices convert with the CPU's vector instructions where it has
                // them (F16C, NEON): 5x faster than value by value, which a batch of 256
                // images at 224x224 (38.5 M values) feels. Through a small aligned buffer,
                // since `out` (a staging mapping) need not be 2-byte aligned.
                let mut halves = [half::f16::ZERO; HALVES];
                for (part, bytes) in values.chunks(HALVES).zip(out.chunks_mut(2 * HALVES)) {
                    let halves = &mut halves[..part.len()];
                    halves.convert_from_f32_slice(part);
                    bytes[..2 * part.len()].copy_from_slice(bytemuck::cast_slice(halves));
                }
                out[values.len() * 2..].fill(0);
            }
        }
    }

    /// `values` as stored on the GPU, padded with zeros to whole 4-byte words (buffer
    /// writes and copies move whole words). Borrowed, without a copy, at f32.
    pub(crate) fn encode(self, values: &[f32]) -> Cow<'_, [u8]> {
        match self.float() {
            FloatStorage::F32 => Cow::Borrowed(bytemuck::cast_slice(values)),
            FloatStorage::F16 => {
                let mut bytes = vec![0; self.encoded_len(values.len())];
                self.encode_into(values, &mut bytes);
                Cow::Owned(bytes)
            }
        }
    }

    /// The first `count` values of GPU storage `bytes`, as f32s.
    pub(crate) fn decode(self, bytes: &[u8], count: usize) -> Vec<f32> {
        match self.float() {
            FloatStorage::F32 => bytes
                .chunks_exact(4)
                .take(count)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            FloatStorage::F16 => {
                // As slices, with the CPU's vector conversion (see `encode_into`).
                let count = count.min(bytes.len() / 2);
                let mut values = vec![0.0; count];
                let mut halves = [half::f16::ZERO; HALVES];
                for (part, bytes) in values.chunks_mut(HALVES).zip(bytes.chunks(2 * HALVES)) {
                    let halves = &mut halves[..part.len()];
                    bytemuck::cast_slice_mut(halves).copy_from_slice(&bytes[..2 * part.len()]);
                    halves.convert_to_f32_slice(part);
                }
                values
            }
        }
    }
}

/// The float storage types.
#[derive(Clone, Copy)]
enum FloatStorage {
    F32,
    F16,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        })
    }
}

impl FromStr for Precision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" => Ok(Precision::F32),
            "f16" | "fp16" | "half" => Ok(Precision::F16),
            "int8" | "i8" | "uint8" | "u8" => Ok(Precision::Int8),
            _ => Err(Error::InvalidArgument(format!(
                "unknown precision `{s}` (expected f32, f16 or int8)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trips_to_three_digits_and_f32_exactly() {
        let values = [0.0, -1.5, 2.71, 65504.0, 1e-3];
        let n = values.len();
        assert_eq!(
            Precision::F32.decode(&Precision::F32.encode(&values), n),
            values
        );
        let stored = Precision::F16.encode(&values);
        assert_eq!(stored.len(), 12, "5 halves padded to 3 words");
        let halves = Precision::F16.decode(&stored, n);
        assert_eq!(halves.len(), n);
        for precision in [Precision::F32, Precision::F16] {
            let mut direct = vec![0xff; precision.encoded_len(n)];
            precision.encode_into(&values, &mut direct);
            assert_eq!(direct, precision.encode(&values).as_ref(), "{precision}");
        }
        for (h, v) in halves.iter().zip(values) {
            assert!((h - v).abs() <= v.abs() * 1e-3, "{v} -> {h}");
        }
    }

    #[test]
    fn f16_slices_convert_both_ways_as_value_by_value() {
        // More than one conversion block, an odd count, specials and subnormals, written at
        // an odd byte offset (a mapping need not be 2-byte aligned).
        let mut values: Vec<f32> = (0..2 * HALVES + 37)
            .map(|i| i as f32 * -0.37 + 3.1)
            .collect();
        values.extend([f32::NAN, f32::INFINITY, -0.0, 1e-7, 7e4, 6.1e-5]);
        let expected: Vec<u8> = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        let mut out = vec![0xaa; 1 + Precision::F16.encoded_len(values.len())];
        Precision::F16.encode_into(&values, &mut out[1..]);
        assert_eq!(&out[1..=expected.len()], expected.as_slice());
        assert!(
            out[1 + expected.len()..].iter().all(|&b| b == 0),
            "padding zeroed"
        );
        let decoded = Precision::F16.decode(&out[1..], values.len());
        let one_by_one = expected
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32());
        assert_eq!(decoded.len(), values.len());
        for (d, v) in decoded.iter().zip(one_by_one) {
            assert_eq!(d.to_bits(), v.to_bits());
        }
    }

    #[test]
    fn names_parse_and_print() {
        assert_eq!("F16".parse::<Precision>().unwrap(), Precision::F16);
        assert_eq!("f32".parse::<Precision>().unwrap().to_string(), "f32");
        assert!("f64".parse::<Precision>().is_err());
    }
}
