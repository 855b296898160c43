//! Average pooling (`shaders/pool.wgsl`): global (mean over H×W) and windowed
//! (padding excluded from the mean).

use super::{Launch, StepIo, Weights, WindowParams, WindowSpec, WindowUniform};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::AvgPool;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "pool",
    source: include_str!("../../../shaders/pool.wgsl"),
    entry_points: &["global_avg_pool", "avg_pool"],
};

pub(crate) fn launch_global(io: &StepIo) -> Result<Launch> {
    if io.output.h != 1 || io.output.w != 1 || io.output.c != io.input.c {
        return Err(io.invalid(format!(
            "global pool of {} cannot give {}",
            io.input, io.output
        )));
    }
    let spec = WindowSpec {
        kernel_h: io.input.h,
        kernel_w: io.input.w,
        stride: 1,
        pad_top: 0,
        pad_left: 0,
        groups: 1,
    };
    pool_launch(io, "global_avg_pool", spec)
}

pub(crate) fn launch_window(io: &StepIo, pool: &AvgPool) -> Result<Launch> {
    if io.output.c != io.input.c {
        return Err(io.invalid("pooling cannot change the channel count"));
    }
    let spec = WindowSpec {
        kernel_h: pool.kernel,
        kernel_w: pool.kernel,
        stride: pool.stride,
        pad_top: pool.padding.top,
        pad_left: pool.padding.left,
        groups: 1,
    };
    pool_launch(io, "avg_pool", spec)
}

fn pool_launch(io: &StepIo, entry: &'static str, spec: WindowSpec) -> Result<Launch> {
    let params = WindowParams {
        ep: io.epilogue,
        win: WindowUniform::new(io, spec)?,
    };
    Ok(Launch {
        shader: &SHADER,
        entry,
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::None,
        bias: None,
        grid: Grid::Threads(io.output_len() as u64),
    })
}
