//! 1×1 convolution as a GEMM over vec4s of channels: for CPU adapters register-tiled
//! (`shaders/pointwise.wgsl`), for GPUs workgroup-tiled (`shaders/pointwise_tiled.wgsl`). A 1×1 conv whose input or output channels are not multiples of 4
//! runs on the general conv kernel instead.

use bytemuck::{Pod, Zeroable};

use super::conv::check_conv;
use super::{
    bias_or_zeros, to_u32, transpose, EpilogueUniform, Launch, StepIo, Weights, WindowUniform,
};
use crate::error::Result;
use crate::gpu::pipeline::{Constants, Grid, ShaderFile};
use crate::graph::Conv2d;
use crate::plan::{gemm, KernelFamily};

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "pointwise",
    source: include_str!("../../../shaders/pointwise.wgsl"),
    entry_points: &["pointwise"],
};

pub(crate) const TILED_SHADER: ShaderFile = ShaderFile {
    name: "pointwise_tiled",
    source: include_str!("../../../shaders/pointwise_tiled.wgsl"),
    entry_points: &["pointwise_tiled", "pointwise_tiled_split"],
};

/// Pixels per thread (`PX` in the shader).
pub(super) const PIXELS_PER_THREAD: usize = 8;
/// Output channels per thread (two mat4x4 of weights in the shader).
const CHANNELS_PER_THREAD: usize = 8;
/// Input channels per load, and output channels per weight matrix column.
const LANES: usize = 4;
/// mat4x4 weights per (input channel quad, output block).
const MATRICES_PER_BLOCK: usize = CHANNELS_PER_THREAD / LANES;

/// WGSL `Params` of pointwise.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct PointwiseParams {
    ep: EpilogueUniform,
    pixels: u32,
    in_c4: u32,
    out_c: u32,
    blocks: u32,
    total: u32,
    pad: [u32; 3],
}

/// WGSL `Params` of pointwise_tiled.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct TiledParams {
    ep: EpilogueUniform,
    pixels: u32,
    in_c4: u32,
    out_c4: u32,
    tiles_n: u32,
    tiles: u32,
    pad: [u32; 3],
    /// The depthwise prologue's; zeros without one.
    dw_ep: EpilogueUniform,
    dw: WindowUniform,
}

/// A depthwise convolution the GEMM computes as it loads its input tiles (`DEPTHWISE` in
/// the shader; see `separable.rs`).
pub(super) struct DepthwisePrologue {
    pub epilogue: EpilogueUniform,
    pub window: WindowUniform,
    /// `DEPTHWISE`, `KH`, `KW`, `STRIDE`.
    pub constants: Constants,
    /// Its bias, then its tap-major weights: they follow the GEMM's bias in binding 3.
    pub parameters: Vec<f32>,
}

pub(crate) fn launch(io: &StepIo, conv: &Conv2d, family: KernelFamily) -> Result<Launch> {
    check_conv(io, conv)?;
    if !conv.is_pointwise() || io.input.h != io.output.h || io.input.w != io.output.w {
        return Err(io.invalid("pointwise kernel needs a 1x1 stride-1 unpadded ungrouped conv"));
    }
    if !io.input.c.is_multiple_of(LANES) || !io.output.c.is_multiple_of(LANES) {
        return super::conv::launch(io, conv, family);
    }
    match family {
        KernelFamily::CpuAdapter => launch_register_tiled(io, conv),
        KernelFamily::Gpu => launch_workgroup_tiled(io, conv, None),
    }
}

/// The GPU family: one workgroup per 32 pixels × 32 output channels, its K split in four
/// when there are few tiles; `prologue` computes the input from a depthwise convolution's.
pub(super) fn launch_workgroup_tiled(
    io: &StepIo,
    conv: &Conv2d,
    prologue: Option<DepthwisePrologue>,
) -> Result<Launch> {
    let pixels = io.batch * io.output.h * io.output.w;
    let tiles_n = io.output.c.div_ceil(gemm::TILE_CHANNELS);
    let tiles = gemm::tiles(pixels, io.output.c);
    let mut params = TiledParams {
        ep: io.epilogue,
        pixels: to_u32(pixels, "pixels")?,
        in_c4: to_u32(io.input.c / LANES, "input channels")?,
        out_c4: to_u32(io.output.c / LANES, "output channels")?,
        tiles_n: to_u32(tiles_n, "output channel tiles")?,
        tiles: to_u32(tiles, "pointwise tiles")?,
        pad: [0; 3],
        dw_ep: EpilogueUniform::zeroed(),
        dw: WindowUniform::zeroed(),
    };
    let mut bias = bias_or_zeros(&conv.bias, io.output.c);
    let mut constants = Vec::new();
    if let Some(prologue) = prologue {
        params.dw_ep = prologue.epilogue;
        params.dw = prologue.window;
        bias.extend(prologue.parameters);
        constants = prologue.constants;
    }
    Ok(Launch {
        shader: &TILED_SHADER,
        entry: tiled_entry(tiles),
        constants,
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Data(transpose(&conv.weights, io.output.c, io.input.c)),
        bias: Some(bias),
        grid: Grid::Workgroups(tiles as u64),
    })
}

