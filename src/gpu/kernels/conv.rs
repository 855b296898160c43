//! General grouped convolution (`shaders/conv.wgsl`): the stem and any conv that fits
//! no faster kernel. Weights stay in the graph's OHWI layout.

use super::{bias_or_zeros, Launch, StepIo, Weights, WindowParams, WindowSpec, WindowUniform};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::Conv2d;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "conv",
    source: include_str!("../../../shaders/conv.wgsl"),
    entry_points: &["conv"],
};

pub(crate) fn launch(io: &StepIo, conv: &Conv2d) -> Result<Launch> {
    check_conv(io, conv)?;
    let params = WindowParams {
        ep: io.epilogue,
        win: WindowUniform::new(io, WindowSpec::of_conv(conv, conv.groups))?,
    };
    Ok(Launch {
        shader: &SHADER,
        entry: "conv",
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Data(conv.weights.clone()),
        bias: Some(bias_or_zeros(&conv.bias, io.output.c)),
        grid: Grid::Threads(io.output_len() as u64),
    })
}

/// Rejects convolutions whose weights or groups disagree with the step's shapes, which
/// would otherwise read out of bounds on the GPU.
pub(crate) fn check_conv(io: &StepIo, conv: &Conv2d) -> Result<()> {
    let (cin, cout) = (io.input.c, io.output.c);
    let groups = conv.groups;
    if groups == 0 || cin % groups != 0 || cout % groups != 0 || conv.out_channels != cout {
        return Err(io.invalid(format!(
            "groups {groups} do not fit {cin} -> {cout} channels"
        )));
    }
    let expected = cout * conv.kernel_h * conv.kernel_w * (cin / groups);
    if conv.weights.len() != expected {
        return Err(io.invalid(format!(
            "{} weights, expected {expected}",
            conv.weights.len()
        )));
    }
    if conv.bias.as_ref().is_some_and(|b| b.len() != cout) {
        return Err(io.invalid(format!("bias length differs from {cout} channels")));
    }
    Ok(())
}
