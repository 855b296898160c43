//! Plumbing shared by every kernel: shader composition, the one bind-group layout all
//! kernels use, pipeline creation with errors captured, and dispatch-size splitting.

use std::collections::HashMap;

use super::GpuContext;
use crate::error::{Error, Result};
use crate::Precision;

/// Shared by every float kernel file: the epilogue, activations and binding declarations.
const COMMON: &str = include_str!("../../shaders/common.wgsl");
/// Shared by every integer kernel file: packing, bindings and TFLite's fixed point.
pub(crate) const INT_COMMON: &str = include_str!("../../shaders/int/common.wgsl");

/// Number of bindings in the shared layout (see `shaders/common.wgsl`).
pub(crate) const BINDINGS: usize = 7;
/// Index of the read-write output binding; bindings 1 to 4 are read-only storage.
const OUTPUT_BINDING: u32 = 5;
/// Index of the uniform-weights binding (binding 0, the params, is the other uniform).
const UNIFORM_WEIGHTS_BINDING: u32 = 6;
/// Size of a uniform-weights buffer, as `shaders/conv.wgsl` declares it (1024 vec4s):
/// within the 16 KiB every wgpu adapter allows a uniform binding.
pub const UNIFORM_WEIGHTS_BYTES: u64 = 16 * 1024;
/// Threads per workgroup of one-thread-per-item kernels (`WG` in common.wgsl).
pub(crate) const WORKGROUP_SIZE: u64 = 64;

/// One WGSL kernel file and the entry points the runtime creates pipelines for.
#[derive(Debug)]
pub(crate) struct ShaderFile {
    pub name: &'static str,
    pub source: &'static str,
    pub entry_points: &'static [&'static str],
}

impl ShaderFile {
    /// The module exactly as compiled: the precision's storage types, common.wgsl, then
    /// the kernel file; for int8 plans (whose files are all `shaders/int/`), int/common.wgsl
    /// then the kernel file.
    pub fn compose(&self, precision: Precision) -> String {
        match precision {
            Precision::Int8 => format!("{INT_COMMON}\n{}", self.source),
            _ => format!("{}{COMMON}\n{}", precision.wgsl_header(), self.source),
        }
    }
}

/// How many threads or workgroups a step launches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grid {
    /// One thread per item, `WORKGROUP_SIZE` threads per workgroup.
    Threads(u64),
    /// Explicit workgroup count (kernels whose workgroups cooperate, e.g. softmax).
    Workgroups(u64),
}

impl Grid {
    /// Workgroup counts (x, y): large 1-D dispatches are split into 2-D so no dimension
    /// exceeds `max_per_dim`; shaders rebuild the linear index from `num_workgroups`.
    pub fn workgroups(self, max_per_dim: u32) -> Result<(u32, u32)> {
        let groups = match self {
            Grid::Threads(n) => n.div_ceil(WORKGROUP_SIZE),
            Grid::Workgroups(n) => n,
        }
        .max(1);
        let max = u64::from(max_per_dim.max(1));
        let x = groups.min(max);
        let y = groups.div_ceil(x);
        if y > max {
            return Err(Error::DeviceLimit(format!(
                "{groups} workgroups exceed {max} x {max} (max_compute_workgroups_per_dimension)"
            )));
        }
        Ok((x as u32, y as u32))
    }
}

/// Values of a kernel's WGSL `override` constants, by name: kernels specialise on them
/// (kernel size, stride) so the shader compiler sees constant loop bounds and unrolls.
pub(crate) type Constants = Vec<(&'static str, u32)>;

/// Identifies one pipeline: shader file, entry point and override constants.
type PipelineKey = (&'static str, &'static str, Constants);

/// Pipelines of one device, created on first use: one per (shader file, entry point,
/// override constants), all sharing one bind-group layout.
pub(crate) struct PipelineCache {
    device: wgpu::Device,
    precision: Precision,
    pub layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    modules: HashMap<&'static str, wgpu::ShaderModule>,
    pipelines: HashMap<PipelineKey, wgpu::ComputePipeline>,
    warm_up: WarmUp,
}

impl PipelineCache {
    pub fn new(ctx: &GpuContext, precision: Precision) -> Self {
        let device = &ctx.device;
        let entries: Vec<wgpu::BindGroupLayoutEntry> =
            (0..BINDINGS as u32).map(layout_entry).collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("kernel bindings"),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("kernel pipeline layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        PipelineCache {
            device: device.clone(),
            precision,
            warm_up: WarmUp::new(ctx, &layout),
            layout,
            pipeline_layout,
            modules: HashMap::new(),
            pipelines: HashMap::new(),
        }
    }

    /// The pipeline for `entry` of `shader` with `constants`, compiled once.
    pub fn get(
        &mut self,
        shader: &'static ShaderFile,
        entry: &'static str,
        constants: &Constants,
    ) -> Result<wgpu::ComputePipeline> {
        let key = (shader.name, entry, constants.clone());
        if let Some(pipeline) = self.pipelines.get(&key) {
            return Ok(pipeline.clone());
        }
        let device = self.device.clone();
        let module = match self.modules.get(shader.name) {
            Some(module) => module.clone(),
            None => {
                let module = captured(&device, &format!("compiling {}.wgsl", shader.name), || {
                    device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(shader.name),
                        source: wgpu::ShaderSource::Wgsl(shader.compose(self.precision).into()),
                    })
                })?;
                self.modules.insert(shader.name, module.clone());
                module
            }
        };
        let values: Vec<(&str, f64)> = constants
            .iter()
            .map(|&(name, value)| (name, f64::from(value)))
            .collect();
        let pipeline = captured(
            &device,
            &format!("pipeline {}::{entry} {constants:?}", shader.name),
            || {
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: Some(&self.pipeline_layout),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &values,
                        ..Default::default()
                    },
                    cache: None,
                });
                self.warm_up.dispatch(&device, &pipeline);
                pipeline
            },
        )?;
        self.pipelines.insert(key, pipeline.clone());
        Ok(pipeline)
    }
}

