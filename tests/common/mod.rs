//! Helpers shared by the integration tests that need a GPU or the real model files.
//! Both are skipped with a printed reason when absent, except under `CI=true`, where a
//! missing adapter or model folder fails the test.

#![allow(dead_code)] // each test binary uses its own subset

pub mod shared_models;
pub mod textures;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mobilenet_wgpu::runtime::Runtime;

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// One runtime per test binary, or `None` (after a note) without an adapter outside CI.
pub fn runtime() -> Option<&'static Runtime> {
    static RUNTIME: OnceLock<Option<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| match Runtime::new() {
            Ok(runtime) => Some(runtime),
            Err(e) if in_ci() => panic!("CI needs a GPU adapter: {e}"),
            Err(e) => {
                eprintln!("skipping: {e}");
                None
            }
        })
        .as_ref()
}

/// The runtime when its adapter has `SHADER_F16` (f16 storage), else `None` after a note;
/// under `CI=true`, whose lavapipe has the feature, a missing one is a failure.
pub fn f16_runtime() -> Option<&'static Runtime> {
    let runtime = runtime()?;
    let features = runtime.context().device.features();
    if features.contains(wgpu::Features::SHADER_F16) {
        return Some(runtime);
    }
    if in_ci() {
        panic!("CI's adapter should have SHADER_F16");
    }
    eprintln!("skipping: the adapter has no SHADER_F16");
    None
}

/// `../shared` (or the folder above `MOBILENET_WGPU_MODELS`), when present.
pub fn shared_dir() -> Option<PathBuf> {
    let models = std::env::var_os("MOBILENET_WGPU_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models"));
    let shared = models.join("..");
    if models.is_dir() && shared.join("expected").is_dir() && shared.join("images").is_dir() {
        return Some(shared);
    }
    if in_ci() {
        panic!(
            "{} is missing (CI=true requires ../shared)",
            models.display()
        );
    }
    eprintln!(
        "skipping: no shared models at {} (set MOBILENET_WGPU_MODELS)",
        models.display()
    );
    None
}

/// A builder model at 96×96 (seed 7): small enough for many sessions in one test.
pub fn small_model(arch: mobilenet_wgpu::models::Arch) -> mobilenet_wgpu::model::Model {
    let config = mobilenet_wgpu::models::ArchConfig {
        resolution: Some(96),
        ..mobilenet_wgpu::models::ArchConfig::new(arch)
    };
    mobilenet_wgpu::model::Model::from_arch(&config, 7).expect("builder model")
}
