//! The execution plan: the graph after BatchNorm folding and epilogue fusion, as a list of
//! GPU steps (one dispatch each) over a small pool of storage-buffer slots.
//!
//! Passes, in order: `fold` (BatchNorm into the preceding convolution), `fuse`
//! (activations, clamps and residual adds into the producing kernel's epilogue, kernel
//! selection), for the GPU kernel family `squeeze` (a squeeze-excite block's pool and
//! 1×1 convolutions into one step) and `separable` (a depthwise convolution into the 1×1
//! convolution after it), `memory` (liveness analysis and slot assignment). Int8 plans
//! skip these passes: `int` lowers each node to its integer step.

mod fold;
mod fuse;
pub mod gemm;
mod int;
mod memory;
mod readers;
mod separable;
mod squeeze;

use crate::graph::{AvgPool, Conv2d, Dense, Graph, Shape, TensorId, TensorQuant};
use crate::Precision;

pub use int::{FusedAdd, FusedHardSwish, IntKernel};
pub use memory::Slot;
pub use separable::Separable;
pub use squeeze::{SqueezeExcite, MAX_CHANNELS as SE_MAX_CHANNELS, MAX_HIDDEN as SE_MAX_HIDDEN};

/// Where a tensor lives during execution.
///
/// `S` is its slot: an index into [`Plan::slots`] in a plan, `Unplaced` in the steps
/// that the passes draft before memory is assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TensorRef<S = usize> {
    /// The graph tensor (node) this holds.
    pub tensor: TensorId,
    pub slot: S,
    /// Per-image shape; the batch size is [`Plan::batch`].
    pub shape: Shape,
}

/// The slot of a tensor that the memory pass has not placed yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unplaced;

impl TensorRef<Unplaced> {
    /// Where steps read or write tensor `tensor` of per-image shape `shape`.
    fn unplaced(tensor: TensorId, shape: Shape) -> Self {
        let slot = Unplaced;
        TensorRef {
            tensor,
            slot,
            shape,
        }
    }

    /// The reference in slot `slot_of[tensor]`, if the tensor has one.
    fn place(self, slot_of: &[Option<usize>]) -> Option<TensorRef> {
        let TensorRef { tensor, shape, .. } = self;
        let slot = slot_of.get(tensor.0).copied().flatten()?;
        Some(TensorRef {
            tensor,
            slot,
            shape,
        })
    }
}

/// Non-linear part of one epilogue stage; the stage's clamp follows it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum ActKind {
    Identity,
    HardSwish,
    /// `clamp(alpha * x + beta, 0, 1)`.
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    Sigmoid,
}

impl ActKind {
    /// The kind's number in WGSL's `activate` switch (`shaders/common.wgsl`).
    pub fn code(self) -> u32 {
        match self {
            ActKind::Identity => 0,
            ActKind::HardSwish => 1,
            ActKind::HardSigmoid { .. } => 2,
            ActKind::Sigmoid => 3,
        }
    }
}

/// The two shapes of GPU kernels: the same layers, tuned for different hardware.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelFamily {
    /// Shaped for CPU adapters (lavapipe): large register tiles, no workgroup memory.
    #[default]
    CpuAdapter,
    /// Shaped for GPUs: workgroup-tiled, many workgroups, fewer dispatches. The pointwise
    /// GEMM (with a depthwise convolution before it computed inside), depthwise (channel
    /// quads in whole vec4s), the stem, squeeze-excite and the dense layer; the other
    /// layers run their CPU-adapter kernels.
    Gpu,
}

/// What the user asks for: a family, or `Auto` (chosen per adapter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelChoice {
    #[default]
    Auto,
    CpuAdapter,
    Gpu,
}

impl KernelChoice {
    /// The family for an adapter of `device_type`: `Auto` picks the CPU-adapter kernels on
    /// CPU adapters (lavapipe, SwiftShader, WARP) and the GPU kernels on every GPU.
    pub fn resolve(self, device_type: wgpu::DeviceType) -> KernelFamily {
        match (self, device_type) {
            (KernelChoice::CpuAdapter, _) | (KernelChoice::Auto, wgpu::DeviceType::Cpu) => {
                KernelFamily::CpuAdapter
            }
            _ => KernelFamily::Gpu,
        }
    }
}

