//! The embedding API: GPU texture preprocessing against the CPU path, a device shared with
//! the application, threads, transparent batch splitting and the async run.

mod common;

use std::path::Path;
use std::time::Duration;

use common::textures::{
    application_device, assert_within_one_level, cpu_input, identity_model, photos, render, upload,
};
use image::{DynamicImage, RgbaImage};
use mobilenet_wgpu::model::{Model, Normalization};
use mobilenet_wgpu::models::{Arch, ArchConfig};
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::runtime::{Output, Queued, Runtime, Session};
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

fn small_model(arch: Arch) -> Model {
    let config = ArchConfig {
        resolution: Some(96),
        ..ArchConfig::new(arch)
    };
    Model::from_arch(&config, 7).expect("builder model")
}

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
fn inputs(model: &Model, images: usize) -> Vec<f32> {
    let len = model.graph.input_shape().len() * images;
    (0..len)
        .map(|i| ((i * 7919 % 1013) as f32 / 506.5) - 1.0)
        .collect()
}

fn one_by_one(session: &Session, input: &[f32]) -> Vec<f32> {
    let image_len = session.model().graph.input_shape().len();
    input
        .chunks(image_len)
        .flat_map(|image| session.run(image).expect("run").data)
        .collect()
}

/// The largest activation slot of one image: a binding cap of `k` times it lets a session
/// submit `k` images at a time.
fn slot_bytes_per_image(model: &Model) -> u64 {
    let plan = Plan::build(&model.graph, 1).expect("plan");
    plan.slots
        .iter()
        .map(|s| s.bytes as u64)
        .max()
        .expect("slots")
}

#[test]
fn batches_beyond_the_binding_limit_are_split_transparently() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V2);
    let per_image = slot_bytes_per_image(&model);
    let limited = runtime.clone().with_max_binding_bytes(3 * per_image);
    let session = limited.session(&model, 8).expect("session");
    assert_eq!(session.images_per_submission(), 3);
    let input = inputs(&model, 8);
    let output = session.run(&input).expect("split run");
    assert_eq!(output.batch, 8);
    let single = runtime.session(&model, 1).expect("session");
    let expected = one_by_one(&single, &input);
    let worst = output
        .data
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "split batch differs by {worst}");
    let async_output = pollster::block_on(session.run_async(&input)).expect("async");
    assert_eq!(async_output, output);

    let too_small = runtime.clone().with_max_binding_bytes(per_image - 4);
    let err = too_small
        .session(&model, 2)
        .expect_err("one image cannot fit");
    assert!(matches!(err, Error::DeviceLimit(_)), "{err}");
}

#[test]
fn run_async_equals_run() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V3Small);
    let session = runtime.session(&model, 2).expect("session");
    let input = inputs(&model, 2);
    let blocking = session.run(&input).expect("run");
    let future = session.run_async(&input);
    assert_send(&future);
    assert_eq!(pollster::block_on(future).expect("run_async"), blocking);
    let wrong = session.run_async(&input[1..]);
    assert!(matches!(
        pollster::block_on(wrong),
        Err(Error::InvalidArgument(_))
    ));
}

/// Several inferences queued before any is read each get their own input's output, also
/// when each runs as several submissions, and also read back out of order.
#[test]
fn inferences_in_flight_keep_their_own_inputs() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V3Small);
    let per_image = slot_bytes_per_image(&model);
    let split = runtime.clone().with_max_binding_bytes(2 * per_image);
    let session = split.session(&model, 3).expect("session");
    assert_eq!(session.images_per_submission(), 2);
    let batches: Vec<Vec<f32>> = (1..=4)
        .map(|k| {
            inputs(&model, 3)
                .iter()
                .map(|v| v * k as f32 / 4.0)
                .collect()
        })
        .collect();
    let expected: Vec<Output> = batches
        .iter()
        .map(|b| session.run(b).expect("run"))
        .collect();
    let queued: Vec<Queued> = batches
        .iter()
        .map(|b| session.queue(b).expect("queue"))
        .collect();
    assert!(queued.iter().all(|q| q.cpu_cost().encode > Duration::ZERO));
    let mut queued: Vec<Option<Queued>> = queued.into_iter().map(Some).collect();
    for i in [2, 0, 3, 1] {
        let output = queued[i].take().expect("queued once").wait().expect("wait");
        assert_eq!(output, expected[i], "inference {i}");
    }
    assert_ne!(expected[0], expected[1]);
}

#[test]
fn a_session_over_the_memory_budget_fails_before_allocating() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V2);
    let tight = runtime.clone().with_memory_budget(100_000);
    let err = tight.session(&model, 4).expect_err("over budget");
    assert!(matches!(err, Error::DeviceLimit(_)), "{err}");
    assert!(err.to_string().contains("memory budget"), "{err}");
    assert!(runtime.session(&model, 4).is_ok());
}

#[test]
fn sessions_share_the_models_weights() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V2);
    let one = runtime.session(&model, 1).expect("session");
    let two = runtime.session(&model, 2).expect("session");
    // The same node storage, weights included: nothing was copied.
    let nodes = |m: &Model| m.graph.nodes().as_ptr();
    assert_eq!(nodes(one.model()), nodes(&model));
    assert_eq!(nodes(two.model()), nodes(&model));
    // Changing a clone leaves the shared original alone.
    let mut grown = model.graph.clone();
    let relu = mobilenet_wgpu::graph::Op::Activation(mobilenet_wgpu::graph::Activation::Relu);
    grown.add("extra", relu, &[grown.output()]).expect("add");
    assert_ne!(grown.nodes().as_ptr(), model.graph.nodes().as_ptr());
    assert_eq!(grown.nodes().len(), model.graph.nodes().len() + 1);
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn runtime_model_and_session_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Runtime>();
    send_sync::<Model>();
    send_sync::<Session>();
    send_sync::<Output>();
}

#[test]
fn eight_threads_and_two_sessions_share_one_runtime() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    // Two sessions of different models and batch sizes.
    let sessions = [(Arch::V2, 1), (Arch::V1, 3)].map(|(arch, batch)| {
        let model = small_model(arch);
        runtime.session(&model, batch).expect("session")
    });
    let cases: Vec<Vec<(Vec<f32>, Output)>> = sessions
        .iter()
        .map(|session| {
            let per_run = session.model().graph.input_shape().len() * session.batch();
            let all = inputs(session.model(), 3 * session.batch());
            all.chunks(per_run)
                .map(|input| (input.to_vec(), session.run(input).expect("run")))
                .collect()
        })
        .collect();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (session, cases) = (&sessions[thread % 2], &cases[thread % 2]);
            scope.spawn(move || {
                for i in 0..50 {
                    let (input, expected) = &cases[(thread + i) % cases.len()];
                    let output = match i % 3 {
                        0 => session.run(input),
                        1 => pollster::block_on(session.run_async(input)),
                        // A queued inference dropped unread, then one that is read.
                        _ => {
                            drop(session.queue(input).expect("queue"));
                            session.queue(input).and_then(Queued::wait)
                        }
                    };
                    // Bit-identical to the single-threaded run.
                    assert_eq!(
                        &output.expect("threaded run"),
                        expected,
                        "thread {thread}, {i}"
                    );
                }
            });
        }
    });
}

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
