//! One module per WGSL kernel file (and `separable.rs`, the GEMM's file with a depthwise
//! prologue; some modules drive both a CPU-adapter and a GPU file): its source, params
//! struct, weight packing and grid.
//! Each turns a plan [`Step`] into a [`Launch`], which the executor binds and encodes
//! with the shared plumbing of [`super::pipeline`].

#[cfg(test)]
pub(crate) mod layout;

mod conv;
mod dense;
mod depthwise;
mod elementwise;
pub(crate) mod int;
mod pointwise;
mod pool;
mod separable;
mod softmax;
mod squeeze_excite;

use bytemuck::{Pod, Zeroable};

use super::pipeline::{Constants, Grid, ShaderFile};
use crate::error::{Error, Result};
use crate::graph::{Conv2d, Shape};
use crate::plan::{ActKind, ActStage, Epilogue, Kernel, KernelFamily, Plan, Step};

/// Every kernel file the runtime compiles.
pub(crate) const SHADERS: [&ShaderFile; 10] = [
    &conv::SHADER,
    &depthwise::SHADER,
    &pointwise::SHADER,
    &pointwise::TILED_SHADER,
    &pool::SHADER,
    &dense::SHADER,
    &dense::SPLIT_SHADER,
    &softmax::SHADER,
    &squeeze_excite::SHADER,
    &elementwise::SHADER,
];

/// What binding 2 of a step holds.
#[derive(Debug)]
pub(crate) enum Weights {
    None,
    /// Constant data uploaded once, at the plan's storage precision.
    Data(Vec<f32>),
    /// Constant data uploaded once, always as f32: depthwise weights, which multiply each
    /// activation by large folded-BatchNorm factors, so that rounding them to f16 moves a
    /// real model's probabilities by up to 1.8e-2, while they are only 1-2% of the weights.
    DataF32(Vec<f32>),
    /// Another input of the step (the squeeze-excite scale of mul_channel).
    StepInput(usize),
    /// Words uploaded once as they are: integer kernels' packed weights and per-channel
    /// parameters.
    Words(Vec<u32>),
    /// Constant data in the uniform-weights binding (at most `UNIFORM_WEIGHTS_BYTES`),
    /// held as f32 but rounded to the plan's precision: small weight sets that every thread
    /// reads at the same addresses (the stem). GPUs serve those from their constant cache;
    /// lavapipe loads such a uniform value once and broadcasts it, where a storage load
    /// costs one load per SIMD lane.
    Uniform(Vec<f32>),
}

/// Everything the executor needs to run one step.
#[derive(Debug)]
pub(crate) struct Launch {
    pub shader: &'static ShaderFile,
    pub entry: &'static str,
    /// Values of the entry point's WGSL `override` constants.
    pub constants: Constants,
    /// Bytes of the kernel's `Params` uniform.
    pub params: Vec<u8>,
    pub weights: Weights,
    pub bias: Option<Vec<f32>>,
    pub grid: Grid,
}

/// Builds the launch of `step` at batch size `batch` with the kernels of `family`.
pub(crate) fn launch(step: &Step, batch: usize, family: KernelFamily) -> Result<Launch> {
    let io = StepIo::new(step, batch)?;
    let mut launch = match &step.kernel {
        Kernel::Conv(conv) => conv::launch(&io, conv, family),
        Kernel::Depthwise(conv) => depthwise::launch(&io, conv, family),
        Kernel::Pointwise(conv) => pointwise::launch(&io, conv, family),
        Kernel::GlobalAvgPool => pool::launch_global(&io),
        Kernel::AvgPool(pool) => pool::launch_window(&io, pool),
        Kernel::Dense(dense) => dense::launch(&io, dense, family),
        Kernel::Softmax => softmax::launch(&io),
        Kernel::Elementwise => elementwise::launch_copy(&io),
        Kernel::SqueezeExcite(block) => squeeze_excite::launch(&io, block),
        Kernel::Separable(pair) => separable::launch(&io, pair),
        Kernel::MulChannel => elementwise::launch_mul_channel(&io),
        Kernel::ConcatPart { offset } => elementwise::launch_concat(&io, *offset),
        Kernel::Int(kernel) => return int::launch(&io, kernel, family),
    }?;
    // Merged steps also apply their earlier parts' epilogues.
    let activations = match &step.kernel {
        Kernel::SqueezeExcite(block) => [block.pool_epilogue, block.reduce_epilogue]
            .iter()
            .chain([&step.epilogue])
            .any(has_activations),
        Kernel::Separable(pair) => {
            has_activations(&pair.depthwise_epilogue) || has_activations(&step.epilogue)
        }
        _ => has_activations(&step.epilogue),
    };
    launch.constants.push(("ACTIVATIONS", activations.into()));
    Ok(launch)
}

/// Builds every step's launch of `plan` (parameters, packed weights, grid) without a
/// device: what creating an [`crate::gpu::Executor`] would refuse in `plan`, found without
/// a GPU (the fuzz targets run it on every plan).
pub fn check_launches(plan: &Plan) -> Result<()> {
    plan.steps
        .iter()
        .try_for_each(|step| launch(step, plan.batch, plan.kernels()).map(drop))
}

/// Whether any epilogue stage applies a non-identity activation (`ACTIVATIONS`).
fn has_activations(epilogue: &Epilogue) -> bool {
    let stages = [epilogue.pre[0], epilogue.pre[1], epilogue.post];
    stages.iter().any(|stage| stage.act != ActKind::Identity)
}

