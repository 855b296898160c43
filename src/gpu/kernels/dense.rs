//! Fully connected layer (`shaders/dense.wgsl`). Weights repacked from `[out][in]` to
//! `[in][out]` so neighbouring threads (neighbouring outputs) read neighbouring weights.

use bytemuck::{Pod, Zeroable};

use super::{bias_or_zeros, to_u32, EpilogueUniform, Launch, StepIo, Weights};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::Dense;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "dense",
    source: include_str!("../../../shaders/dense.wgsl"),
    entry_points: &["dense"],
};

/// WGSL `Params` of dense.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct DenseParams {
    ep: EpilogueUniform,
    in_features: u32,
    out_features: u32,
    total: u32,
    pad: u32,
}

pub(crate) fn launch(io: &StepIo, dense: &Dense) -> Result<Launch> {
    let (inputs, outputs) = (io.input.len(), io.output.len());
    if dense.out_features != outputs || dense.weights.len() != inputs * outputs {
        return Err(io.invalid(format!(
            "dense weights do not map {inputs} to {outputs} features"
        )));
    }
    if dense.bias.as_ref().is_some_and(|b| b.len() != outputs) {
        return Err(io.invalid(format!("bias length differs from {outputs} features")));
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

/// `[rows][cols]` → `[cols][rows]`.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for (r, row) in values.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}
