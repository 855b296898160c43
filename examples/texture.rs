//! Classifies a photo on the GPU path: the photo is uploaded to a texture, as an
//! application's rendered frame would already be, and cropped, resized and normalised by
//! a compute shader that writes the model's input directly.
//!
//! `cargo run --release --example texture -- photo.jpg`

use std::process::ExitCode;

use image::DynamicImage;
use mobilenet_wgpu::{hub, model::Model, preprocess, runtime::Runtime, Error};

fn main() -> ExitCode {
    match classify() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn classify() -> Result<(), Error> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or_else(|| Error::InvalidArgument("usage: texture <image>".into()))?;
    let photo = DynamicImage::from(preprocess::load_image(path.as_ref())?).to_rgba8();
    let runtime = Runtime::new()?;
    let texture = upload(&runtime, &photo);
    let session = runtime.session(&Model::load(hub::DEFAULT_MODEL)?, 1)?;
    for class in session.classify_texture(&texture, 5)? {
        println!("{:5.1}%  {}", class.probability * 100.0, class.label);
    }
    Ok(())
}

/// An sRGB texture holding `photo`, readable by shaders.
fn upload(runtime: &Runtime, photo: &image::RgbaImage) -> wgpu::Texture {
    let (device, queue) = (&runtime.context().device, &runtime.context().queue);
    let size = wgpu::Extent3d {
        width: photo.width(),
        height: photo.height(),
        depth_or_array_layers: 1,
    };
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("photo"),
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8UnormSrgb,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let layout = wgpu::TexelCopyBufferLayout {
        offset: 0,
        bytes_per_row: Some(4 * photo.width()),
        rows_per_image: Some(photo.height()),
    };
    queue.write_texture(texture.as_image_copy(), photo.as_raw(), layout, size);
    texture
}
