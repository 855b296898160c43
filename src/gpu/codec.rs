//! How the host writes a tensor into GPU memory and reads it back: float plans store values
//! at their precision; int8 plans store each tensor's 8-bit integers four to a word, which
//! the host quantizes from and dequantizes to real values as TFLite's QUANTIZE and
//! DEQUANTIZE do (so a uint8 input read from a file comes back to its exact bytes).

use crate::graph::TensorQuant;
use crate::Precision;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Codec {
    Float(Precision),
    Int(TensorQuant),
}

impl Codec {
    /// Bytes `count` values take, padded to whole 4-byte words.
    pub fn encoded_len(self, count: usize) -> usize {
        match self {
            Codec::Float(precision) => precision.encoded_len(count),
            Codec::Int(_) => count.next_multiple_of(4),
        }
    }

    /// Writes `values` as stored into `out` (`encoded_len` bytes, the padding zeroed).
    pub fn encode_into(self, values: &[f32], out: &mut [u8]) {
        match self {
            Codec::Float(precision) => precision.encode_into(values, out),
            Codec::Int(grid) => {
                for (byte, &v) in out.iter_mut().zip(values) {
                    *byte = grid.quantize(v) as u8;
                }
                out[values.len()..].fill(0);
            }
        }
    }

    /// The first `count` stored values of `bytes`, as real values.
    pub fn decode(self, bytes: &[u8], count: usize) -> Vec<f32> {
        match self {
            Codec::Float(precision) => precision.decode(bytes, count),
            Codec::Int(grid) => bytes[..count]
                .iter()
                .map(|&b| grid.dequantize(grid.dtype.decode(b)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::IntType;

    #[test]
    fn integers_round_trip_through_real_values() {
        let grid = TensorQuant {
            dtype: IntType::I8,
            scale: 0.0235,
            zero_point: -3,
        };
        let codec = Codec::Int(grid);
        let reals: Vec<f32> = (-128..=127).map(|q| grid.dequantize(q)).collect();
        let mut bytes = vec![0xaa; codec.encoded_len(reals.len() + 1)];
        codec.encode_into(&reals, &mut bytes[..codec.encoded_len(reals.len())]);
        assert_eq!(codec.decode(&bytes, reals.len()), reals);
        // As on x86: NaN and out-of-range values convert to i32::MIN, which a negative zero
        // point wraps around to the top.
        assert_eq!(grid.quantize(f32::NAN), 127);
        assert_eq!(grid.quantize(1e12), 127);
        assert_eq!(grid.quantize(-1e12), 127);
        assert_eq!(grid.quantize(-1e3), -128);
    }
}
