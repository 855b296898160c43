//! Integer FULLY_CONNECTED (`shaders/int/dense.wgsl`): weights packed four to a word, then
//! five words per output feature (bias, weight zero point, the f64 requantization scale as
//! a 53-bit significand in two words and a power-of-two exponent).

use bytemuck::{Pod, Zeroable};

use super::super::{to_u32, Launch, StepIo, Weights};
use super::conv::pack_bytes;
use super::signed;
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::IntWeights;
use crate::plan::IntKernel;
use crate::quant::params::DenseRequant;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "int_dense",
    source: include_str!("../../../../shaders/int/dense.wgsl"),
    entry_points: &["dense"],
};

/// WGSL `Params` of shaders/int/dense.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct DenseParams {
    rows: u32,
    depth: u32,
    features: u32,
    total: u32,
    channels: u32,
    input_zp: i32,
    output_zp: i32,
    clamp_lo: i32,
    clamp_hi: i32,
    signed: u32,
    pad: [u32; 2],
}

#[cfg(test)]
super::super::layout::layout!(DenseParams {
    rows,
    depth,
    features,
    total,
    channels,
    input_zp,
    output_zp,
    clamp_lo,
    clamp_hi,
    signed,
    pad
});

pub(crate) fn launch(
    io: &StepIo,
    kernel: &IntKernel,
    weights: &IntWeights,
    requant: &DenseRequant,
) -> Result<Launch> {
    if kernel.inputs[0] != kernel.output || weights.dtype != kernel.output {
        return Err(io.invalid("input, weights and output must share one integer type"));
    }
    let features = io.output.c;
    let depth = weights.values.len() / features.max(1);
    let mut words = pack_bytes(&weights.values);
    let channels = words.len();
    for o in 0..features {
        let (significand, exponent) = f64_parts(requant.scales[o])
            .ok_or_else(|| io.invalid("its requantization scale overflows f64"))?;
        let bias = weights.bias(o);
        words.extend([
            bias as u32,
            requant.weight_zero_points[o] as u32,
            significand as u32,
            (significand >> 32) as u32,
            exponent as u32,
        ]);
    }
    let params = DenseParams {
        rows: to_u32(io.output_len() / features.max(1), "rows")?,
        depth: to_u32(depth, "input features")?,
        features: to_u32(features, "output features")?,
        total: to_u32(io.output_len(), "output size")?,
        channels: to_u32(channels, "weights")?,
        input_zp: requant.input_zero_point,
        output_zp: requant.output.zero_point,
        clamp_lo: kernel.clamp.0,
        clamp_hi: kernel.clamp.1,
        signed: signed(kernel.output),
        pad: [0; 2],
    };
    Ok(Launch {
        shader: &SHADER,
        entry: "dense",
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Words(words),
        bias: None,
        grid: Grid::Threads(io.output_len().div_ceil(4) as u64),
    })
}

/// `x = significand · 2^exponent` exactly, the significand below 2^53; `None` unless finite.
pub(super) fn f64_parts(x: f64) -> Option<(u64, i32)> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    Some(match biased {
        0 => (fraction, -1074),
        _ => (fraction | (1 << 52), biased - 1075),
    })
}

#[cfg(test)]
mod tests {
    use super::f64_parts;

    #[test]
    fn f64_splits_into_significand_and_exponent() {
        for x in [1.0, 0.1, 3.5e-3, 1e-310, 12345.678] {
            let (m, e) = f64_parts(x).unwrap();
            assert!(m < 1 << 53);
            assert_eq!(m as f64 * 2f64.powi(e), x, "{x}");
        }
        assert_eq!(f64_parts(f64::INFINITY), None);
    }
}
