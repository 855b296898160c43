//! The shared TFLite models and the interpreter's expected top-5 (`../shared`).

use std::collections::BTreeMap;
use std::path::Path;

use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::preprocess;

/// The interpreter's top-5 class indices per (model, image), best first.
pub fn expected_top5(shared: &Path) -> BTreeMap<(String, String), Vec<usize>> {
    let text =
        std::fs::read_to_string(shared.join("expected/tflite_top5.tsv")).expect("tflite_top5.tsv");
    let mut top5: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let class: usize = fields[3].parse().expect("class index");
        top5.entry((fields[0].to_string(), fields[1].to_string()))
            .or_default()
            .push(class);
    }
    top5
}

/// Loads a model named as in the expected file (`a+b` names a chain of two files).
pub fn load(shared: &Path, name: &str) -> Model {
    let models = shared.join("models");
    let paths: Vec<String> = match name.split_once('+') {
        Some((first, second)) => {
            let prefix = first
                .rsplit_once("_embedding_extractor")
                .map_or(first, |p| p.0);
            vec![
                format!("{first}.tflite"),
                format!("{prefix}_{second}.tflite"),
            ]
        }
        None => vec![format!("{name}.tflite")],
    };
    let paths: Vec<String> = paths
        .iter()
        .map(|p| models.join(p).display().to_string())
        .collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    Model::chain(&refs).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The shared photos `images` (file names under `images/`), preprocessed for `model` into
/// one NHWC batch.
pub fn photo_batch<'a>(
    shared: &Path,
    model: &Model,
    images: impl IntoIterator<Item = &'a str>,
) -> Vec<f32> {
    let shape = model.graph.input_shape();
    let mut input = Vec::new();
    for image in images {
        let rgb = preprocess::load_image(&shared.join("images").join(image)).expect("photo");
        input.extend(preprocess::preprocess(
            &rgb,
            shape.w,
            shape.h,
            &model.normalization,
        ));
    }
    input
}
