//! Depthwise convolution (`shaders/depthwise.wgsl`): any kernel size, stride, padding
//! and depth multiplier. Weights repacked from OHWI `[out][kh][kw][1]` to
//! `[kh][kw][out]` so neighbouring threads read neighbouring weights.

use super::conv::check_conv;
use super::{
    bias_or_zeros, to_u32, Launch, StepIo, Weights, WindowParams, WindowSpec, WindowUniform,
};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::Conv2d;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "depthwise",
    source: include_str!("../../../shaders/depthwise.wgsl"),
    entry_points: &["depthwise", "depthwise4"],
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
    let mut params = WindowParams {
        ep: io.epilogue,
        win: WindowUniform::new(io, spec)?,
    };
    // One thread per 4 channels where they are whole vec4s of one filter each.
    let (entry, threads) = if multiplier == 1 && io.output.c.is_multiple_of(4) {
        ("depthwise4", io.output_len() / 4)
    } else {
        ("depthwise", io.output_len())
    };
    params.win.total = to_u32(threads, "depthwise threads")?;
    Ok(Launch {
        shader: &SHADER,
        entry,
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Data(pack_weights(conv)),
        bias: Some(bias_or_zeros(&conv.bias, io.output.c)),
        grid: Grid::Threads(threads as u64),
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
