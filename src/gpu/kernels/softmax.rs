//! Softmax over channels (`shaders/softmax.wgsl`): one workgroup per (image, pixel) row.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, EpilogueUniform, Launch, StepIo, Weights};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "softmax",
    source: include_str!("../../../shaders/softmax.wgsl"),
    entry_points: &["softmax"],
};

/// WGSL `Params` of softmax.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct SoftmaxParams {
    ep: EpilogueUniform,
    rows: u32,
    len: u32,
    pad: [u32; 2],
}

pub(crate) fn launch(io: &StepIo) -> Result<Launch> {
    if io.input != io.output {
        return Err(io.invalid(format!("softmax of {} cannot give {}", io.input, io.output)));
    }
    let rows = io.batch * io.output.h * io.output.w;
    let params = SoftmaxParams {
        ep: io.epilogue,
        rows: to_u32(rows, "softmax rows")?,
        len: to_u32(io.output.c, "softmax length")?,
        pad: [0; 2],
    };
    Ok(Launch {
        shader: &SHADER,
        entry: "softmax",
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::None,
        bias: None,
        grid: Grid::Workgroups(rows as u64),
    })
}

#[cfg(test)]
super::layout::layout!(SoftmaxParams { ep, rows, len, pad });
