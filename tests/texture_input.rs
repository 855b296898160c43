//! The embedding API's texture input: GPU preprocessing of wgpu textures against the CPU
//! path (every readable format and usage, f16 inputs, the default model's top-1), clear
//! errors for unusable textures, and a frame rendered on the application's own device.

mod common;

use std::path::Path;

use common::small_model;
use common::textures::{
    application_device, assert_within_one_level, cpu_input, identity_model, photos, render, upload,
};
use image::{DynamicImage, RgbaImage};
use mobilenet_wgpu::model::{Model, Normalization};
use mobilenet_wgpu::models::Arch;
use mobilenet_wgpu::runtime::Runtime;
use mobilenet_wgpu::{Error, Precision};

const FORMATS: [wgpu::TextureFormat; 4] = [
    wgpu::TextureFormat::Rgba8Unorm,
    wgpu::TextureFormat::Bgra8Unorm,
    wgpu::TextureFormat::Rgba8UnormSrgb,
    wgpu::TextureFormat::Bgra8UnormSrgb,
];

/// Both ways the preprocessing can read a texture.
const READABLE: [wgpu::TextureUsages; 2] = [
    wgpu::TextureUsages::TEXTURE_BINDING,
    wgpu::TextureUsages::COPY_SRC,
];

/// The default model from `../shared/models`, when present.
fn default_model(shared: &Path) -> Model {
    let path = shared.join("models/mobilenet_v2_1.0_224_quant.tflite");
    Model::load(&path.display().to_string()).expect("default model")
}

fn quant_normalization() -> Normalization {
    Normalization::from_quantization(0.0078125, 128.0)
}

#[test]
fn texture_preprocessing_equals_cpu_preprocessing() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let photos = photos();
    for side in [224, 96] {
        let model = identity_model(side, quant_normalization());
        let session = runtime.session(&model, 1).expect("session");
        // The second size on the first photo only: lavapipe is slow on large photos.
        let count = if side == 224 { photos.len() } else { 1 };
        for (i, (name, photo)) in photos.iter().take(count).enumerate() {
            let cpu = cpu_input(&model, photo);
            // Every format and read path on the first photo, the common case on all.
            let formats = if i == 0 { &FORMATS[..] } else { &FORMATS[..1] };
            for &format in formats {
                for usage in READABLE {
                    let texture = upload(runtime, photo, format, usage);
                    let output = session.run_texture(&texture).expect("run_texture");
                    let what = format!("{name} at {side} via {format:?} {usage:?}");
                    assert_within_one_level(&output.data, &cpu, &what);
                }
            }
        }
    }
}

#[test]
fn texture_preprocessing_writes_f16_inputs() {
    let Some(runtime) = common::f16_runtime() else {
        return;
    };
    let model = identity_model(224, quant_normalization());
    let session = runtime
        .session_with_precision(&model, 1, Precision::F16)
        .expect("session");
    let (name, photo) = &photos()[0];
    let texture = upload(runtime, photo, FORMATS[0], READABLE[0]);
    let output = session.run_texture(&texture).expect("run_texture");
    let cpu = cpu_input(&model, photo);
    assert_within_one_level(&output.data, &cpu, &format!("{name} stored as f16"));
}

#[test]
fn texture_top1_equals_cpu_top1_with_the_default_model() {
    let (Some(runtime), Some(shared)) = (common::runtime(), common::shared_dir()) else {
        return;
    };
    let model = default_model(&shared);
    let session = runtime.session(&model, 1).expect("session");
    for (name, photo) in photos() {
        let cpu = session
            .classify(&[DynamicImage::ImageRgba8(photo.clone())], 1)
            .expect("classify");
        let texture = upload(
            runtime,
            &photo,
            wgpu::TextureFormat::Rgba8UnormSrgb,
            wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let gpu = session
            .classify_texture(&texture, 1)
            .expect("classify_texture");
        assert_eq!(gpu[0].index, cpu[0][0].index, "{name}");
        assert!(
            (gpu[0].probability - cpu[0][0].probability).abs() < 1e-3,
            "{name}"
        );
    }
}

#[test]
fn unusable_textures_are_clear_errors() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let session = runtime
        .session(&identity_model(8, Normalization::symmetric()), 1)
        .expect("session");
    let image = RgbaImage::new(8, 8);
    let float = upload(
        runtime,
        &RgbaImage::new(4, 4),
        wgpu::TextureFormat::Rgba8Snorm,
        wgpu::TextureUsages::TEXTURE_BINDING,
    );
    let unreadable = upload(
        runtime,
        &image,
        wgpu::TextureFormat::Rgba8Unorm,
        wgpu::TextureUsages::empty(),
    );
    for (texture, expected) in [(float, "Rgba8Unorm"), (unreadable, "TEXTURE_BINDING")] {
        match session.run_texture(&texture) {
            Err(Error::InvalidArgument(message)) => {
                assert!(message.contains(expected), "{message}")
            }
            other => panic!("expected an invalid-argument error, got {other:?}"),
        }
    }
}

/// `images` distinct deterministic inputs for `model`.
#[test]
fn classifies_a_frame_rendered_on_the_applications_device() {
    if common::runtime().is_none() {
        return;
    }
    let (device, queue, info) = pollster::block_on(application_device());
    let runtime = Runtime::from_device(device.clone(), queue, info);
    let (_, photo) = photos().swap_remove(0);
    let patch = image::imageops::crop_imm(&photo, 0, 0, 160.min(photo.width()), 240).to_image();
    let colour = [51, 102, 204, 255];
    let mut expected = RgbaImage::from_pixel(320, 240, image::Rgba(colour));
    image::imageops::replace(&mut expected, &patch, 0, 0);

    let frame = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("frame"),
        size: wgpu::Extent3d {
            width: 320,
            height: 240,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT
            | wgpu::TextureUsages::TEXTURE_BINDING
            | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let source = upload(
        &runtime,
        &patch,
        wgpu::TextureFormat::Rgba8Unorm,
        wgpu::TextureUsages::COPY_SRC,
    );
    render(&runtime, &frame, colour, &source);

    let identity = identity_model(96, Normalization::symmetric());
    let session = runtime.session(&identity, 1).expect("session");
    let output = session.run_texture(&frame).expect("run_texture");
    assert_within_one_level(&output.data, &cpu_input(&identity, &expected), "frame");

    let session = runtime.session(&small_model(Arch::V2), 1).expect("session");
    let gpu = session
        .classify_texture(&frame, 3)
        .expect("classify_texture");
    let cpu = session
        .classify(&[DynamicImage::ImageRgba8(expected)], 3)
        .expect("classify");
    assert_eq!(gpu[0].index, cpu[0][0].index);
}
