//! Fully connected layer. For CPU adapters one thread per output (`shaders/dense.wgsl`),
//! weights repacked from `[out][in]` to `[in][out]` so neighbouring threads (neighbouring
//! outputs) read neighbouring weights; for GPUs one workgroup per 4 outputs splitting the
//! inputs (`shaders/dense_split.wgsl`), weights as they are.

use bytemuck::{Pod, Zeroable};

use super::{bias_or_zeros, to_u32, transpose, EpilogueUniform, Launch, StepIo, Weights};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::Dense;
use crate::plan::KernelFamily;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "dense",
    source: include_str!("../../../shaders/dense.wgsl"),
    entry_points: &["dense"],
};

pub(crate) const SPLIT_SHADER: ShaderFile = ShaderFile {
    name: "dense_split",
    source: include_str!("../../../shaders/dense_split.wgsl"),
    entry_points: &["dense_split"],
};

/// Output features per `dense_split` workgroup (`OUTPUTS`).
pub(super) const OUTPUTS_PER_WORKGROUP: usize = 4;

/// WGSL `Params` of dense_split.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct SplitParams {
    ep: EpilogueUniform,
    in_features: u32,
    out_features: u32,
    out_groups: u32,
    groups: u32,
}

/// WGSL `Params` of dense.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct DenseParams {
    ep: EpilogueUniform,
    in_features: u32,
    out_features: u32,
    total: u32,
    pad: u32,
}

pub(crate) fn launch(io: &StepIo, dense: &Dense, family: KernelFamily) -> Result<Launch> {
    let (inputs, outputs) = (io.input.len(), io.output.len());
    if dense.out_features != outputs || dense.weights.len() != inputs * outputs {
        return Err(io.invalid(format!(
            "dense weights do not map {inputs} to {outputs} features"
        )));
    }
    if dense.bias.as_ref().is_some_and(|b| b.len() != outputs) {
        return Err(io.invalid(format!("bias length differs from {outputs} features")));
    }
    if family == KernelFamily::Gpu {
        return launch_split(io, dense);
    }
    let params = DenseParams {
        ep: io.epilogue,
        in_features: to_u32(inputs, "input features")?,
        out_features: to_u32(outputs, "output features")?,
        total: to_u32(io.output_len(), "output elements")?,
        pad: 0,
    };
    Ok(Launch {
        shader: &SHADER,
        entry: "dense",
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Data(transpose(&dense.weights, outputs, inputs)),
        bias: Some(bias_or_zeros(&dense.bias, outputs)),
        grid: Grid::Threads(io.output_len() as u64),
    })
}

/// The GPU family: a workgroup per image and 4 outputs.
fn launch_split(io: &StepIo, dense: &Dense) -> Result<Launch> {
    let (inputs, outputs) = (io.input.len(), io.output.len());
    let out_groups = outputs.div_ceil(OUTPUTS_PER_WORKGROUP);
    let groups = io.batch * out_groups;
    let params = SplitParams {
        ep: io.epilogue,
        in_features: to_u32(inputs, "input features")?,
        out_features: to_u32(outputs, "output features")?,
        out_groups: to_u32(out_groups, "output groups")?,
        groups: to_u32(groups, "dense workgroups")?,
    };
    Ok(Launch {
        shader: &SPLIT_SHADER,
        entry: "dense_split",
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::Data(dense.weights.clone()),
        bias: Some(bias_or_zeros(&dense.bias, outputs)),
        grid: Grid::Workgroups(groups as u64),
    })
}

#[cfg(test)]
super::layout::layout!(DenseParams {
    ep,
    in_features,
    out_features,
    total,
    pad
});
#[cfg(test)]
super::layout::layout!(SplitParams {
    ep,
    in_features,
    out_features,
    out_groups,
    groups
});
