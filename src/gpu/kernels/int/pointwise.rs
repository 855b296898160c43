//! Integer pointwise convolution for CPU adapters (`shaders/int/pointwise.wgsl` after
//! `conv_store.wgsl`): each output channel's weights padded with its zero point to whole
//! groups of 16 input channels and packed four to a word, then conv.rs's channel records.

use super::super::{to_u32, Launch, StepIo, Weights};
use super::conv::pack_bytes;
use super::conv_store::{channel_records, ConvParams};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::IntWeights;
use crate::quant::params::Requant;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "int_pointwise",
    source: concat!(
        include_str!("../../../../shaders/int/conv_store.wgsl"),
        include_str!("../../../../shaders/int/pointwise.wgsl"),
    ),
    entry_points: &["pointwise"],
};

/// Pixels per thread (`TILE_PIXELS` in the shader).
pub(crate) const TILE_PIXELS: usize = 8;
/// Input channels per weight vec4 (four words).
const GROUP: usize = 16;

/// The launch of a 1x1, stride-1, unpadded, ungrouped convolution with input and output
/// channels in whole quads and zero points within their type; `params` as conv.rs builds
/// them.
pub(super) fn launch(
    io: &StepIo,
    weights: &IntWeights,
    requant: &Requant,
    params: ConvParams,
) -> Result<Launch> {
    let (in_c, out_c) = (io.input.c, io.output.c);
    let mut words = pack_bytes(&padded(weights, &requant.weight_zero_points, in_c));
    let channels = to_u32(words.len(), "weights")?;
    // Buffers are padded to 16 bytes, so the records' last vec4 is whole.
    words.extend(channel_records(out_c, weights, requant));
    let pixels = io.batch * io.output.h * io.output.w;
    Ok(Launch {
        shader: &SHADER,
        entry: "pointwise",
        constants: vec![("ALIGNED", u32::from(in_c.is_multiple_of(GROUP)))],
        params: params.bytes(channels),
        weights: Weights::Words(words),
        bias: None,
        grid: Grid::Threads((pixels.div_ceil(TILE_PIXELS) * (out_c / 4)) as u64),
    })
}

/// Each output channel's `in_c` weights followed by its zero point up to a whole number of
/// groups: the padding's centred value is 0.
fn padded(weights: &IntWeights, zero_points: &[i32], in_c: usize) -> Vec<i32> {
    let width = in_c.next_multiple_of(GROUP);
    weights
        .values
        .chunks(in_c)
        .zip(zero_points)
        .flat_map(|(row, &zp)| {
            row.iter()
                .copied()
                .chain(std::iter::repeat_n(zp, width - in_c))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::IntType;

    #[test]
    fn rows_are_padded_with_their_channels_zero_point() {
        let weights = IntWeights {
            values: (1..=40).collect(),
            dtype: IntType::U8,
            scales: vec![0.1; 2],
            zero_points: vec![7, 9],
            bias: None,
        };
        let rows = padded(&weights, &[7, 9], 20);
        assert_eq!(rows.len(), 2 * 32);
        assert_eq!(&rows[..20], &weights.values[..20]);
        assert!(rows[20..32].iter().all(|&v| v == 7));
        assert_eq!(&rows[32..52], &weights.values[20..]);
        assert!(rows[52..].iter().all(|&v| v == 9));
    }
}
