//! Integer kernels (`shaders/int/*.wgsl`): one module per kernel file, each turning an int8
//! plan's [`IntKernel`] into a [`Launch`]. Tensors are 8-bit values packed four to a word;
//! every kernel writes whole output words.

pub(crate) mod conv;
pub(crate) mod conv_store;
pub(crate) mod dense;
pub(crate) mod depthwise;
pub(crate) mod elementwise;
#[cfg(test)]
mod fixed_test;
pub(crate) mod pointwise;
pub(crate) mod pool;
pub(crate) mod softmax;

use super::{Launch, StepIo};
use crate::error::Result;
use crate::gpu::pipeline::ShaderFile;
use crate::graph::IntType;
use crate::plan::{IntKernel, KernelFamily};
use crate::quant::lower::IntStep;
use crate::quant::params::{HardSwish, Requant};

/// Every integer kernel file.
pub(crate) const SHADERS: [&ShaderFile; 7] = [
    &conv::SHADER,
    &pointwise::SHADER,
    &depthwise::SHADER,
    &dense::SHADER,
    &pool::SHADER,
    &elementwise::SHADER,
    &softmax::SHADER,
];

/// Products of centred 8-bit values (each within ±255) that one f32 sum holds exactly:
/// 256 · 255² < 2^24, so every partial sum is an integer. The `cpu-adapter` kernels
/// multiply in f32, which lavapipe runs faster than integer multiplication.
pub(crate) const EXACT_F32_PRODUCTS: usize = 256;

/// WGSL `HardSwish` of shaders/int/common.wgsl: a member of the convolutions' and the
/// element-wise kernel's uniforms.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct HardSwishUniform {
    zp: i32,
    out_m: i32,
    out_s: i32,
    relu_m: i32,
    relu_s: i32,
    out_zp: i32,
    pad: [i32; 2],
}

#[cfg(test)]
super::layout::layout!(HardSwishUniform {
    zp,
    out_m,
    out_s,
    relu_m,
    relu_s,
    out_zp,
    pad,
});

impl From<&HardSwish> for HardSwishUniform {
    fn from(h: &HardSwish) -> Self {
        HardSwishUniform {
            zp: h.input_zero_point,
            out_m: i32::from(h.output_multiplier),
            out_s: h.output_exponent,
            relu_m: i32::from(h.reluish_multiplier),
            relu_s: h.reluish_exponent,
            out_zp: h.output.zero_point,
            pad: [0; 2],
        }
    }
}

/// Every zero point within the 8-bit type of the values it centres, so every centred value
/// lies within ±255 (the importer refuses other zero points).
fn check_centred_range(io: &StepIo, dtype: IntType, requant: &Requant) -> Result<()> {
    let (lo, hi) = dtype.range();
    let in_range = |zp: &i32| (lo..=hi).contains(zp);
    if in_range(&requant.input_zero_point) && requant.weight_zero_points.iter().all(in_range) {
        Ok(())
    } else {
        Err(io.invalid("a zero point lies outside its 8-bit type"))
    }
}

/// The launch of an int8 plan's step with the kernels of `family`.
pub(crate) fn launch(io: &StepIo, kernel: &IntKernel, family: KernelFamily) -> Result<Launch> {
    match &kernel.step {
        IntStep::Conv {
            conv,
            weights,
            requant,
        } => conv::launch(io, kernel, conv, weights, requant, family),
        IntStep::AvgPool(window) => pool::launch_average(io, kernel, window.as_ref()),
        IntStep::Mean(mean) => pool::launch_mean(io, kernel, mean),
        IntStep::Softmax(softmax) => softmax::launch(io, kernel, softmax),
        IntStep::Dense { weights, requant } => dense::launch(io, kernel, weights, requant),
        IntStep::Concat(tables) => match &tables[..] {
            [table] => elementwise::launch_concat_part(io, kernel, table),
            _ => Err(io.invalid("a concatenation runs as one step per input")),
        },
        IntStep::Input | IntStep::Copy => Err(io.invalid("a copy is not a GPU step")),
        _ => elementwise::launch(io, kernel),
    }
}

/// 1 for int8, 0 for uint8: the kernels' `signed` flags.
fn signed(dtype: IntType) -> u32 {
    u32::from(dtype == IntType::I8)
}
