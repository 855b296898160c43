//! The models the user can pick: manifest files (real weights) and the built-in
//! architectures with random weights (useful without any download).

use std::fmt;
use std::str::FromStr;

use mobilenet_wgpu::hub;
use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::models::{Arch, ArchConfig};

/// Seed of the random-weight models, fixed so a model's output is reproducible.
const RANDOM_WEIGHTS_SEED: u64 = 0;

/// One entry of the model combo box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelChoice {
    /// A manifest name (single or multi-file) or a path to a TFLite or ONNX file.
    Named(String),
    /// A built-in architecture with deterministic random weights.
    RandomWeights(Arch),
}

impl ModelChoice {
    /// The manifest's default model.
    pub fn default_model() -> Self {
        ModelChoice::Named(hub::DEFAULT_MODEL.to_owned())
    }

    /// Reads a `--model` argument: an architecture name (`v2`, `v3-small`, ...) selects
    /// random weights, anything else is a manifest name or a file path.
    pub fn parse(name: &str) -> Self {
        match Arch::from_str(name) {
            Ok(arch) => ModelChoice::RandomWeights(arch),
            Err(_) => ModelChoice::Named(name.to_owned()),
        }
    }

    /// Every choice offered in the UI: manifest models, composites, then built-in
    /// architectures. A broken built-in manifest leaves only the architectures.
    pub fn all() -> Vec<ModelChoice> {
        let manifest = hub::manifest()
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.name);
        let composites = hub::composites()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.name);
        manifest
            .chain(composites)
            .map(ModelChoice::Named)
            .chain(Arch::ALL.into_iter().map(ModelChoice::RandomWeights))
            .collect()
    }

    /// Loads (and for a manifest name not yet on disk, downloads) the model. Slow: call it
    /// off the UI thread.
    pub fn load(&self) -> mobilenet_wgpu::Result<Model> {
        match self {
            ModelChoice::Named(name) => Model::load(name),
            ModelChoice::RandomWeights(arch) => {
                Model::from_arch(&ArchConfig::new(*arch), RANDOM_WEIGHTS_SEED)
            }
        }
    }
}

impl fmt::Display for ModelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelChoice::Named(name) => f.write_str(name),
            ModelChoice::RandomWeights(arch) => write!(f, "{arch} (random weights)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_names_select_random_weights() {
        assert_eq!(
            ModelChoice::parse("v3-small"),
            ModelChoice::RandomWeights(Arch::V3Small)
        );
        assert_eq!(
            ModelChoice::parse("mobilenet_v1_0.25_128_quant"),
            ModelChoice::Named("mobilenet_v1_0.25_128_quant".to_owned())
        );
    }

    #[test]
    fn all_lists_the_default_model_and_every_architecture() {
        let all = ModelChoice::all();
        assert!(all.contains(&ModelChoice::default_model()));
        for arch in Arch::ALL {
            assert!(
                all.contains(&ModelChoice::RandomWeights(arch)),
                "{arch} missing"
            );
        }
    }

    #[test]
    fn random_weight_models_load_without_files() {
        let model = ModelChoice::RandomWeights(Arch::V2K7)
            .load()
            .expect("builds");
        assert!(model.name.contains("random weights"));
    }
}
