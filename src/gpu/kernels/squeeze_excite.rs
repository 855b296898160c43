//! Squeeze-excite's pool and two 1×1 convolutions in one dispatch
//! (`shaders/squeeze_excite.wgsl`): one workgroup per image.

use bytemuck::{Pod, Zeroable};

use super::{bias_or_zeros, to_u32, transpose, EpilogueUniform, Launch, StepIo, Weights};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::plan::SqueezeExcite;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "squeeze_excite",
    source: include_str!("../../../shaders/squeeze_excite.wgsl"),
    entry_points: &["squeeze_excite"],
};

/// WGSL `Params`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct SqueezeExciteParams {
    pool_ep: EpilogueUniform,
    reduce_ep: EpilogueUniform,
    ep: EpilogueUniform,
    batch: u32,
    channels: u32,
    hidden: u32,
    area: u32,
}

pub(crate) fn launch(io: &StepIo, block: &SqueezeExcite) -> Result<Launch> {
    let (channels, hidden) = (io.input.c, block.reduce.out_channels);
    let shapes_agree = block.reduce.weights.len() == hidden * channels
        && block.expand.weights.len() == io.output.c * hidden
        && io.output.c == channels
        && channels <= crate::plan::SE_MAX_CHANNELS
        && hidden <= crate::plan::SE_MAX_HIDDEN;
    if !shapes_agree {
        return Err(io.invalid(format!(
            "squeeze-excite of {} through {hidden} hidden channels cannot give {}",
            io.input, io.output
        )));
    }
    let params = SqueezeExciteParams {
        pool_ep: EpilogueUniform::new(&block.pool_epilogue, false),
        reduce_ep: EpilogueUniform::new(&block.reduce_epilogue, false),
        ep: io.epilogue,
        batch: to_u32(io.batch, "batch")?,
        channels: to_u32(channels, "channels")?,
        hidden: to_u32(hidden, "hidden channels")?,
        area: to_u32(io.input.h * io.input.w, "pixels")?,
    };
    // Input-major ([in][out]): the threads of a workgroup, one per output, read
    // neighbouring weights (coalesced on GPUs, whole vectors on CPU adapters).
    let mut weights = transpose(&block.reduce.weights, hidden, channels);
    weights.extend(transpose(&block.expand.weights, channels, hidden));
    let mut bias = bias_or_zeros(&block.reduce.bias, hidden);
    bias.extend(bias_or_zeros(&block.expand.bias, channels));
    Ok(Launch {
        shader: &SHADER,
        entry: "squeeze_excite",
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Data(weights),
        bias: Some(bias),
        grid: Grid::Workgroups(io.batch as u64),
    })
}

#[cfg(test)]
super::layout::layout!(SqueezeExciteParams {
    pool_ep,
    reduce_ep,
    ep,
    batch,
    channels,
    hidden,
    area
});