impl std::str::FromStr for KernelChoice {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "auto" => Ok(KernelChoice::Auto),
            "cpu-adapter" => Ok(KernelChoice::CpuAdapter),
            "gpu" => Ok(KernelChoice::Gpu),
            other => Err(crate::Error::InvalidArgument(format!(
                "unknown kernel family `{other}` (expected auto, cpu-adapter or gpu)"
            ))),
        }
    }
}

impl std::fmt::Display for KernelChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KernelChoice::Auto => "auto",
            KernelChoice::CpuAdapter => "cpu-adapter",
            KernelChoice::Gpu => "gpu",
        })
    }
}

impl std::fmt::Display for KernelFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KernelFamily::CpuAdapter => "cpu-adapter",
            KernelFamily::Gpu => "gpu",
        })
    }
}

/// `clamp(act(x), lo, hi)`; ReLU is `lo = 0`, ReLU6 is `lo = 0, hi = 6`, a quantized
/// tensor's range is `[lo, hi]`. Unbounded sides are ±`f32::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ActStage {
    pub act: ActKind,
    pub lo: f32,
    pub hi: f32,
}

impl ActStage {
    pub const IDENTITY: ActStage = ActStage {
        act: ActKind::Identity,
        lo: -f32::MAX,
        hi: f32::MAX,
    };
}

/// What every kernel applies to each output value `v` before storing it:
/// `v = pre[1](pre[0](v + bias)); if residual { v += residual }; v = post(v)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Epilogue {
    pub pre: [ActStage; 2],
    pub post: ActStage,
}

impl Default for Epilogue {
    fn default() -> Self {
        Epilogue {
            pre: [ActStage::IDENTITY; 2],
            post: ActStage::IDENTITY,
        }
    }
}

/// The GPU kernel a step runs, with its (already folded) weights.
#[derive(Clone, Debug)]
pub enum Kernel {
    /// General grouped convolution (the stem, and any conv that fits no faster kernel).
    Conv(Conv2d),
    /// Depthwise convolution, any kernel size, stride and depth multiplier.
    Depthwise(Conv2d),
    /// 1×1 stride-1 convolution: a GEMM over pixels × channels.
    Pointwise(Conv2d),
    GlobalAvgPool,
    AvgPool(AvgPool),
    Dense(Dense),
    Softmax,
    /// Copies `inputs[0]` through the epilogue: standalone activations and (with a
    /// residual) standalone adds.
    Elementwise,
    /// A squeeze-excite block's pool and two 1×1 convolutions, producing its C scales.
    SqueezeExcite(Box<SqueezeExcite>),
    /// A depthwise convolution computed inside the 1×1 convolution that reads it.
    Separable(Box<Separable>),
    /// `inputs[0] * inputs[1]` with `inputs[1]` of shape 1×1×C (squeeze-excite).
    MulChannel,
    /// Writes `inputs[0]` into channels `[offset, offset + c)` of the output.
    ConcatPart {
        offset: usize,
    },
    /// An int8 plan's step: TFLite's integer arithmetic on packed 8-bit values.
    Int(Box<IntKernel>),
}

impl Kernel {
    /// Short name used in tables and for shader selection.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Conv(_) => "conv",
            Kernel::Depthwise(_) => "depthwise",
            Kernel::Pointwise(_) => "pointwise",
            Kernel::GlobalAvgPool => "global_avg_pool",
            Kernel::AvgPool(_) => "avg_pool",
            Kernel::Dense(_) => "dense",
            Kernel::Softmax => "softmax",
            Kernel::Elementwise => "elementwise",
            Kernel::SqueezeExcite(_) => "squeeze_excite",
            Kernel::Separable(_) => "separable",
            Kernel::MulChannel => "mul_channel",
            Kernel::ConcatPart { .. } => "concat",
            Kernel::Int(int) => int.step.name(),
        }
    }
}

/// One GPU dispatch; `S` is where its tensors live (see [`TensorRef`]).
#[derive(Clone, Debug)]
pub struct Step<S = usize> {
    /// Name of the graph node whose output this step writes.
    pub name: String,
    /// Graph nodes folded or fused into this step, producer first.
    pub fused: Vec<TensorId>,
    pub kernel: Kernel,
    pub inputs: Vec<TensorRef<S>>,
    pub residual: Option<TensorRef<S>>,
    pub output: TensorRef<S>,
    pub epilogue: Epilogue,
}

