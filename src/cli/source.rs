//! Where a command's model comes from: model files / manifest names, or a builder.

use std::path::PathBuf;

use clap::Args;
use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::models::{Arch, ArchConfig, Head};
use mobilenet_wgpu::plan::KernelChoice;
use mobilenet_wgpu::{hub, import, Error, Precision, Result};

/// Selects a model: `--model` (repeatable to chain files) or `--arch` with its options.
#[derive(Args, Clone, Debug)]
pub struct ModelArgs {
    /// Model file or manifest name; give it twice to chain two models (extractor + head).
    #[arg(long = "model", value_name = "PATH|NAME", conflicts_with = "arch")]
    pub models: Vec<String>,
    /// Built-in architecture with random weights: v1, v2, v3-large, v3-small, v2-k7.
    #[arg(long)]
    pub arch: Option<Arch>,
    /// Width multiplier α.
    #[arg(long, default_value_t = 1.0, requires = "arch")]
    pub alpha: f32,
    /// Input resolution (ρ); defaults to the architecture's own.
    #[arg(long, requires = "arch")]
    pub resolution: Option<usize>,
    /// Head: `classifier:N` or `embedding:N` (V1).
    #[arg(long, requires = "arch")]
    pub head: Option<Head>,
    /// Seed of the random weights (and of verify's random input).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// V3: squeeze-excite ratio (paper: 0.25; the seed article: 0.5).
    #[arg(long, default_value_t = 0.25, requires = "arch")]
    pub se_ratio: f32,
    /// V3: use Keras' hard sigmoid max(0, min(1, 0.2x + 0.5)).
    #[arg(long, requires = "arch")]
    pub keras_hard_sigmoid: bool,
    /// V3-Small: 1280-wide last layer instead of 1024.
    #[arg(long, requires = "arch")]
    pub small_head_1280: bool,
    /// GPU storage of activations and weights: f32; f16 (needs SHADER_F16; the gpu
    /// kernels' GEMM multiplies in f16, the rest computes in f32); or int8 (quantized
    /// TFLite files, on TFLite's integer arithmetic).
    #[arg(long, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// Kernel family: `cpu-adapter` (shaped for lavapipe), `gpu` (workgroup-tiled), or
    /// `auto`: the first on CPU adapters, the second on GPUs.
    #[arg(long, default_value_t = KernelChoice::Auto)]
    pub kernels: KernelChoice,
}

impl ModelArgs {
    /// Loads the selected model; with neither `--model` nor `--arch`, `default` if given.
    pub fn load(&self, default: Option<&str>) -> Result<Model> {
        if let Some(arch) = self.arch {
            return self.build(arch);
        }
        let names: Vec<&str> = match (self.models.is_empty(), default) {
            (false, _) => self.models.iter().map(String::as_str).collect(),
            (true, Some(name)) => vec![name],
            (true, None) => {
                return Err(Error::InvalidArgument(
                    "choose a model with --model or --arch".into(),
                ))
            }
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        for name in names {
            paths.extend(hub::resolve(name)?);
        }
        import::load_chain(&paths)
    }

    fn build(&self, arch: Arch) -> Result<Model> {
        let mut config = ArchConfig::new(arch);
        config.alpha = self.alpha;
        config.resolution = self.resolution;
        config.head = self.head;
        config.v3.se_ratio = self.se_ratio;
        config.v3.keras_hard_sigmoid = self.keras_hard_sigmoid;
        config.v3.small_head_1280 = self.small_head_1280;
        Model::from_arch(&config, self.seed)
    }
}
