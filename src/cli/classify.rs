//! `classify`: top-K ImageNet classes for each image.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use mobilenet_wgpu::gpu::Executor;
use mobilenet_wgpu::labels::{top_k, Class};
use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::{hub, preprocess, Error, Result};

use super::{open_gpu, print_json, ModelArgs};

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
    let model = args.model.load(Some(hub::DEFAULT_MODEL))?;
    if model.graph.final_softmax().is_none() {
        return Err(Error::InvalidArgument(format!(
            "{} does not end in a softmax classifier; use `run` to get its raw output",
            model.name
        )));
    }
    let ctx = open_gpu(backend)?;
    let batch = args.batch.min(args.images.len());
    let plan = Plan::build(&model.graph, batch)?;
    let executor = Executor::new(&ctx, &plan)?;
    if !args.json {
        println!("{} on {}", model.name, ctx.adapter_info.name);
    }
    for chunk in args.images.chunks(batch) {
        for result in classify_chunk(&model, &executor, chunk, batch, args.top)? {
            if args.json {
                print_json(&result)?;
            } else {
                print_result(&result);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Preprocesses `paths` into one batch (padded with zeros up to `batch`) and classifies it.
fn classify_chunk(
    model: &Model,
    executor: &Executor,
    paths: &[PathBuf],
    batch: usize,
    top: usize,
) -> Result<Vec<ImageResult>> {
    let shape = model.graph.input_shape();
    let start = Instant::now();
    let mut input = Vec::with_capacity(batch * shape.len());
    for path in paths {
        let image = preprocess::load_image(path)?;
        input.extend(preprocess::preprocess(
            &image,
            shape.w,
            shape.h,
            &model.normalization,
        ));
    }
    input.resize(batch * shape.len(), 0.0);
    let preprocess_ms = start.elapsed().as_secs_f64() * 1e3 / paths.len() as f64;
    let start = Instant::now();
    let output = executor.run(&input)?;
    let inference_ms = start.elapsed().as_secs_f64() * 1e3 / paths.len() as f64;
    let classes = model.graph.output_shape().len();
    Ok(paths
        .iter()
        .zip(output.chunks(classes))
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
