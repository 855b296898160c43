//! One step made ready to run: its pipeline, weight and bias buffers, bind group and
//! grid, built once per plan.

use wgpu::util::DeviceExt;

use super::codec;
use super::resources::{constant_buffer, uniform_weights_buffer, Unused};
use crate::error::Result;
use crate::gpu::codec::Codec;
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::{self, Launch, Weights};
use crate::gpu::pipeline::{bind_group, PipelineCache};
use crate::plan::{Plan, Step, TensorRef};

/// One recorded step: pipeline, bindings and grid, fixed for the plan's lifetime.
#[derive(Debug)]
pub(super) struct Dispatch {
    pub(super) pipeline: wgpu::ComputePipeline,
    pub(super) bind_group: wgpu::BindGroup,
    pub(super) workgroups: (u32, u32),
    pub(super) output: TensorRef,
    /// How the host reads the step's output (per-layer probes).
    pub(super) codec: Codec,
}

/// Builds the pipeline, uploads and bind group of one step.
pub(super) fn prepare(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    slots: &[wgpu::Buffer],
    unused: &Unused,
    step: &Step,
    plan: &Plan,
) -> Result<Dispatch> {
    let device = &ctx.device;
    let limits = device.limits();
    let launch: Launch = kernels::launch(step, plan.batch, plan.kernels())?;
    let pipeline = cache.get(launch.shader, launch.entry, &launch.constants)?;
    let workgroups = launch
        .grid
        .workgroups(limits.max_compute_workgroups_per_dimension)?;
    let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(&step.name),
        contents: &launch.params,
        usage: wgpu::BufferUsages::UNIFORM,
    });
    // Storage weights (binding 2) and uniform weights (binding 6): a step uses at most one.
    let label = format!("{} weights", step.name);
    let (weights, uniform_weights) = match &launch.weights {
        Weights::None => (unused.storage.clone(), unused.uniform.clone()),
        Weights::Data(values) => {
            let stored = plan.precision.encode(values);
            let buffer = constant_buffer(device, &limits, &label, &stored)?;
            (buffer, unused.uniform.clone())
        }
        Weights::DataF32(values) => {
            let buffer = constant_buffer(device, &limits, &label, bytemuck::cast_slice(values))?;
            (buffer, unused.uniform.clone())
        }
        Weights::StepInput(i) => (slots[step.inputs[*i].slot].clone(), unused.uniform.clone()),
        Weights::Words(words) => {
            let buffer = constant_buffer(device, &limits, &label, bytemuck::cast_slice(words))?;
            (buffer, unused.uniform.clone())
        }
        Weights::Uniform(values) => {
            // Uniform buffers hold f32, but the values are those the plan's precision
            // stores, so f16 rounds the stem's weights like every other kernel's.
            let stored = plan.precision.encode(values);
            let rounded = plan.precision.decode(&stored, values.len());
            let buffer = uniform_weights_buffer(device, &label, &rounded)?;
            (unused.storage.clone(), buffer)
        }
    };
    let bias = match &launch.bias {
        Some(values) => {
            let label = format!("{} bias", step.name);
            constant_buffer(device, &limits, &label, bytemuck::cast_slice(values))?
        }
        None => unused.storage.clone(),
    };
    let residual = step.residual.map_or(&unused.storage, |r| &slots[r.slot]);
    let buffers = [
        &params,
        &slots[step.inputs[0].slot],
        &weights,
        &bias,
        residual,
        &slots[step.output.slot],
        &uniform_weights,
    ];
    let bind_group = bind_group(device, &cache.layout, &step.name, buffers);
    Ok(Dispatch {
        pipeline,
        bind_group,
        workgroups,
        output: step.output,
        codec: codec(plan, step.output),
    })
}
