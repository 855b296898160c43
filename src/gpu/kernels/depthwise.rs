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
    entry_points: &["depthwise", "depthwise_rows"],
};

/// Output pixels per thread of `depthwise_rows` (`TX` in the shader): 4 at stride 1, 2 at
/// larger strides, whose wider input span costs more shader-compile time than it saves.
fn row_tile(stride: usize) -> usize {
    if stride == 1 {
        4
    } else {
        2
    }
}
/// Widest kernel `depthwise_rows` caches a row of (`MAX_K` in the shader).
const MAX_ROW_KERNEL: usize = 7;

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
    // One thread per 4 channels and a row tile of pixels where they are whole vec4s of
    // one filter each.
    let vec4_channels = multiplier == 1 && io.output.c.is_multiple_of(4);
    let (entry, threads, constants) = if vec4_channels && conv.kernel_w <= MAX_ROW_KERNEL {
        let row_tile = row_tile(conv.stride);
        let tiles = io.batch * io.output.h * io.output.w.div_ceil(row_tile);
        let constants = vec![
            ("KH", to_u32(conv.kernel_h, "kernel height")?),
            ("KW", to_u32(conv.kernel_w, "kernel width")?),
            ("STRIDE", to_u32(conv.stride, "stride")?),
            ("TX", to_u32(row_tile, "row tile")?),
        ];
        ("depthwise_rows", tiles * io.output.c / 4, constants)
    } else {
        ("depthwise", io.output_len(), Vec::new())
    };
    params.win.total = to_u32(threads, "depthwise threads")?;
    Ok(Launch {
        shader: &SHADER,
        entry,
        constants,
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::DataF32(pack_weights(conv)),
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
