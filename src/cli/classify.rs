//! `classify`: top-K ImageNet classes for each image.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use mobilenet_wgpu::labels::{top_k, Class};
use mobilenet_wgpu::model::Preset;
use mobilenet_wgpu::runtime::Session;
use mobilenet_wgpu::{hub, preprocess, Error, Result};

use super::{open_runtime, print_json, ModelArgs};

#[derive(Args)]
pub struct ClassifyArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Number of classes to print per image.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Images per GPU submission.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Print one JSON object per image.
    #[arg(long)]
    json: bool,
    /// Photo → input tensor recipe: `torchvision` (short side to 256, centre crop 224,
    /// ImageNet mean/std), `tf` (centre square, [-1, 1]) or `raw` (centre square, uint8
    /// pixels as the input's integers). Default: from the input's type and layout.
    #[arg(long, value_name = "PRESET")]
    preprocess: Option<Preset>,
    /// Images (JPEG, PNG, BMP).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

#[derive(serde::Serialize)]
struct ImageResult {
    image: String,
    top: Vec<Class>,
    /// GPU inference time of the image's batch (upload, dispatches, readback), divided per image.
    inference_ms: f64,
    preprocess_ms: f64,
}

pub fn execute(args: &ClassifyArgs, backend: Option<&str>) -> Result<ExitCode> {
    if args.batch == 0 || args.top == 0 {
        return Err(Error::InvalidArgument(
            "--batch and --top must be at least 1".into(),
        ));
    }
    let mut model = args.model.load(Some(hub::DEFAULT_MODEL))?;
    let preset = args
        .preprocess
        .unwrap_or_else(|| Preset::default_for(&model.input));
    (model.normalization, model.resize) = preset.settings(&model.input);
    if model.graph.final_softmax().is_none() {
        return Err(Error::InvalidArgument(format!(
            "{} does not end in a softmax classifier; use `run` to get its raw output",
            model.name
        )));
    }
    let runtime = open_runtime(backend, args.model.kernels)?;
    let batch = args.batch.min(args.images.len());
    let session = runtime.session_with_precision(&model, batch, args.model.precision)?;
    if !args.json {
        println!(
            "{} on {} (preprocess: {preset})",
            model.name,
            runtime.adapter_name()
        );
    }
    for chunk in args.images.chunks(batch) {
        for result in classify_chunk(&session, chunk, args.top)? {
            if args.json {
                print_json(&result)?;
            } else {
                print_result(&result);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Preprocesses `paths` into one batch and classifies it (the session pads a short batch).
fn classify_chunk(session: &Session, paths: &[PathBuf], top: usize) -> Result<Vec<ImageResult>> {
    let model = session.model();
    let start = Instant::now();
    let mut input = Vec::with_capacity(paths.len() * model.graph.input_shape().len());
    for path in paths {
        let image = preprocess::load_image(path)?;
        input.extend(preprocess::preprocess_for(model, &image));
    }
    let preprocess_ms = start.elapsed().as_secs_f64() * 1e3 / paths.len() as f64;
    let start = Instant::now();
    let output = session.run(&input)?;
    let inference_ms = start.elapsed().as_secs_f64() * 1e3 / paths.len() as f64;
    Ok(paths
        .iter()
        .enumerate()
        .filter_map(|(i, path)| Some((path, output.image(i)?)))
        .map(|(path, probabilities)| ImageResult {
            image: path.display().to_string(),
            top: top_k(probabilities, top, model.background_class),
            inference_ms,
            preprocess_ms,
        })
        .collect())
}

fn print_result(result: &ImageResult) {
    println!("{} ({:.1} ms)", result.image, result.inference_ms);
    for class in &result.top {
        println!(
            "  {:>6.2}%  {:>4}  {}",
            class.probability * 100.0,
            class.index,
            class.label
        );
    }
}
