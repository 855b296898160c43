//! Textures and images for the embedding tests: uploads, the shared photos, a device
//! opened the way an application opens its own, and an exact identity model.

use image::{DynamicImage, RgbaImage};
use mobilenet_wgpu::graph::{Conv2d, Graph, Op, Padding, Shape};
use mobilenet_wgpu::model::{Model, Normalization};
use mobilenet_wgpu::preprocess;
use mobilenet_wgpu::runtime::Runtime;

/// A 1×1 depthwise convolution with weight 1: its output is its input, exactly.
pub fn identity_model(side: usize, normalization: Normalization) -> Model {
    let mut graph = Graph::new(Shape::new(side, side, 3)).expect("graph");
    let conv = Conv2d {
        out_channels: 3,
        kernel_h: 1,
        kernel_w: 1,
        stride: 1,
        padding: Padding::default(),
        groups: 3,
        weights: vec![1.0; 3],
        bias: None,
    };
    graph
        .add("identity", Op::Conv2d(conv), &[graph.input()])
        .expect("identity");
    Model {
        normalization,
        ..Model::from_graph("identity", graph)
    }
}

/// The shared photos (RGBA), or two synthetic images when `../shared` is absent.
pub fn photos() -> Vec<(String, RgbaImage)> {
    let Some(shared) = super::shared_dir() else {
        let gradient = RgbaImage::from_fn(301, 203, |x, y| {
            image::Rgba([
                (x % 256) as u8,
                (y * 3 % 256) as u8,
                ((x ^ y) % 256) as u8,
                255,
            ])
        });
        let tall = RgbaImage::from_fn(97, 250, |x, y| image::Rgba([(x * y) as u8, 40, 200, 255]));
        return vec![("gradient".into(), gradient), ("tall".into(), tall)];
    };
    let mut names: Vec<_> = std::fs::read_dir(shared.join("images"))
        .expect("images")
        .map(|entry| entry.expect("entry").path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|path| {
            let rgb = preprocess::load_image(path).expect("photo");
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            (
                name.unwrap_or_default(),
                DynamicImage::ImageRgb8(rgb).to_rgba8(),
            )
        })
        .collect()
}

pub fn upload(
    runtime: &Runtime,
    image: &RgbaImage,
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    let ctx = runtime.context();
    let size = wgpu::Extent3d {
        width: image.width(),
        height: image.height(),
        depth_or_array_layers: 1,
    };
    let texture = ctx.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("photo"),
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: usage | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let mut bytes = image.as_raw().clone();
    if matches!(
        format,
        wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
    ) {
        bytes.chunks_exact_mut(4).for_each(|px| px.swap(0, 2));
    }
    ctx.queue.write_texture(
        texture.as_image_copy(),
        &bytes,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(4 * image.width()),
            rows_per_image: Some(image.height()),
        },
        size,
    );
    texture
}

/// The model input the CPU path makes of `image`.
pub fn cpu_input(model: &Model, image: &RgbaImage) -> Vec<f32> {
    let rgb = DynamicImage::ImageRgba8(image.clone()).to_rgb8();
    let shape = model.graph.input_shape();
    preprocess::preprocess(&rgb, shape.w, shape.h, &model.normalization)
}

pub fn assert_within_one_level(gpu: &[f32], cpu: &[f32], what: &str) {
    assert_eq!(gpu.len(), cpu.len(), "{what}");
    let worst = gpu
        .iter()
        .zip(cpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1.0 / 255.0, "{what}: differs by {worst}");
}

/// A device the way an application opens its own.
pub async fn application_device() -> (wgpu::Device, wgpu::Queue, wgpu::AdapterInfo) {
    let desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
    let adapter = wgpu::Instance::new(desc)
        .request_adapter(&wgpu::RequestAdapterOptions::default())
        .await
        .expect("adapter");
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            required_limits: adapter.limits(),
            ..Default::default()
        })
        .await
        .expect("device");
    (device, queue, adapter.get_info())
}

/// Clears `frame` to `colour` in a render pass, then copies `patch` into its top-left corner.
pub fn render(runtime: &Runtime, frame: &wgpu::Texture, colour: [u8; 4], patch: &wgpu::Texture) {
    let ctx = runtime.context();
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    let view = frame.create_view(&Default::default());
    let [r, g, b, a] = colour.map(|c| f64::from(c) / 255.0);
    encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
            view: &view,
            depth_slice: None,
            resolve_target: None,
            ops: wgpu::Operations {
                load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a }),
                store: wgpu::StoreOp::Store,
            },
        })],
        ..Default::default()
    });
    encoder.copy_texture_to_texture(patch.as_image_copy(), frame.as_image_copy(), patch.size());
    ctx.queue.submit([encoder.finish()]);
}
