//! Integer pooling (`shaders/int/pool.wgsl`): AVERAGE_POOL_2D and MEAN.

use bytemuck::{Pod, Zeroable};

use super::super::{to_u32, Launch, StepIo, Weights};
use super::signed;
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::AvgPool;
use crate::plan::IntKernel;
use crate::quant::params::Mean;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "int_pool",
    source: include_str!("../../../../shaders/int/pool.wgsl"),
    entry_points: &["avg_pool", "mean_pool"],
};

/// WGSL `Params` of shaders/int/pool.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct PoolParams {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    total: u32,
    signed: u32,
    input_zp: i32,
    output_zp: i32,
    multiplier: i32,
    shift: i32,
    clamp_lo: i32,
    clamp_hi: i32,
    pad: [u32; 2],
}

#[cfg(test)]
super::super::layout::layout!(PoolParams {
    batch,
    in_h,
    in_w,
    in_c,
    out_h,
    out_w,
    kernel,
    stride,
    pad_top,
    pad_left,
    total,
    signed,
    input_zp,
    output_zp,
    multiplier,
    shift,
    clamp_lo,
    clamp_hi,
    pad
});

/// AVERAGE_POOL_2D over `window`, or over the whole map.
pub(crate) fn launch_average(
    io: &StepIo,
    kernel: &IntKernel,
    window: Option<&AvgPool>,
) -> Result<Launch> {
    if kernel.inputs[0] != kernel.output {
        return Err(io.invalid("average pooling keeps the integer type"));
    }
    let whole = whole_map(io);
    let params = params(io, kernel, window.unwrap_or(&whole), None)?;
    Ok(pool_launch(io, "avg_pool", params))
}

pub(crate) fn launch_mean(io: &StepIo, kernel: &IntKernel, mean: &Mean) -> Result<Launch> {
    if kernel.inputs[0] != kernel.output {
        return Err(io.invalid("MEAN keeps the integer type"));
    }
    let whole = whole_map(io);
    let params = params(io, kernel, &whole, Some(mean))?;
    Ok(pool_launch(io, "mean_pool", params))
}

fn params(
    io: &StepIo,
    kernel: &IntKernel,
    pool: &AvgPool,
    mean: Option<&Mean>,
) -> Result<PoolParams> {
    let u = |v: usize, what: &str| to_u32(v, what);
    let (i, o) = (io.input, io.output);
    Ok(PoolParams {
        batch: u(io.batch, "batch")?,
        in_h: u(i.h, "input height")?,
        in_w: u(i.w, "input width")?,
        in_c: u(i.c, "input channels")?,
        out_h: u(o.h, "output height")?,
        out_w: u(o.w, "output width")?,
        kernel: u(pool.kernel, "window")?,
        stride: u(pool.stride, "stride")?,
        pad_top: u(pool.padding.top, "padding")?,
        pad_left: u(pool.padding.left, "padding")?,
        total: u(io.output_len(), "output size")?,
        signed: signed(kernel.output),
        input_zp: mean.map_or(0, |m| m.input_zero_point),
        output_zp: mean.map_or(0, |m| m.output.zero_point),
        multiplier: mean.map_or(0, |m| m.multiplier.multiplier),
        shift: mean.map_or(0, |m| m.multiplier.shift),
        clamp_lo: kernel.clamp.0,
        clamp_hi: kernel.clamp.1,
        pad: [0; 2],
    })
}

/// A window over the whole input map.
fn whole_map(io: &StepIo) -> AvgPool {
    AvgPool {
        kernel: io.input.h.max(io.input.w),
        stride: 1,
        padding: Default::default(),
    }
}

fn pool_launch(io: &StepIo, entry: &'static str, params: PoolParams) -> Launch {
    Launch {
        shader: &SHADER,
        entry,
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::None,
        bias: None,
        grid: Grid::Threads(io.output_len().div_ceil(4) as u64),
    }
}
