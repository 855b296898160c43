//! Element-wise kernels (`shaders/elementwise.wgsl`): epilogue copy (standalone
//! activations and adds), squeeze-excite channel scaling, and concat parts.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, EpilogueUniform, Launch, StepIo, Weights};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::Shape;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "elementwise",
    source: include_str!("../../../shaders/elementwise.wgsl"),
    entry_points: &["copy", "mul_channel", "concat_part"],
};

/// WGSL `Params` of elementwise.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct ElementwiseParams {
    ep: EpilogueUniform,
    total: u32,
    channels: u32,
    extent: u32,
    offset: u32,
}

pub(crate) fn launch_copy(io: &StepIo) -> Result<Launch> {
    if io.input.len() != io.output.len() {
        return Err(io.invalid(format!(
            "element-wise copy of {} into {}",
            io.input, io.output
        )));
    }
    build(io, "copy", io.output.c, 0, 0, Weights::None)
}

pub(crate) fn launch_mul_channel(io: &StepIo) -> Result<Launch> {
    let scale = io.step.inputs.get(1).map(|t| t.shape);
    if io.input != io.output || scale != Some(Shape::new(1, 1, io.output.c)) {
        return Err(io.invalid(format!(
            "mul_channel needs {} and a 1x1x{} scale",
            io.output, io.output.c
        )));
    }
    let pixels = io.output.h * io.output.w;
    build(
        io,
        "mul_channel",
        io.output.c,
        pixels,
        0,
        Weights::StepInput(1),
    )
}

pub(crate) fn launch_concat(io: &StepIo, offset: usize) -> Result<Launch> {
    let (part, whole) = (io.input, io.output);
    if part.h != whole.h || part.w != whole.w || offset + part.c > whole.c {
        return Err(io.invalid(format!(
            "cannot place {part} at channel {offset} of {whole}"
        )));
    }
    build(io, "concat_part", part.c, whole.c, offset, Weights::None)
}

/// A launch of `entry` over every element of the step's input.
fn build(
    io: &StepIo,
    entry: &'static str,
    channels: usize,
    extent: usize,
    offset: usize,
    weights: Weights,
) -> Result<Launch> {
    let total = io.input.len() * io.batch;
    let params = ElementwiseParams {
        ep: io.epilogue,
        total: to_u32(total, "elements")?,
        channels: to_u32(channels, "channels")?,
        extent: to_u32(extent, "extent")?,
        offset: to_u32(offset, "concat offset")?,
    };
    Ok(Launch {
        shader: &SHADER,
        entry,
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights,
        bias: None,
        grid: Grid::Threads(total as u64),
    })
}

#[cfg(test)]
super::layout::layout!(ElementwiseParams {
    ep,
    total,
    channels,
    extent,
    offset
});
