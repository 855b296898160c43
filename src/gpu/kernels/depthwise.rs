//! Depthwise convolution (`shaders/depthwise.wgsl`): any kernel size, stride, padding
//! and depth multiplier. Weights repacked from OHWI `[out][kh][kw][1]` to
//! `[kh][kw][out]` so neighbouring threads read neighbouring weights.

use super::conv::check_conv;
use super::{bias_or_zeros, Launch, StepIo, Weights, WindowParams, WindowSpec, WindowUniform};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::Conv2d;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "depthwise",
    source: include_str!("../../../shaders/depthwise.wgsl"),
    entry_points: &["depthwise"],
};

pub(crate) fn launch(io: &StepIo, conv: &Conv2d) -> Result<Launch> {
    check_conv(io, conv)?;
    if conv.groups != io.input.c {
        return Err(io.invalid(format!(
            "depthwise needs groups = {} input channels",
            io.input.c
        )));
    }
    let multiplier = io.output.c / io.input.c;
    let spec = WindowSpec::of_conv(conv, multiplier);
    let params = WindowParams {
        ep: io.epilogue,
        win: WindowUniform::new(io, spec)?,
    };
    Ok(Launch {
        shader: &SHADER,
        entry: "depthwise",
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Data(pack_weights(conv)),
        bias: Some(bias_or_zeros(&conv.bias, io.output.c)),
        grid: Grid::Threads(io.output_len() as u64),
    })
}

/// `[out][taps]` → `[taps][out]`.
fn pack_weights(conv: &Conv2d) -> Vec<f32> {
    let taps = conv.kernel_h * conv.kernel_w;
    let out = conv.out_channels;
    let mut packed = vec![0.0; taps * out];
    for (o, filter) in conv.weights.chunks_exact(taps).enumerate() {
        for (t, &w) in filter.iter().enumerate() {
            packed[t * out + o] = w;
        }
    }
    packed
}
