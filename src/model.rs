//! A runnable model: a graph plus what it takes to feed it real images and read its output.

use crate::graph::Graph;

/// Maps 8-bit RGB pixel values to the model's real-valued input domain:
/// `real = (pixel - mean[c]) / std[c]`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalization {
    /// The normalisation a quantized input tensor implies: `real = scale * (q - zero_point)`.
    pub fn from_quantization(scale: f32, zero_point: f32) -> Self {
        Normalization {
            mean: [zero_point; 3],
            std: [1.0 / scale; 3],
        }
    }

    /// `pixel / 127.5 - 1`, the usual float MobileNet input range [-1, 1].
    pub fn symmetric() -> Self {
        Normalization {
            mean: [127.5; 3],
            std: [127.5; 3],
        }
    }

    pub fn apply(&self, channel: usize, pixel: f32) -> f32 {
        (pixel - self.mean[channel]) / self.std[channel]
    }
}

/// A graph with its input normalisation and output labelling.
#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    pub graph: Graph,
    pub normalization: Normalization,
    /// True for 1001-class ImageNet models whose class 0 is "background".
    pub background_class: bool,
}

impl Model {
    /// Loads a TFLite file, or a manifest name (downloaded and verified if needed).
    pub fn load(name_or_path: &str) -> crate::Result<Model> {
        crate::import::tflite::load_chain(&crate::hub::resolve(name_or_path)?)
    }

    /// Parses a TFLite model from memory; `name` appears in errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> crate::Result<Model> {
        crate::import::tflite::parse_tflite(bytes, name)
    }

    /// Chains models: each one's output feeds the next (e.g. extractor + head files).
    pub fn chain(names_or_paths: &[&str]) -> crate::Result<Model> {
        let mut paths = Vec::new();
        for name in names_or_paths {
            paths.extend(crate::hub::resolve(name)?);
        }
        crate::import::tflite::load_chain(&paths)
    }

    /// A built-in architecture with deterministic random weights.
    pub fn from_arch(config: &crate::models::ArchConfig, seed: u64) -> crate::Result<Model> {
        Ok(Model {
            name: format!(
                "{} alpha={} (random weights, seed {seed})",
                config.arch, config.alpha
            ),
            graph: crate::models::build(config, seed)?,
            normalization: Normalization::symmetric(),
            background_class: false,
        })
    }
}
