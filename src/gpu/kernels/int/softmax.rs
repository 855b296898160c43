//! Integer softmax (`shaders/int/softmax.wgsl`): one workgroup per row.

use bytemuck::{Pod, Zeroable};

use super::super::{to_u32, Launch, StepIo, Weights};
use super::signed;
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::plan::IntKernel;
use crate::quant::params::Softmax;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "int_softmax",
    source: include_str!("../../../../shaders/int/softmax.wgsl"),
    entry_points: &["softmax"],
};

/// WGSL `Params` of shaders/int/softmax.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct SoftmaxParams {
    rows: u32,
    depth: u32,
    signed: u32,
    out_signed: u32,
    input_multiplier: i32,
    input_left_shift: i32,
    diff_min: i32,
    pad: [u32; 1],
}

#[cfg(test)]
super::super::layout::layout!(SoftmaxParams {
    rows,
    depth,
    signed,
    out_signed,
    input_multiplier,
    input_left_shift,
    diff_min,
    pad
});

pub(crate) fn launch(io: &StepIo, kernel: &IntKernel, softmax: &Softmax) -> Result<Launch> {
    let rows = io.output_len() / io.output.c;
    let params = SoftmaxParams {
        rows: to_u32(rows, "rows")?,
        depth: to_u32(io.output.c, "classes")?,
        signed: signed(kernel.inputs[0]),
        out_signed: signed(softmax.output),
        input_multiplier: softmax.input_multiplier,
        input_left_shift: softmax.input_left_shift,
        diff_min: softmax.diff_min,
        pad: [0],
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
