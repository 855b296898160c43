//! GPU execution: device setup, one module per kernel, the executor.
//!
//! Every kernel is one WGSL file under `shaders/`, compiled with the storage precision's
//! types and `shaders/common.wgsl` prepended (the int8 kernels under `shaders/int/` get
//! `int/common.wgsl` instead); there is one pipeline per (file, entry point,
//! override constants), and per-step shapes live in uniform buffers, so a whole model
//! needs only a handful of pipelines.

mod codec;
mod context;
mod executor;
mod health;
mod kernels;
mod pipeline;
mod profiler;
mod readback;
mod texture;

pub(crate) use context::max_storage_binding;
pub use context::GpuContext;
pub use executor::{CpuCost, Executor, InFlight};
pub use kernels::check_launches;
pub use pipeline::{MAX_PARAMS_BYTES, UNIFORM_WEIGHTS_BYTES};
pub use profiler::{
    profile, Profile, ProfileOptions, Span, StepFigures, StepProfile, Timeline, TimestampSource,
    Timing,
};
pub(crate) use texture::TexturePreprocessor;

/// A kernel module exactly as the runtime compiles it.
#[derive(Clone, Debug)]
pub struct ComposedShader {
    /// The kernel file's name without extension, e.g. `"pointwise"`.
    pub name: &'static str,
    /// The precision header and `shaders/common.wgsl` followed by the kernel file.
    pub source: String,
    /// Entry points the runtime may create pipelines for.
    pub entry_points: &'static [&'static str],
}

/// Every shader module the runtime can compile at `precision` (for offline validation):
/// the float kernels, or at int8 the integer ones.
pub fn shader_sources(precision: crate::Precision) -> Vec<ComposedShader> {
    let files: &[&pipeline::ShaderFile] = match precision {
        crate::Precision::Int8 => &kernels::int::SHADERS,
        _ => &kernels::SHADERS,
    };
    files
        .iter()
        .map(|file| ComposedShader {
            name: file.name,
            source: file.compose(precision),
            entry_points: file.entry_points,
        })
        .collect()
}
