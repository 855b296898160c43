//! `mobilenet-wgpu-app [--model NAME] [IMAGE]`: a desktop window that classifies images
//! with mobilenet-wgpu on the same wgpu device egui renders with.

mod capture;
mod choice;
mod ui;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use clap::Parser;
use eframe::{egui, egui_wgpu, wgpu};

use crate::capture::AutoCapture;
use crate::choice::ModelChoice;
use crate::ui::{ClassifierApp, Startup};

/// Classify images with MobileNet models running as WGSL compute shaders.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A manifest model name, a .tflite or .onnx path, or an architecture (v1, v2, v3-large,
    /// v3-small, v2-k7) for random weights.
    #[arg(long, default_value = mobilenet_wgpu::hub::DEFAULT_MODEL)]
    model: String,
    /// An image to open at start.
    image: Option<PathBuf>,
    /// Save a PNG of the window once the first image is classified.
    #[arg(long, value_name = "PNG")]
    screenshot: Option<PathBuf>,
    /// Quit once the first image is classified (and the screenshot, if any, saved); the exit
    /// status is 1 if classification failed, 2 if the screenshot could not be saved.
    #[arg(long)]
    exit_after_result: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let exit_status = Arc::new(AtomicU8::new(capture::EXIT_OK));
    let startup = Startup {
        model: ModelChoice::parse(&args.model),
        image: args.image,
        capture: AutoCapture::new(args.screenshot, args.exit_after_result, exit_status.clone()),
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("mobilenet-wgpu")
            .with_inner_size([1200.0, 720.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: wgpu_options(),
        ..Default::default()
    };
    let run = eframe::run_native(
        "mobilenet-wgpu",
        options,
        Box::new(|cc| Ok(Box::new(ClassifierApp::new(cc, startup)))),
    );
    if let Err(e) = run {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::from(exit_status.load(Ordering::Relaxed))
}

/// eframe's wgpu setup, asking the device for what the runtime needs: the adapter's own
/// limits (large models exceed the WebGPU defaults egui asks for) and the optional
/// features its kernels can use.
fn wgpu_options() -> egui_wgpu::WgpuConfiguration {
    let mut setup = egui_wgpu::WgpuSetupCreateNew::without_display_handle();
    setup.device_descriptor = Arc::new(|adapter: &wgpu::Adapter| {
        let optional = wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY;
        wgpu::DeviceDescriptor {
            label: Some("mobilenet-wgpu-app"),
            required_features: adapter.features() & optional,
            required_limits: adapter.limits(),
            ..Default::default()
        }
    });
    egui_wgpu::WgpuConfiguration {
        wgpu_setup: setup.into(),
        ..Default::default()
    }
}