impl Step<Unplaced> {
    /// The step with each tensor in its slot `slot_of[tensor]`; `None` if one has none.
    fn place(self, slot_of: &[Option<usize>]) -> Option<Step> {
        let place = |t: TensorRef<Unplaced>| t.place(slot_of);
        let residual = match self.residual {
            Some(residual) => Some(place(residual)?),
            None => None,
        };
        Some(Step {
            inputs: self.inputs.into_iter().map(place).collect::<Option<_>>()?,
            residual,
            output: place(self.output)?,
            name: self.name,
            fused: self.fused,
            kernel: self.kernel,
            epilogue: self.epilogue,
        })
    }
}

/// A graph compiled for one batch size.
#[derive(Clone, Debug)]
pub struct Plan {
    pub batch: usize,
    /// How activations and weights are stored; slot sizes follow it.
    pub precision: Precision,
    /// Which shape of kernels runs the steps ([`Plan::build_for`]; chosen per adapter by
    /// [`Runtime::plan`](crate::runtime::Runtime::plan)). Read-only: the steps were
    /// planned for it.
    kernels: KernelFamily,
    pub steps: Vec<Step>,
    pub slots: Vec<Slot>,
    pub input: TensorRef,
    pub output: TensorRef,
    /// Int8 plans: the integer grid of every tensor, by `TensorId` (empty for float plans).
    grids: Vec<Option<TensorQuant>>,
}

impl Plan {
    /// Folds, fuses and assigns memory for `graph` at batch size `batch`, in f32.
    pub fn build(graph: &Graph, batch: usize) -> crate::Result<Plan> {
        Plan::build_with_precision(graph, batch, Precision::F32)
    }

    /// [`build`](Self::build) with activations and weights stored at `precision`.
    pub fn build_with_precision(
        graph: &Graph,
        batch: usize,
        precision: Precision,
    ) -> crate::Result<Plan> {
        Plan::build_for(graph, batch, precision, KernelFamily::default())
    }

    /// [`build_with_precision`](Self::build_with_precision) for the kernels of `family`:
    /// with the GPU family, squeeze-excite blocks become one step (one workgroup per
    /// image, which a CPU adapter runs on one core: there the three steps are faster), and
    /// so does a depthwise convolution with the 1×1 convolution reading it (whose GEMM
    /// recomputes each depthwise value once per 32 output channels: cheap on a GPU, a
    /// cost on a CPU adapter's few cores).
    /// At [`Precision::Int8`] the graph's integer steps are planned instead (a clear error
    /// for graphs without an integer form).
    pub fn build_for(
        graph: &Graph,
        batch: usize,
        precision: Precision,
        family: KernelFamily,
    ) -> crate::Result<Plan> {
        if batch == 0 {
            return Err(crate::Error::InvalidArgument(
                "batch size must be at least 1".into(),
            ));
        }
        if precision == Precision::Int8 {
            return int::build(graph, batch, family);
        }
        let folded = fold::fold_batch_norms(graph)?;
        let mut steps = fuse::select_kernels(&folded)?;
        let output = fuse::storage(&folded.graph, folded.graph.output());
        if family == KernelFamily::Gpu {
            steps = squeeze::merge(steps, output);
            steps = separable::merge(steps, output, batch);
        }
        let mut plan = memory::assign(&folded, steps, output, batch, precision)?;
        plan.kernels = family;
        Ok(plan)
    }

    /// The integer grid tensor `id` is stored on, for int8 plans.
    pub fn grid(&self, id: TensorId) -> Option<TensorQuant> {
        self.grids.get(id.0).copied().flatten()
    }

    /// The kernel family the plan was built for.
    pub fn kernels(&self) -> KernelFamily {
        self.kernels
    }

    pub fn dispatch_count(&self) -> usize {
        self.steps.len()
    }

    pub fn buffer_count(&self) -> usize {
        self.slots.len()
    }

    /// Bytes of all activation slots together, at the plan's precision.
    pub fn peak_activation_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.bytes).sum()
    }
}