/// The entry point for a GEMM of `tiles` workgroup tiles.
fn tiled_entry(tiles: usize) -> &'static str {
    if tiles < gemm::FEW_TILES {
        "pointwise_tiled_split"
    } else {
        "pointwise_tiled"
    }
}

/// The CPU-adapter family: 8 pixels × 8 output channels per thread.
fn launch_register_tiled(io: &StepIo, conv: &Conv2d) -> Result<Launch> {
    let pixels = io.batch * io.output.h * io.output.w;
    let blocks = io.output.c.div_ceil(CHANNELS_PER_THREAD);
    let threads = pixels.div_ceil(PIXELS_PER_THREAD) * blocks;
    let params = PointwiseParams {
        ep: io.epilogue,
        pixels: to_u32(pixels, "pixels")?,
        in_c4: to_u32(io.input.c / LANES, "input channels")?,
        out_c: to_u32(io.output.c, "output channels")?,
        blocks: to_u32(blocks, "output channel blocks")?,
        total: to_u32(threads, "pointwise threads")?,
        pad: [0; 3],
    };
    Ok(Launch {
        shader: &SHADER,
        entry: "pointwise",
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Data(pack_weights(conv, io.input.c, blocks)),
        bias: Some(bias_or_zeros(&conv.bias, io.output.c)),
        grid: Grid::Threads(threads as u64),
    })
}

/// `[out][in]` → `[in / 4][block][out % 8 / 4][in % 4][out % 4]`: per input-channel quad and
/// block, two column-major mat4x4 whose column `k` holds input channel `k`'s weights for 4
/// output channels. Zeros past `out`.
fn pack_weights(conv: &Conv2d, in_c: usize, blocks: usize) -> Vec<f32> {
    let block_len = LANES * CHANNELS_PER_THREAD;
    let mut packed = vec![0.0; in_c / LANES * blocks * block_len];
    for (o, row) in conv.weights.chunks_exact(in_c).enumerate() {
        let (block, lane) = (o / CHANNELS_PER_THREAD, o % CHANNELS_PER_THREAD);
        for (i, &w) in row.iter().enumerate() {
            let matrix = (i / LANES * blocks + block) * MATRICES_PER_BLOCK + lane / LANES;
            packed[(matrix * LANES + i % LANES) * LANES + lane % LANES] = w;
        }
    }
    packed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Padding;

    /// Fewer tiles than a large GPU has compute units run split; from there on, unsplit.
    #[test]
    fn few_tiles_split_their_input_channels() {
        assert_eq!(tiled_entry(1), "pointwise_tiled_split");
        assert_eq!(tiled_entry(gemm::FEW_TILES - 1), "pointwise_tiled_split");
        assert_eq!(tiled_entry(gemm::FEW_TILES), "pointwise_tiled");
    }

    /// Every weight lands where the shader reads it: matrix `(k4 * blocks + block) * 2 +
    /// (o % 8) / 4`, column `i % 4`, row `o % 4`; the padding columns stay zero.
    #[test]
    fn packed_weights_follow_the_shader_layout() {
        let (in_c, out_c) = (8, 12);
        let conv = Conv2d {
            out_channels: out_c,
            kernel_h: 1,
            kernel_w: 1,
            stride: 1,
            padding: Padding::default(),
            groups: 1,
            weights: (0..in_c * out_c).map(|v| v as f32 + 1.0).collect(),
            bias: None,
        };
        let blocks = out_c.div_ceil(CHANNELS_PER_THREAD);
        let packed = pack_weights(&conv, in_c, blocks);
        assert_eq!(packed.len(), in_c * blocks * CHANNELS_PER_THREAD);
        for o in 0..blocks * CHANNELS_PER_THREAD {
            for i in 0..in_c {
                let matrix = (i / 4 * blocks + o / 8) * 2 + o % 8 / 4;
                let expected = if o < out_c {
                    conv.weights[o * in_c + i]
                } else {
                    0.0
                };
                assert_eq!(
                    packed[matrix * 16 + i % 4 * 4 + o % 4],
                    expected,
                    "o {o} i {i}"
                );
            }
        }
    }
}

#[cfg(test)]
super::layout::layout!(PointwiseParams {
    ep,
    pixels,
    in_c4,
    out_c,
    blocks,
    total,
    pad
});
#[cfg(test)]
super::layout::layout!(TiledParams {
    ep,
    pixels,
    in_c4,
    out_c4,
    tiles_n,
    tiles,
    pad,
    dw_ep,
    dw
});
