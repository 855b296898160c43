//! What the texture path refuses, with what to change: texture formats and usages the
//! shader cannot read, and buffers larger than the device binds.

use super::{Key, Source};
use crate::error::{Error, Result};
use crate::gpu::context::max_storage_binding;

/// Rejects textures the shader cannot read, with what to change.
pub(super) fn check_texture(texture: &wgpu::Texture) -> Result<Key> {
    use wgpu::TextureFormat as F;
    let format = texture.format();
    if !matches!(
        format,
        F::Rgba8Unorm | F::Rgba8UnormSrgb | F::Bgra8Unorm | F::Bgra8UnormSrgb
    ) {
        return Err(Error::InvalidArgument(format!(
            "texture format {format:?} is not supported: use Rgba8Unorm, Bgra8Unorm or their sRGB variants"
        )));
    }
    if texture.dimension() != wgpu::TextureDimension::D2 || texture.sample_count() != 1 {
        return Err(Error::InvalidArgument(
            "the texture must be a single-sampled 2D texture".into(),
        ));
    }
    let usage = texture.usage();
    let source = if usage.contains(wgpu::TextureUsages::TEXTURE_BINDING) {
        Source::Binding
    } else if usage.contains(wgpu::TextureUsages::COPY_SRC) {
        Source::Copy
    } else {
        return Err(Error::InvalidArgument(format!(
            "the texture's usage {usage:?} allows no reading: create it with TEXTURE_BINDING (or COPY_SRC)"
        )));
    };
    Ok(Key {
        width: texture.width(),
        height: texture.height(),
        format,
        source,
    })
}

/// Refuses a storage binding of `bytes` over the device's limits.
pub(super) fn check_binding(limits: &wgpu::Limits, bytes: u64, what: &str) -> Result<()> {
    let max = max_storage_binding(limits);
    if bytes > max {
        return Err(Error::DeviceLimit(format!(
            "{what} needs {bytes} bytes, more than the {max} bytes a storage buffer may bind \
             (use a smaller texture)"
        )));
    }
    Ok(())
}
