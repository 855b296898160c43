//! The executor's resource plumbing: plan and precision checks, buffer sizes and
//! creation.

use wgpu::util::DeviceExt;

use super::F32;
use crate::error::{Error, Result};
use crate::gpu::context::{max_storage_binding, GpuContext};
use crate::gpu::pipeline::UNIFORM_WEIGHTS_BYTES;
use crate::plan::{Plan, TensorRef};
use crate::Precision;

/// Rejects plans the executor would run out of bounds or with aliased bindings.
pub(super) fn check_plan(plan: &Plan) -> Result<()> {
    let bad = |reason: String| Err(Error::InvalidArgument(format!("invalid plan: {reason}")));
    let fits = |t: &TensorRef| {
        plan.slots
            .get(t.slot)
            .is_some_and(|s| t.shape.len() * plan.batch * plan.precision.bytes() <= s.bytes)
    };
    for t in [&plan.input, &plan.output] {
        if !fits(t) {
            return bad(format!(
                "tensor #{} does not fit slot {}",
                t.tensor.0, t.slot
            ));
        }
    }
    for step in &plan.steps {
        let reads: Vec<&TensorRef> = step.inputs.iter().chain(&step.residual).collect();
        if let Some(t) = reads.iter().chain([&&step.output]).find(|t| !fits(t)) {
            return bad(format!(
                "step `{}`: tensor #{} does not fit slot {}",
                step.name, t.tensor.0, t.slot
            ));
        }
        if reads.iter().any(|t| t.slot == step.output.slot) {
            return bad(format!(
                "step `{}` reads and writes slot {}",
                step.name, step.output.slot
            ));
        }
    }
    Ok(())
}

/// Bytes copied out of `t`'s slot to read it: its size rounded up to the copy alignment
/// (slots are allocated in whole multiples of it).
pub(super) fn copy_bytes(t: TensorRef, batch: usize, precision: Precision) -> u64 {
    ((t.shape.len() * batch * precision.bytes()) as u64).next_multiple_of(F32)
}

/// Refuses f16 storage on an adapter that cannot run it.
pub(super) fn check_precision(ctx: &GpuContext, precision: Precision) -> Result<()> {
    if precision == Precision::F16 && !ctx.device.features().contains(wgpu::Features::SHADER_F16) {
        return Err(Error::DeviceLimit(format!(
            "{} has no SHADER_F16 feature: use --precision f32",
            ctx.adapter_info.name
        )));
    }
    Ok(())
}

pub(super) fn check_storage_size(limits: &wgpu::Limits, bytes: u64, what: &str) -> Result<()> {
    let max = max_storage_binding(limits);
    if bytes > max {
        return Err(Error::DeviceLimit(format!(
            "{what} needs {bytes} bytes but this device binds at most {max} bytes per storage buffer \
             (try a smaller batch size or input resolution)"
        )));
    }
    Ok(())
}

pub(super) fn storage_buffer(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// Uploads constant data (weights, bias) into a read-only storage buffer, padded to
/// whole 16-byte vectors so a vec4 view of f16 data covers every value.
pub(super) fn constant_buffer(
    device: &wgpu::Device,
    limits: &wgpu::Limits,
    label: &str,
    bytes: &[u8],
) -> Result<wgpu::Buffer> {
    let mut contents = bytes.to_vec();
    contents.resize(bytes.len().max(16).next_multiple_of(16), 0);
    check_storage_size(limits, contents.len() as u64, label)?;
    Ok(
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &contents,
            usage: wgpu::BufferUsages::STORAGE,
        }),
    )
}

/// Small buffers for the bindings a step leaves unused (the shared layout needs them all).
pub(super) struct Unused {
    pub storage: wgpu::Buffer,
    pub uniform: wgpu::Buffer,
}

impl Unused {
    pub fn new(device: &wgpu::Device) -> Self {
        Unused {
            storage: storage_buffer(device, "unused binding", 16),
            uniform: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("unused uniform binding"),
                size: 16,
                usage: wgpu::BufferUsages::UNIFORM,
                mapped_at_creation: false,
            }),
        }
    }
}

/// Uploads f32 weights into a uniform buffer of the size the shaders declare.
pub(super) fn uniform_weights_buffer(
    device: &wgpu::Device,
    label: &str,
    values: &[f32],
) -> Result<wgpu::Buffer> {
    let mut contents = bytemuck::cast_slice::<f32, u8>(values).to_vec();
    if contents.len() as u64 > UNIFORM_WEIGHTS_BYTES {
        return Err(Error::DeviceLimit(format!(
            "{label}: {} bytes exceed the {UNIFORM_WEIGHTS_BYTES}-byte uniform weights buffer",
            contents.len()
        )));
    }
    contents.resize(UNIFORM_WEIGHTS_BYTES as usize, 0);
    Ok(
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &contents,
            usage: wgpu::BufferUsages::UNIFORM,
        }),
    )
}
