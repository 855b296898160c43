//! Integer element-wise kernels (`shaders/int/elementwise.wgsl`): requantization, ADD,
//! MUL, HARD_SWISH, table lookups, clamps, and one input's part of a concatenation.

use bytemuck::{Pod, Zeroable};

use super::super::{to_u32, Launch, StepIo, Weights};
use super::{signed, HardSwishUniform};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::IntConstant;
use crate::plan::IntKernel;
use crate::quant::fixed::Multiplier;
use crate::quant::lower::IntStep;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "int_elementwise",
    source: include_str!("../../../../shaders/int/elementwise.wgsl"),
    entry_points: &["elementwise", "concat_part"],
};

/// The operation of a pipeline: WGSL's `OP` override.
#[derive(Clone, Copy)]
enum Op {
    Requantize = 0,
    AddTensors = 1,
    AddConstant = 2,
    MulChannels = 3,
    MulConstant = 4,
    HardSwish = 5,
    Lookup = 6,
    Clamp = 7,
}

/// WGSL `Params` of shaders/int/elementwise.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct ElementwiseParams {
    total: u32,
    channels: u32,
    image: u32,
    constants: u32,
    signed: u32,
    signed_b: u32,
    out_signed: u32,
    lowest: i32,
    zp: i32,
    zp_b: i32,
    output_zp: i32,
    multiplier: i32,
    shift: i32,
    multiplier_b: i32,
    shift_b: i32,
    output_multiplier: i32,
    output_shift: i32,
    clamp_lo: i32,
    clamp_hi: i32,
    part_offset: u32,
    part_channels: u32,
    pad: [u32; 3],
    hard_swish: HardSwishUniform,
}

#[cfg(test)]
super::super::layout::layout!(ElementwiseParams {
    total,
    channels,
    image,
    constants,
    signed,
    signed_b,
    out_signed,
    lowest,
    zp,
    zp_b,
    output_zp,
    multiplier,
    shift,
    multiplier_b,
    shift_b,
    output_multiplier,
    output_shift,
    clamp_lo,
    clamp_hi,
    part_offset,
    part_channels,
    pad,
    hard_swish,
});

impl ElementwiseParams {
    fn multipliers(mut self, a: Multiplier, b: Multiplier, out: Multiplier) -> Self {
        (self.multiplier, self.shift) = (a.multiplier, a.shift);
        (self.multiplier_b, self.shift_b) = (b.multiplier, b.shift);
        (self.output_multiplier, self.output_shift) = (out.multiplier, out.shift);
        self
    }
}

pub(crate) fn launch(io: &StepIo, kernel: &IntKernel) -> Result<Launch> {
    let base = ElementwiseParams {
        total: to_u32(io.output_len(), "output size")?,
        channels: to_u32(io.output.c, "channels")?,
        image: to_u32(io.output.len(), "image size")?,
        constants: 1,
        signed: signed(kernel.inputs[0]),
        signed_b: kernel.inputs.get(1).map_or(0, |&t| signed(t)),
        out_signed: signed(kernel.output),
        lowest: kernel.inputs[0].range().0,
        clamp_lo: kernel.clamp.0,
        clamp_hi: kernel.clamp.1,
        ..Default::default()
    };
    let none = Multiplier::default();
    let (op, params, weights) = match &kernel.step {
        IntStep::Requantize(r) => {
            let p = ElementwiseParams {
                zp: r.input_zero_point,
                output_zp: r.output.zero_point,
                ..base
            };
            (
                Op::Requantize,
                p.multipliers(r.multiplier, none, none),
                Weights::None,
            )
        }
        IntStep::Add(add) | IntStep::AddConstant(add, _) => {
            let p = ElementwiseParams {
                zp: add.zero_points[0],
                zp_b: add.zero_points[1],
                output_zp: add.output.zero_point,
                ..base
            };
            let p = p.multipliers(
                add.multipliers[0],
                add.multipliers[1],
                add.output_multiplier,
            );
            match &kernel.step {
                IntStep::AddConstant(_, c) => constant_launch(Op::AddConstant, p, c),
                _ => (Op::AddTensors, p, Weights::StepInput(1)),
            }
        }
        IntStep::Mul(mul) | IntStep::MulConstant(mul, _) => {
            let p = ElementwiseParams {
                zp: mul.zero_points[0],
                zp_b: mul.zero_points[1],
                output_zp: mul.output.zero_point,
                ..base
            };
            let p = p.multipliers(mul.multiplier, none, none);
            match &kernel.step {
                IntStep::MulConstant(_, c) => constant_launch(Op::MulConstant, p, c),
                _ => (Op::MulChannels, p, Weights::StepInput(1)),
            }
        }
        IntStep::HardSwish(h) => {
            let p = ElementwiseParams {
                hard_swish: h.into(),
                ..base
            };
            (Op::HardSwish, p, Weights::None)
        }
        IntStep::Lookup(table) => {
            let words = table.iter().map(|&v| v as u32).collect();
            (Op::Lookup, base, Weights::Words(words))
        }
        IntStep::Clamp { .. } => (Op::Clamp, base, Weights::None),
        other => return Err(io.invalid(format!("{} is not element-wise", other.name()))),
    };
    Ok(Launch {
        shader: &SHADER,
        entry: "elementwise",
        constants: vec![("OP", op as u32)],
        params: bytemuck::bytes_of(&params).to_vec(),
        weights,
        bias: None,
        grid: Grid::Threads(io.output_len().div_ceil(4) as u64),
    })
}

/// One input's share of a concatenation (`concat_part`), mapped through `table`: a step that
/// rewrites every output word, keeping the bytes of the channels other parts write.
pub(crate) fn launch_concat_part(io: &StepIo, kernel: &IntKernel, table: &[i32]) -> Result<Launch> {
    let params = ElementwiseParams {
        total: to_u32(io.output_len(), "output size")?,
        channels: to_u32(io.output.c, "channels")?,
        signed: signed(kernel.inputs[0]),
        lowest: kernel.inputs[0].range().0,
        part_offset: to_u32(kernel.channel_offset, "channel offset")?,
        part_channels: to_u32(io.input.c, "channels")?,
        ..Default::default()
    };
    Ok(Launch {
        shader: &SHADER,
        entry: "concat_part",
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Words(table.iter().map(|&v| v as u32).collect()),
        bias: None,
        grid: Grid::Threads(io.output_len().div_ceil(4) as u64),
    })
}

/// An operation whose second operand is `constant`, one value per word.
fn constant_launch(
    op: Op,
    params: ElementwiseParams,
    constant: &IntConstant,
) -> (Op, ElementwiseParams, Weights) {
    let params = ElementwiseParams {
        constants: constant.values.len() as u32,
        ..params
    };
    let words = constant.values.iter().map(|&v| v as u32).collect();
    (op, params, Weights::Words(words))
}
