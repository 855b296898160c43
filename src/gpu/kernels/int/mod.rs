//! Integer kernels (`shaders/int/*.wgsl`): one module per kernel file, each turning an int8
//! plan's [`IntKernel`] into a [`Launch`]. Tensors are 8-bit values packed four to a word;
//! every kernel writes whole output words.

pub(crate) mod conv;
pub(crate) mod dense;
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

/// Every integer kernel file.
pub(crate) const SHADERS: [&ShaderFile; 6] = [
    &conv::SHADER,
    &pointwise::SHADER,
    &dense::SHADER,
    &pool::SHADER,
    &elementwise::SHADER,
    &softmax::SHADER,
];

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
