//! `classify`: top-K ImageNet classes for each image, for files and whole folders. While
//! the GPU runs one batch, worker threads decode and resize the next; a file that fails
//! gets its own error line and never stops the run.

mod inputs;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mobilenet_wgpu::labels::{top_k, Class};
use mobilenet_wgpu::model::Preset;
use mobilenet_wgpu::runtime::Session;
use mobilenet_wgpu::{hub, preprocess, Error, Result};

use super::{open_runtime, print_json, ModelArgs};
use inputs::Prepared;

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
    /// Print one JSON object per image (`image`, `top`; `image`, `error` for a file that
    /// fails).
    #[arg(long, alias = "jsonl")]
    json: bool,
    /// Photo → input tensor recipe: `torchvision` (short side to 256, centre crop 224,
    /// ImageNet mean/std), `tf` (centre square, [-1, 1]) or `raw` (centre square, uint8
    /// pixels as the input's integers). Default: from the input's type and layout.
    #[arg(long, value_name = "PRESET")]
    preprocess: Option<Preset>,
    /// Images (JPEG, PNG, BMP) and folders, searched recursively for them.
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

#[derive(serde::Serialize)]
struct ImageError {
    image: String,
    error: String,
}

impl ImageError {
    /// `error` about `path`, in a message that names the file (most errors already do).
    fn new(path: &Path, error: &Error) -> Self {
        let image = path.display().to_string();
        let mut message = error.to_string();
        if !message.contains(&image) {
            message = format!("{image}: {message}");
        }
        ImageError {
            image,
            error: message,
        }
    }
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
    preprocess::check_rgb_input(&model)?;
    if model.graph.final_softmax().is_none() {
        return Err(Error::InvalidArgument(format!(
            "{} does not end in a softmax classifier; use `run` to get its raw output",
            model.name
        )));
    }
    let inputs::Collected { images, unreadable } = inputs::collect(&args.images);
    if images.is_empty() {
        return Err(unreadable.into_iter().next().map_or_else(
            || Error::InvalidArgument("no JPEG, PNG or BMP images in the given folders".into()),
            |(_, error)| error,
        ));
    }
    let runtime = open_runtime(backend, args.model.kernels)?;
    let batch = args.batch.min(images.len());
    let session = runtime.session_with_precision(&model, batch, args.model.precision)?;
    if !args.json {
        outln!(
            "{} on {} (preprocess: {preset})",
            model.name,
            runtime.adapter_name()
        );
    }
    // A folder that could not be read is a failure like a file that could not be decoded.
    let unreadable = unreadable
        .into_iter()
        .map(|(path, error)| ImageError::new(&path, &error))
        .collect();
    let summary = classify_all(&session, &images, unreadable, args)?;
    summary.report();
    Ok(if summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What a run did, for the closing summary.
struct Summary {
    images: usize,
    seconds: f64,
    failures: Vec<ImageError>,
}

impl Summary {
    /// On stderr, so that stdout stays one result per line; with `--json` the failures
    /// are also on stdout, but a person reading the summary still sees why each failed
    /// (`ImageError::new` makes every message name its file).
    fn report(&self) {
        for failure in &self.failures {
            errln!("error: {}", failure.error);
        }
        if self.images > 1 || !self.failures.is_empty() {
            let ok = self.images - self.failures.len();
            errln!(
                "{ok} of {} images classified in {:.2} s ({:.1} images/s), {} failed",
                self.images,
                self.seconds,
                ok as f64 / self.seconds.max(1e-9),
                self.failures.len()
            );
        }
    }
}

/// Classifies `images` batch by batch, preparing the next batch on worker threads while
/// the GPU runs the current one; prints each result as it comes.
fn classify_all(
    session: &Session,
    images: &[PathBuf],
    unreadable: Vec<ImageError>,
    args: &ClassifyArgs,
) -> Result<Summary> {
    let start = Instant::now();
    if args.json {
        unreadable.iter().try_for_each(print_json)?;
    }
    let mut failures = unreadable;
    let attempted = images.len() + failures.len();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let progress = progress_bar(images.len());
    let chunks: Vec<&[PathBuf]> = images.chunks(session.batch()).collect();
    let mut prepared = inputs::prepare(session.model(), chunks[0], threads);
    for (i, _) in chunks.iter().enumerate() {
        let next = chunks.get(i + 1).copied();
        let (results, following) = std::thread::scope(|scope| {
            let worker = next
                .map(|paths| scope.spawn(move || inputs::prepare(session.model(), paths, threads)));
            let results = classify_chunk(session, &prepared, args.top);
            let following = worker.zip(next).map(|(w, paths)| {
                w.join()
                    .unwrap_or_else(|_| inputs::failed(paths, "the decoding thread panicked"))
            });
            (results, following)
        });
        for result in results? {
            match result {
                Ok(result) if args.json => progress.suspend(|| print_json(&result))?,
                Ok(result) => progress.suspend(|| print_result(&result))?,
                Err(failure) => {
                    if args.json {
                        progress.suspend(|| print_json(&failure))?;
                    }
                    failures.push(failure);
                }
            }
            progress.inc(1);
        }
        prepared = following.unwrap_or_default();
    }
    progress.finish_and_clear();
    Ok(Summary {
        images: attempted,
        seconds: start.elapsed().as_secs_f64(),
        failures,
    })
}

/// A bar on stderr for runs of more than a few images (hidden when stderr is no terminal).
fn progress_bar(total: usize) -> ProgressBar {
    if total < 8 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} images, {per_sec}, {eta} left")
    {
        bar.set_style(style);
    }
    bar
}

/// Runs the images of `prepared` that decoded as one batch (the session pads a short
/// one); failures pass through in order.
fn classify_chunk(
    session: &Session,
    prepared: &[Prepared],
    top: usize,
) -> Result<Vec<std::result::Result<ImageResult, ImageError>>> {
    let mut input = Vec::new();
    for p in prepared {
        if let Ok(values) = &p.input {
            input.extend_from_slice(values);
        }
    }
    let decoded = prepared.iter().filter(|p| p.input.is_ok()).count();
    let (output, inference_ms) = if decoded == 0 {
        (None, 0.0)
    } else {
        let start = Instant::now();
        let output = session.run(&input)?;
        (
            Some(output),
            start.elapsed().as_secs_f64() * 1e3 / decoded as f64,
        )
    };
    let mut next_image = 0;
    let model = session.model();
    Ok(prepared
        .iter()
        .map(|p| match &p.input {
            Err(e) => Err(ImageError::new(&p.path, e)),
            Ok(_) => {
                let image = p.path.display().to_string();
                let probabilities = output.as_ref().and_then(|o| o.image(next_image));
                next_image += 1;
                Ok(ImageResult {
                    image,
                    top: probabilities
                        .map(|p| top_k(p, top, model.background_class))
                        .unwrap_or_default(),
                    inference_ms,
                    preprocess_ms: p.preprocess_ms,
                })
            }
        })
        .collect())
}

fn print_result(result: &ImageResult) -> Result<()> {
    outln!("{} ({:.1} ms)", result.image, result.inference_ms);
    for class in &result.top {
        outln!(
            "  {:>6.2}%  {:>4}  {}",
            class.probability * 100.0,
            class.index,
            class.label
        );
    }
    Ok(())
}
