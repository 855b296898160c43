//! 1×1 convolution as a register-tiled GEMM (`shaders/pointwise.wgsl`): each thread
//! computes 4 pixels × 4 output channels. Weights repacked from `[out][in]` to
//! `[in][out rounded up to 4]` (zero-padded) so every weight load is one vec4.

use bytemuck::{Pod, Zeroable};

use super::conv::check_conv;
use super::{bias_or_zeros, to_u32, EpilogueUniform, Launch, StepIo, Weights};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::Conv2d;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "pointwise",
    source: include_str!("../../../shaders/pointwise.wgsl"),
    entry_points: &["pointwise"],
};

/// Pixels (and output channels) per thread, as in the shader.
const TILE: usize = 4;

/// WGSL `Params` of pointwise.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct PointwiseParams {
    ep: EpilogueUniform,
    pixels: u32,
    in_c: u32,
    out_c: u32,
    out_c4: u32,
    total: u32,
    pad: [u32; 3],
}

pub(crate) fn launch(io: &StepIo, conv: &Conv2d) -> Result<Launch> {
    check_conv(io, conv)?;
    if !conv.is_pointwise() || io.input.h != io.output.h || io.input.w != io.output.w {
        return Err(io.invalid("pointwise kernel needs a 1x1 stride-1 unpadded ungrouped conv"));
    }
    let pixels = io.batch * io.output.h * io.output.w;
    let out_c4 = io.output.c.div_ceil(TILE);
    let threads = pixels.div_ceil(TILE) * out_c4;
    let params = PointwiseParams {
        ep: io.epilogue,
        pixels: to_u32(pixels, "pixels")?,
        in_c: to_u32(io.input.c, "input channels")?,
        out_c: to_u32(io.output.c, "output channels")?,
        out_c4: to_u32(out_c4, "output channels")?,
        total: to_u32(threads, "pointwise threads")?,
        pad: [0; 3],
    };
    Ok(Launch {
        shader: &SHADER,
        entry: "pointwise",
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Data(pack_weights(conv, io.input.c, out_c4 * TILE)),
        bias: Some(bias_or_zeros(&conv.bias, io.output.c)),
        grid: Grid::Threads(threads as u64),
    })
}

/// `[out][in]` → `[in][padded_out]`, zeros in the padding columns.
fn pack_weights(conv: &Conv2d, in_c: usize, padded_out: usize) -> Vec<f32> {
    let mut packed = vec![0.0; in_c * padded_out];
    for (o, row) in conv.weights.chunks_exact(in_c).enumerate() {
        for (i, &w) in row.iter().enumerate() {
            packed[i * padded_out + o] = w;
        }
    }
    packed
}