/// The shapes and epilogue of a step, as kernels see them.
#[derive(Clone, Copy)]
pub(crate) struct StepIo<'a> {
    pub step: &'a Step,
    pub batch: usize,
    pub input: Shape,
    pub output: Shape,
    pub epilogue: EpilogueUniform,
}

impl<'a> StepIo<'a> {
    fn new(step: &'a Step, batch: usize) -> Result<Self> {
        let input = step.inputs.first().map(|t| t.shape).ok_or_else(|| {
            Error::InvalidArgument(format!("plan step `{}` has no input", step.name))
        })?;
        Ok(StepIo {
            step,
            batch,
            input,
            output: step.output.shape,
            epilogue: EpilogueUniform::new(&step.epilogue, step.residual.is_some()),
        })
    }

    /// An error about this step's shapes or attributes.
    pub fn invalid(&self, reason: impl std::fmt::Display) -> Error {
        Error::InvalidArgument(format!("plan step `{}`: {reason}", self.step.name))
    }

    /// Output elements over the whole batch.
    pub fn output_len(&self) -> usize {
        self.output.len() * self.batch
    }
}

/// `value` as a shader `u32`, or a device-limit error naming `what`.
pub(crate) fn to_u32(value: usize, what: &str) -> Result<u32> {
    u32::try_from(value)
        .map_err(|_| Error::DeviceLimit(format!("{what} = {value} does not fit in 32 bits")))
}

/// WGSL `Stage`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct StageUniform {
    act: u32,
    lo: f32,
    hi: f32,
    alpha: f32,
    beta: f32,
    pad: [u32; 3],
}

impl From<ActStage> for StageUniform {
    fn from(stage: ActStage) -> Self {
        let (alpha, beta) = match stage.act {
            ActKind::HardSigmoid { alpha, beta } => (alpha, beta),
            _ => (0.0, 0.0),
        };
        StageUniform {
            act: stage.act.code(),
            lo: stage.lo,
            hi: stage.hi,
            alpha,
            beta,
            pad: [0; 3],
        }
    }
}

/// WGSL `Epilogue`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct EpilogueUniform {
    pre: [StageUniform; 2],
    post: StageUniform,
    has_residual: u32,
    pad: [u32; 3],
}

impl EpilogueUniform {
    pub(crate) fn new(epilogue: &Epilogue, has_residual: bool) -> Self {
        EpilogueUniform {
            pre: epilogue.pre.map(StageUniform::from),
            post: epilogue.post.into(),
            has_residual: has_residual.into(),
            pad: [0; 3],
        }
    }
}

/// WGSL `Window`: sliding-window geometry of conv, depthwise and pooling.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct WindowUniform {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    out_c: u32,
    kernel_h: u32,
    kernel_w: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    groups: u32,
    /// Threads the dispatch runs (output elements unless a kernel says otherwise).
    pub total: u32,
    pad: [u32; 2],
}

/// The kernel-independent fields of a window: kernel size, stride, padding, groups.
pub(crate) struct WindowSpec {
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub groups: usize,
}

impl WindowSpec {
    pub fn of_conv(conv: &Conv2d, groups: usize) -> Self {
        WindowSpec {
            kernel_h: conv.kernel_h,
            kernel_w: conv.kernel_w,
            stride: conv.stride,
            pad_top: conv.padding.top,
            pad_left: conv.padding.left,
            groups,
        }
    }
}

impl WindowUniform {
    pub fn new(io: &StepIo, spec: WindowSpec) -> Result<Self> {
        let u = |v: usize, what: &str| to_u32(v, what);
        let (i, o) = (io.input, io.output);
        Ok(WindowUniform {
            batch: u(io.batch, "batch")?,
            in_h: u(i.h, "input height")?,
            in_w: u(i.w, "input width")?,
            in_c: u(i.c, "input channels")?,
            out_h: u(o.h, "output height")?,
            out_w: u(o.w, "output width")?,
            out_c: u(o.c, "output channels")?,
            kernel_h: u(spec.kernel_h, "kernel height")?,
            kernel_w: u(spec.kernel_w, "kernel width")?,
            stride: u(spec.stride, "stride")?,
            pad_top: u(spec.pad_top, "padding")?,
            pad_left: u(spec.pad_left, "padding")?,
            groups: u(spec.groups.max(1), "groups")?,
            total: u(io.output_len(), "output elements")?,
            pad: [0; 2],
        })
    }
}

/// Params of the window kernels (conv, depthwise, pool): WGSL `Params { ep, win }`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct WindowParams {
    pub ep: EpilogueUniform,
    pub win: WindowUniform,
}

/// `[rows][cols]` → `[cols][rows]`: weights stored input-major, so that threads computing
/// neighbouring outputs read neighbouring values.
pub(crate) fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for (r, row) in values.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

/// The conv bias, or zeros: kernels always add a bias, so a missing one costs nothing.
pub(crate) fn bias_or_zeros(bias: &Option<Vec<f32>>, channels: usize) -> Vec<f32> {
    bias.clone().unwrap_or_else(|| vec![0.0; channels])
}

#[cfg(test)]
layout::layout!(StageUniform {
    act,
    lo,
    hi,
    alpha,
    beta,
    pad
});
#[cfg(test)]
layout::layout!(EpilogueUniform {
    pre,
    post,
    has_residual,
    pad
});
#[cfg(test)]
layout::layout!(WindowUniform {
    batch,
    in_h,
    in_w,
    in_c,
    out_h,
    out_w,
    out_c,
    kernel_h,
    kernel_w,
    stride,
    pad_top,
    pad_left,
    groups,
    total,
    pad
});
#[cfg(test)]
layout::layout!(WindowParams { ep, win });
