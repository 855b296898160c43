//! Preprocessing straight from a wgpu texture (`shaders/preprocess.wgsl`): crop, PIL's
//! bilinear resize and normalisation run on the GPU and write the model's input buffer,
//! so an application's frames never travel through host memory.
//!
//! The resampling taps come from the CPU path's own code ([`crate::preprocess`]), computed
//! once per texture size and uploaded; the shader repeats Pillow's fixed-point arithmetic,
//! so both paths produce the same bytes.

mod checks;
mod record;

use std::sync::Mutex;

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use checks::{check_binding, check_texture};

use super::context::GpuContext;
use super::pipeline::{captured, Grid};
use crate::error::Result;
use crate::model::Normalization;
use crate::preprocess::{center_square_region, resampling_taps, Taps};
use crate::Precision;

const SHADER: &str = include_str!("../../shaders/preprocess.wgsl");

/// Row pitch alignment of texture-to-buffer copies.
const ROW_ALIGN: u32 = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;

/// WGSL `Params`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Params {
    crop_left: u32,
    crop_top: u32,
    side: u32,
    source_stride: u32,
    out_w: u32,
    out_h: u32,
    output_offset: u32,
    flags: u32,
    mean: [f32; 4],
    stdev: [f32; 4],
}

#[cfg(test)]
crate::gpu::kernels::layout::layout!(Params {
    crop_left,
    crop_top,
    side,
    source_stride,
    out_w,
    out_h,
    output_offset,
    flags,
    mean,
    stdev,
});

const FLAG_SRGB: u32 = 1;
const FLAG_BGRA: u32 = 2;

/// How the shader reads the texture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// `textureLoad` through a TEXTURE_BINDING.
    Binding,
    /// A copy of the crop into a storage buffer (textures with only COPY_SRC).
    Copy,
}

/// What the prepared resources depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    width: u32,
    height: u32,
    format: wgpu::TextureFormat,
    source: Source,
}

/// Fills image 0 of a model input buffer from textures of any size; `Send + Sync`.
#[derive(Debug)]
pub(crate) struct TexturePreprocessor {
    ctx: GpuContext,
    width: usize,
    height: usize,
    normalization: Normalization,
    /// Storage precision of the model input it writes.
    precision: Precision,
    /// Pipelines (built on first use) and the resources of the last texture size seen.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    pipelines: Option<Pipelines>,
    prepared: Option<(Key, Prepared)>,
}

#[derive(Clone, Debug)]
struct Pipelines {
    from_texture: wgpu::ComputePipeline,
    from_buffer: wgpu::ComputePipeline,
    vertical: wgpu::ComputePipeline,
}

/// Buffers and grids for one texture size and format, ready to record.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    device: wgpu::Device,
    pipelines: Pipelines,
    crop: wgpu::Origin3d,
    side: u32,
    params: wgpu::Buffer,
    taps: wgpu::Buffer,
    rows: wgpu::Buffer,
    /// The crop copied out of a COPY_SRC-only texture, and its row pitch in bytes.
    copy: Option<(wgpu::Buffer, u32)>,
    horizontal_groups: (u32, u32),
    vertical_groups: (u32, u32),
}

impl TexturePreprocessor {
    /// Preprocesses for a model whose input is `width`×`height` RGB normalised by `normalization`.
    pub fn new(
        ctx: &GpuContext,
        width: usize,
        height: usize,
        normalization: Normalization,
        precision: Precision,
    ) -> Self {
        TexturePreprocessor {
            ctx: ctx.clone(),
            width,
            height,
            normalization,
            precision,
            state: Mutex::new(State::default()),
        }
    }

    /// Checks `texture` and returns the resources to record its preprocessing with.
    pub fn prepare(&self, texture: &wgpu::Texture) -> Result<Prepared> {
        let key = check_texture(texture)?;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached, prepared)) = &state.prepared {
            if *cached == key {
                return Ok(prepared.clone());
            }
        }
        let pipelines = match &state.pipelines {
            Some(pipelines) => pipelines.clone(),
            None => state.pipelines.insert(self.pipelines()?).clone(),
        };
        let prepared = self.resources(key, pipelines)?;
        state.prepared = Some((key, prepared.clone()));
        Ok(prepared)
    }

    fn pipelines(&self) -> Result<Pipelines> {
        let device = &self.ctx.device;
        captured(device, "compiling preprocess.wgsl", || {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("preprocess"),
                source: wgpu::ShaderSource::Wgsl(source(self.precision).into()),
            });
            let pipeline = |entry: &str| {
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
            };
            Pipelines {
                from_texture: pipeline("horizontal_from_texture"),
                from_buffer: pipeline("horizontal_from_buffer"),
                vertical: pipeline("vertical"),
            }
        })
    }

    fn resources(&self, key: Key, pipelines: Pipelines) -> Result<Prepared> {
        let device = &self.ctx.device;
        let limits = device.limits();
        let (left, top, side) = center_square_region(key.width as usize, key.height as usize);
        let (out_w, out_h) = (self.width, self.height);
        let max_dim = limits.max_compute_workgroups_per_dimension;
        let horizontal_groups = Grid::Threads((side * out_w) as u64).workgroups(max_dim)?;
        let vertical_groups = Grid::Threads((out_w * out_h) as u64).workgroups(max_dim)?;
        let rows_bytes = (side * out_w * 4) as u64;
        let pitch = (side as u32 * 4).next_multiple_of(ROW_ALIGN);
        let copy_bytes = u64::from(pitch) * side as u64;
        check_binding(&limits, rows_bytes, "the resized rows of the texture")?;
        let copy = match key.source {
            Source::Binding => None,
            Source::Copy => {
                check_binding(&limits, copy_bytes, "the copy of the texture")?;
                Some((storage(device, "texture copy", copy_bytes, true), pitch))
            }
        };
        let params = self.params(key, (left, top, side), pitch / 4);
        Ok(Prepared {
            device: device.clone(),
            pipelines,
            crop: wgpu::Origin3d {
                x: left as u32,
                y: top as u32,
                z: 0,
            },
            side: side as u32,
            params: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("preprocess params"),
                contents: bytemuck::bytes_of(&params),
                usage: wgpu::BufferUsages::UNIFORM,
            }),
            taps: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("preprocess taps"),
                contents: bytemuck::cast_slice(&tap_table(side, out_w, out_h)),
                usage: wgpu::BufferUsages::STORAGE,
            }),
            rows: storage(device, "preprocess rows", rows_bytes.max(4), false),
            copy,
            horizontal_groups,
            vertical_groups,
        })
    }

    fn params(&self, key: Key, (left, top, side): (usize, usize, usize), stride: u32) -> Params {
        let norm = &self.normalization;
        let srgb = key.format.is_srgb() && key.source == Source::Binding;
        let bgra = matches!(
            key.format,
            wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
        ) && key.source == Source::Copy;
        Params {
            crop_left: left as u32,
            crop_top: top as u32,
            side: side as u32,
            source_stride: stride,
            out_w: self.width as u32,
            out_h: self.height as u32,
            output_offset: 0,
            flags: if srgb { FLAG_SRGB } else { 0 } | if bgra { FLAG_BGRA } else { 0 },
            mean: [norm.mean[0], norm.mean[1], norm.mean[2], 0.0],
            stdev: [norm.std[0], norm.std[1], norm.std[2], 1.0],
        }
    }
}