/// Every kernel's `Params` uniform fits in this many bytes: warm-up dispatches bind an
/// all-zero buffer of this size (tests/shaders.rs checks every module).
pub const MAX_PARAMS_BYTES: u64 = 512;

/// Some drivers compile a pipeline only at its first dispatch: lavapipe JIT-compiles it
/// then, on its queue thread, and that was most of the first inference. So every new
/// pipeline is dispatched right away, one workgroup with all-zero params (every kernel
/// returns when its thread count is 0) on scratch buffers, and compiles while the session
/// packs and uploads weights. (Lavapipe makes the next pipeline creation wait for the
/// compile, so the overlap is with the rest of the setup.) Drivers that compile at
/// creation just run one empty workgroup.
struct WarmUp {
    queue: wgpu::Queue,
    bindings: wgpu::BindGroup,
}

impl WarmUp {
    fn new(ctx: &GpuContext, layout: &wgpu::BindGroupLayout) -> Self {
        let device = &ctx.device;
        let buffer = |label, size, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        // New buffers are zero-filled; one uniform serves as params and uniform weights.
        let uniform_bytes = MAX_PARAMS_BYTES.max(UNIFORM_WEIGHTS_BYTES);
        let zeros = buffer("warm-up params", uniform_bytes, wgpu::BufferUsages::UNIFORM);
        let read = buffer("warm-up input", 16, wgpu::BufferUsages::STORAGE);
        let write = buffer("warm-up output", 16, wgpu::BufferUsages::STORAGE);
        let buffers = [&zeros, &read, &read, &read, &read, &write, &zeros];
        WarmUp {
            queue: ctx.queue.clone(),
            bindings: bind_group(device, layout, "warm-up", buffers),
        }
    }

    fn dispatch(&self, device: &wgpu::Device, pipeline: &wgpu::ComputePipeline) {
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("warm-up"),
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &self.bindings, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        self.queue.submit([encoder.finish()]);
    }
}

fn layout_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    let ty = match binding {
        0 | UNIFORM_WEIGHTS_BINDING => wgpu::BufferBindingType::Uniform,
        OUTPUT_BINDING => wgpu::BufferBindingType::Storage { read_only: false },
        _ => wgpu::BufferBindingType::Storage { read_only: true },
    };
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// A bind group binding `buffers[i]` whole at binding `i`.
pub(crate) fn bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    label: &str,
    buffers: [&wgpu::Buffer; BINDINGS],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, buffer)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: buffer.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// Runs `work` with validation and out-of-memory errors captured, turning them into
/// [`Error::Gpu`] instead of wgpu's default panic.
pub(crate) fn captured<T>(
    device: &wgpu::Device,
    what: &str,
    work: impl FnOnce() -> T,
) -> Result<T> {
    let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let value = work();
    let invalid = pollster::block_on(validation.pop());
    let out_of_memory = pollster::block_on(memory.pop());
    match invalid.or(out_of_memory) {
        Some(error) => Err(Error::Gpu(format!("{what}: {error}"))),
        None => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_grids_stay_one_dimensional() {
        assert_eq!(Grid::Threads(1).workgroups(65535).unwrap(), (1, 1));
        assert_eq!(Grid::Threads(65).workgroups(65535).unwrap(), (2, 1));
        assert_eq!(Grid::Workgroups(300).workgroups(65535).unwrap(), (300, 1));
    }

    #[test]
    fn large_grids_split_into_two_dimensions_covering_every_thread() {
        let threads = 70_000 * WORKGROUP_SIZE + 5;
        let (x, y) = Grid::Threads(threads).workgroups(65535).unwrap();
        assert_eq!((x, y), (65535, 2));
        assert!(u64::from(x) * u64::from(y) * WORKGROUP_SIZE >= threads);
    }

    #[test]
    fn grids_beyond_two_dimensions_are_a_device_limit() {
        let err = Grid::Workgroups(5 * 5 + 1).workgroups(5).unwrap_err();
        assert!(matches!(err, Error::DeviceLimit(_)), "{err}");
    }
}
