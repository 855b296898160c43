//! What each step is, independent of timing: kernel file, entry point, workgroup size and
//! grid (exactly as the executor launches it), MACs and compulsory memory traffic.

use std::collections::{HashMap, HashSet};

use super::super::kernels::{self, Launch, Weights, SHADERS};
use crate::error::{Error, Result};
use crate::graph::{Graph, TensorId};
use crate::plan::{Kernel, Plan, Step, TensorRef};
use crate::Precision;

/// Bytes of one f32 (bias is always f32).
const F32: u64 = 4;

/// The static figures of one plan step.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepFigures {
    /// The step's name (its output node's name).
    pub name: String,
    /// Kernel type, [`Kernel::name`], e.g. `"pointwise"`.
    pub kernel: &'static str,
    /// WGSL file under `shaders/`, e.g. `"pointwise.wgsl"`.
    pub shader: String,
    /// Entry point in that file.
    pub entry: &'static str,
    /// `@workgroup_size` of the entry point (zeros when set by an override constant).
    pub workgroup_size: [u32; 3],
    /// Workgroups dispatched (x, y).
    pub workgroups: [u32; 2],
    /// Per-image output shape, `HxWxC`.
    pub output_shape: String,
    /// Multiply-accumulates per image of the graph nodes fused into this step.
    pub macs: usize,
    /// Bytes the step must read over the whole batch: inputs, residual, weights, bias.
    pub bytes_read: u64,
    /// Bytes the step writes over the whole batch.
    pub bytes_written: u64,
}

/// The figures of every step of `plan`, in order. Each graph node's MACs are counted at
/// the first step that lists it, so the steps' MACs add up to the graph's total.
pub(super) fn step_figures(
    limits: &wgpu::Limits,
    graph: &Graph,
    plan: &Plan,
) -> Result<Vec<StepFigures>> {
    let workgroup_sizes = workgroup_sizes()?;
    let mut counted: HashSet<TensorId> = HashSet::new();
    plan.steps
        .iter()
        .map(|step| {
            let launch = kernels::launch(step, plan.batch, plan.kernels())?;
            let (x, y) = launch
                .grid
                .workgroups(limits.max_compute_workgroups_per_dimension)?;
            let size = workgroup_sizes.get(&(launch.shader.name, launch.entry));
            Ok(StepFigures {
                name: step.name.clone(),
                kernel: step.kernel.name(),
                shader: format!("{}.wgsl", launch.shader.name),
                entry: launch.entry,
                workgroup_size: size.copied().unwrap_or([0; 3]),
                workgroups: [x, y],
                output_shape: step.output.shape.to_string(),
                macs: fused_macs(graph, step, &mut counted)?,
                bytes_read: bytes_read(step, &launch, plan),
                bytes_written: bytes_written(step, plan),
            })
        })
        .collect()
}

/// `@workgroup_size` of every (file, entry point) the runtime compiles, read from the
/// composed WGSL so the figures follow the shaders without a second source of truth.
fn workgroup_sizes() -> Result<HashMap<(&'static str, &'static str), [u32; 3]>> {
    let mut sizes = HashMap::new();
    let float = SHADERS.iter().map(|file| (file, Precision::F32));
    let integer = kernels::int::SHADERS
        .iter()
        .map(|file| (file, Precision::Int8));
    for (file, precision) in float.chain(integer) {
        let module = naga::front::wgsl::parse_str(&file.compose(precision))
            .map_err(|e| Error::Gpu(format!("parsing {}.wgsl: {e}", file.name)))?;
        for entry in file.entry_points {
            if let Some(point) = module.entry_points.iter().find(|p| p.name == *entry) {
                sizes.insert((file.name, *entry), point.workgroup_size);
            }
        }
    }
    Ok(sizes)
}

/// MACs per image of the nodes fused into `step` that no earlier step counted.
fn fused_macs(graph: &Graph, step: &Step, counted: &mut HashSet<TensorId>) -> Result<usize> {
    let mut macs = 0;
    for &id in &step.fused {
        if id.0 >= graph.nodes().len() {
            return Err(Error::InvalidArgument(format!(
                "plan step `{}` names tensor #{} of a graph with {} nodes: the plan was built from another graph",
                step.name,
                id.0,
                graph.nodes().len()
            )));
        }
        if counted.insert(id) {
            macs += graph.layer_stats(id.0).macs;
        }
    }
    Ok(macs)
}

fn tensor_bytes(t: &TensorRef, plan: &Plan) -> u64 {
    (t.shape.len() * plan.batch * plan.precision.bytes()) as u64
}

/// Compulsory reads: every input and the residual once per image, weights and bias once.
fn bytes_read(step: &Step, launch: &Launch, plan: &Plan) -> u64 {
    let activations: u64 = step
        .inputs
        .iter()
        .chain(&step.residual)
        .map(|t| tensor_bytes(t, plan))
        .sum();
    let weights = match &launch.weights {
        Weights::Data(values) => (values.len() * plan.precision.bytes()) as u64,
        Weights::DataF32(values) | Weights::Uniform(values) => values.len() as u64 * F32,
        Weights::Words(words) => words.len() as u64 * 4,
        // Another input (already counted above) or nothing.
        Weights::None | Weights::StepInput(_) => 0,
    };
    let bias = launch.bias.as_ref().map_or(0, |b| b.len() as u64 * F32);
    activations + weights + bias
}

/// A concat part writes only its own channels; every other kernel its whole output.
fn bytes_written(step: &Step, plan: &Plan) -> u64 {
    match (&step.kernel, step.inputs.first()) {
        (Kernel::ConcatPart { .. }, Some(part)) => tensor_bytes(part, plan),
        _ => tensor_bytes(&step.output, plan),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{build, Arch, ArchConfig};

    fn figures_of(
        arch: Arch,
        resolution: Option<usize>,
        batch: usize,
    ) -> (Graph, Vec<StepFigures>) {
        let mut config = ArchConfig::new(arch);
        config.resolution = resolution;
        let graph = build(&config, 0).unwrap();
        let plan = Plan::build(&graph, batch).unwrap();
        let figures = step_figures(&wgpu::Limits::default(), &graph, &plan).unwrap();
        (graph, figures)
    }

    #[test]
    fn step_macs_add_up_to_the_graph_total() {
        for arch in Arch::ALL {
            let (graph, figures) = figures_of(arch, None, 1);
            let macs: usize = figures.iter().map(|f| f.macs).sum();
            assert_eq!(macs, graph.totals().macs, "{arch:?}");
        }
    }

    #[test]
    fn pointwise_traffic_is_input_output_weights_and_bias() {
        let batch = 2;
        let (_, figures) = figures_of(Arch::V1, Some(96), batch);
        let step = figures.iter().find(|f| f.kernel == "pointwise").unwrap();
        assert_eq!(step.shader, "pointwise.wgsl");
        assert_eq!(step.entry, "pointwise");
        assert!(step.workgroup_size.iter().all(|&n| n > 0));
        // V1's first pointwise layer: 48x48x32 -> 48x48x64 at 96x96 input.
        assert_eq!(step.output_shape, "48x48x64");
        let activations = (48 * 48 * (32 + 64) * batch) as u64 * F32;
        let constants = (32 * 64 + 64) as u64 * F32;
        assert!(
            step.bytes_read + step.bytes_written >= activations + constants,
            "{step:?}"
        );
        assert_eq!(step.bytes_written, (48 * 48 * 64 * batch) as u64 * F32);
    }
}