/// Both axes' taps as the shader reads them: (first, count, weights_start) per output
/// position, horizontal then vertical, then all weights.
fn tap_table(side: usize, out_w: usize, out_h: usize) -> Vec<i32> {
    let axes: Vec<Taps> = resampling_taps(side, out_w)
        .into_iter()
        .chain(resampling_taps(side, out_h))
        .collect();
    let mut weights_start = axes.len() * 3;
    let mut table = Vec::with_capacity(weights_start + axes.len() * 4);
    for taps in &axes {
        table.extend([taps.first, taps.weights.len(), weights_start].map(|v| v as i32));
        weights_start += taps.weights.len();
    }
    table.extend(axes.iter().flat_map(|taps| taps.weights.iter().copied()));
    table
}

fn storage(device: &wgpu::Device, label: &str, bytes: u64, copy_dst: bool) -> wgpu::Buffer {
    let extra = if copy_dst {
        wgpu::BufferUsages::COPY_DST
    } else {
        wgpu::BufferUsages::empty()
    };
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes,
        usage: wgpu::BufferUsages::STORAGE | extra,
        mapped_at_creation: false,
    })
}

/// preprocess.wgsl as compiled for a model stored at `precision`.
fn source(precision: Precision) -> String {
    format!("{}{SHADER}", precision.wgsl_header())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shader_validates() {
        use naga::valid::Capabilities;
        let f16 = Capabilities::SHADER_FLOAT16 | Capabilities::SHADER_FLOAT16_IN_FLOAT32;
        for (precision, caps) in [
            (Precision::F32, Capabilities::empty()),
            (Precision::F16, f16),
        ] {
            let module =
                naga::front::wgsl::parse_str(&source(precision)).expect("preprocess.wgsl parses");
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
                .validate(&module)
                .expect("preprocess.wgsl validates");
        }
        let module = naga::front::wgsl::parse_str(&source(Precision::F32)).expect("parses");
        for entry in [
            "horizontal_from_texture",
            "horizontal_from_buffer",
            "vertical",
        ] {
            assert!(
                module.entry_points.iter().any(|e| e.name == entry),
                "{entry}"
            );
        }
    }

    #[test]
    fn params_and_constants_match_the_shader() {
        use crate::gpu::kernels::layout::{assert_uniform_matches, wgsl_constant};
        let module = naga::front::wgsl::parse_str(&source(Precision::F32)).expect("parses");
        assert_uniform_matches::<Params>(&module, "preprocess");
        let constant = |name| wgsl_constant(&module, name).unwrap();
        assert_eq!(
            constant("WG"),
            crate::gpu::pipeline::WORKGROUP_SIZE as usize
        );
        assert_eq!(
            constant("PRECISION_BITS"),
            crate::preprocess::PRECISION_BITS as usize
        );
        assert_eq!(constant("FLAG_SRGB"), FLAG_SRGB as usize);
        assert_eq!(constant("FLAG_BGRA"), FLAG_BGRA as usize);
    }

    #[test]
    fn tap_table_indexes_its_own_weights() {
        let table = tap_table(300, 4, 2);
        let taps = resampling_taps(300, 4);
        assert_eq!(table[0] as usize, taps[0].first);
        assert_eq!(table[1] as usize, taps[0].weights.len());
        let start = table[2] as usize;
        assert_eq!(start, 6 * 3);
        assert_eq!(
            &table[start..start + taps[0].weights.len()],
            &taps[0].weights[..]
        );
        let vertical = &table[4 * 3..4 * 3 + 3];
        let last = resampling_taps(300, 2);
        assert_eq!(vertical[1] as usize, last[0].weights.len());
        let vertical_weights: usize = last.iter().map(|t| t.weights.len()).sum();
        assert_eq!(table.len(), vertical[2] as usize + vertical_weights);
    }
}
