//! Integer depthwise convolution for CPU adapters (`shaders/int/depthwise.wgsl` after
//! `conv_store.wgsl`): conv.rs's tap-major words and channel records, a row of output
//! pixels per thread as in the float `depthwise_rows`.

use super::super::depthwise::{row_tile, MAX_ROW_KERNEL};
use super::super::{to_u32, Launch, StepIo, Weights};
use super::EXACT_F32_PRODUCTS;
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::quant::lower::ConvGeometry;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "int_depthwise",
    source: concat!(
        include_str!("../../../../shaders/int/conv_store.wgsl"),
        include_str!("../../../../shaders/int/depthwise.wgsl"),
    ),
    entry_points: &["depthwise_rows"],
};

/// Whether `depthwise_rows` takes a depthwise convolution with multiplier 1 over channel
/// quads: its kernel rows fit the thread's cache, and its taps one exact f32 sum.
pub(super) fn fits(conv: &ConvGeometry) -> bool {
    conv.kernel_w <= MAX_ROW_KERNEL && conv.kernel_h * conv.kernel_w <= EXACT_F32_PRODUCTS
}

/// The launch, with `words` (packed tap-major weights, then the channel records) and the
/// uniform's bytes as conv.rs made them.
pub(super) fn launch(
    io: &StepIo,
    conv: &ConvGeometry,
    words: Vec<u32>,
    params: Vec<u8>,
) -> Result<Launch> {
    let tile = row_tile(conv.stride);
    let threads = io.batch * io.output.h * io.output.w.div_ceil(tile) * io.output.c / 4;
    Ok(Launch {
        shader: &SHADER,
        entry: "depthwise_rows",
        constants: vec![
            ("KH", to_u32(conv.kernel_h, "kernel height")?),
            ("KW", to_u32(conv.kernel_w, "kernel width")?),
            ("STRIDE", to_u32(conv.stride, "stride")?),
            ("TX", to_u32(tile, "row tile")?),
        ],
        params,
        weights: Weights::Words(words),
        bias: None,
        grid: Grid::Threads(threads as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Padding;

    fn kernel(kernel_h: usize, kernel_w: usize) -> ConvGeometry {
        ConvGeometry {
            out_channels: 8,
            kernel_h,
            kernel_w,
            stride: 1,
            padding: Padding::default(),
            groups: 8,
        }
    }

    /// Rows of up to 7 taps, and at most 256 taps in all: one f32 sum stays exact.
    #[test]
    fn kernels_fit_while_their_taps_sum_exactly() {
        assert!(fits(&kernel(3, 3)));
        assert!(fits(&kernel(7, 7)));
        assert!(fits(&kernel(36, 7)));
        assert!(!fits(&kernel(37, 7)));
        assert!(!fits(&kernel(1, 8)));
    }
}
