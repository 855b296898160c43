//! `bench`: end-to-end latency (upload, dispatches, readback) and one-time costs.
//!
//! The one-time costs are timed separately because they dominate a cold start and differ
//! by orders of magnitude between drivers: opening the device, building the plan,
//! creating the pipelines and uploading the weights, and the first inference (drivers
//! such as lavapipe compile shaders lazily, on first dispatch).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mobilenet_wgpu::gpu::{Executor, GpuContext};
use mobilenet_wgpu::plan::KernelFamily;
use mobilenet_wgpu::verify::random_input;
use mobilenet_wgpu::{Error, Precision, Result};

use super::{open_runtime, print_json, ModelArgs};

/// Timed runs expected to take longer than this get a progress bar.
const PROGRESS_THRESHOLD: Duration = Duration::from_secs(1);

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Images per inference.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Untimed inferences after the first one, to reach a steady state.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed inferences.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Print one JSON object instead of text.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print one markdown table row (bench/gpu/run.sh collects them).
    #[arg(long)]
    markdown: bool,
    /// With --markdown: first the adapter's description and the table's header.
    #[arg(long, requires = "markdown")]
    markdown_header: bool,
}

/// Everything `bench` measures; times in milliseconds.
#[derive(Debug, serde::Serialize)]
struct BenchReport {
    adapter: String,
    backend: String,
    /// The driver's name and version, as the adapter reports them.
    driver: String,
    /// The device features the runtime uses, when the adapter has them.
    features: String,
    /// The kernel family the session ran.
    kernels: KernelFamily,
    precision: Precision,
    model: String,
    batch: usize,
    /// Submissions per inference: more than one when `batch` images' activations exceed
    /// one storage binding of the device.
    submissions: usize,
    warmup: usize,
    runs: usize,
    min_ms: f64,
    median_ms: f64,
    p90_ms: f64,
    max_ms: f64,
    images_per_second: f64,
    /// Adapter and device creation.
    device_ms: f64,
    plan_ms: f64,
    /// `Executor::new`: pipeline creation, buffer allocation and weight upload.
    pipelines_and_upload_ms: f64,
    /// The first inference, including any shader compilation the driver defers to it.
    first_inference_ms: f64,
}

/// The one-time costs, in milliseconds.
struct SetupTimes {
    device_ms: f64,
    plan_ms: f64,
    pipelines_and_upload_ms: f64,
    first_inference_ms: f64,
}

/// Summary of a set of latency samples.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LatencyStats {
    min: f64,
    median: f64,
    p90: f64,
    max: f64,
}

impl LatencyStats {
    /// Summarises `samples` (any order); `None` when there are none.
    fn from_samples(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(LatencyStats {
            min: sorted[0],
            median: percentile(&sorted, 0.5),
            p90: percentile(&sorted, 0.9),
            max: sorted[sorted.len() - 1],
        })
    }
}

/// The value at fraction `q` of non-empty `sorted`, interpolating linearly between the
/// two nearest ranks (NumPy's default), so small sample counts still give stable values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = q * (sorted.len() - 1) as f64;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (rank - below as f64)
}

pub fn execute(args: &BenchArgs, backend: Option<&str>) -> Result<ExitCode> {
    check_args(args)?;
    let model = args.model.load(None)?;
    let start = Instant::now();
    let runtime = open_runtime(backend, args.model.kernels)?;
    let ctx = runtime.context();
    let device_ms = elapsed_ms(start);
    let start = Instant::now();
    let plan = runtime.plan(&model, args.batch, args.model.precision)?;
    let plan_ms = elapsed_ms(start);
    let start = Instant::now();
    let executor = Executor::new(ctx, &plan)?;
    wait_for_gpu(ctx)?;
    let pipelines_and_upload_ms = elapsed_ms(start);
    // A batch over the binding limit runs as several submissions, as a session runs it.
    let inference = Inference {
        executor: &executor,
        input: random_input(&model.graph, plan.batch, args.model.seed),
        submissions: args.batch.div_ceil(plan.batch),
    };
    let first_inference_ms = inference.time()?;
    let setup = SetupTimes {
        device_ms,
        plan_ms,
        pipelines_and_upload_ms,
        first_inference_ms,
    };
    let samples = measure(&inference, args, first_inference_ms)?;
    let report = report(
        args,
        ctx,
        model.name,
        setup,
        &samples,
        inference.submissions,
    )?;
    if args.json {
        print_json(&report)?;
    } else if args.markdown {
        print_markdown(&report, args.markdown_header);
    } else {
        print_text(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// The features that change what the runtime can do (f16 storage, GPU timestamps).
fn used_features(features: wgpu::Features) -> String {
    let used = [
        (wgpu::Features::SHADER_F16, "SHADER_F16"),
        (wgpu::Features::TIMESTAMP_QUERY, "TIMESTAMP_QUERY"),
    ];
    let names: Vec<&str> = used
        .iter()
        .filter(|(f, _)| features.contains(*f))
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// One table row; with `header`, the adapter and the column names before it.
fn print_markdown(r: &BenchReport, header: bool) {
    if header {
        println!(
            "Adapter: **{}** ({}, driver {}), features: {}.\n",
            r.adapter, r.backend, r.driver, r.features
        );
        println!("| model | storage | kernels | batch | min ms | median ms | p90 ms | images/s | first result ms |");
        println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
    }
    // From opening the device to the first output: what a cold process waits.
    let first = r.device_ms + r.plan_ms + r.pipelines_and_upload_ms + r.first_inference_ms;
    println!(
        "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} |",
        r.model,
        r.precision,
        r.kernels,
        r.batch,
        r.min_ms,
        r.median_ms,
        r.p90_ms,
        r.images_per_second,
        first
    );
}

fn check_args(args: &BenchArgs) -> Result<()> {
    if args.batch == 0 {
        return Err(Error::InvalidArgument("--batch must be at least 1".into()));
    }
    if args.runs == 0 {
        return Err(Error::InvalidArgument("--runs must be at least 1".into()));
    }
    Ok(())
}

fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Blocks until queued work (the weight uploads) has finished, so it is charged to setup
/// rather than to the first inference.
fn wait_for_gpu(ctx: &GpuContext) -> Result<()> {
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
    Ok(())
}

/// One inference of `--batch` images: `submissions` runs of the executor's plan.
struct Inference<'a> {
    executor: &'a Executor,
    input: Vec<f32>,
    submissions: usize,
}

impl Inference<'_> {
    /// Runs it end to end (upload, dispatches, readback) and returns milliseconds.
    fn time(&self) -> Result<f64> {
        let start = Instant::now();
        for _ in 0..self.submissions {
            self.executor.run(&self.input)?;
        }
        Ok(elapsed_ms(start))
    }
}

/// Runs the warm-up inferences, then returns the timed runs' latencies.
fn measure(inference: &Inference, args: &BenchArgs, first_inference_ms: f64) -> Result<Vec<f64>> {
    let mut estimate_ms = first_inference_ms;
    for i in 0..args.warmup {
        let ms = inference.time()?;
        if i == 0 {
            estimate_ms = ms;
        }
    }
    let expected = Duration::from_secs_f64(estimate_ms * args.runs as f64 / 1e3);
    let bar = progress_bar(args.runs, expected);
    let mut samples = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        samples.push(inference.time()?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(samples)
}

/// A bar on stderr over the timed runs when they should take longer than
/// [`PROGRESS_THRESHOLD`] (indicatif hides it when stderr is not a terminal).
fn progress_bar(runs: usize, expected: Duration) -> ProgressBar {
    if expected <= PROGRESS_THRESHOLD {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(runs as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} runs, eta {eta}") {
        bar.set_style(style);
    }
    bar
}

fn report(
    args: &BenchArgs,
    ctx: &GpuContext,
    model: String,
    setup: SetupTimes,
    samples: &[f64],
    submissions: usize,
) -> Result<BenchReport> {
    let stats = LatencyStats::from_samples(samples)
        .ok_or_else(|| Error::InvalidArgument("--runs must be at least 1".into()))?;
    Ok(BenchReport {
        adapter: ctx.adapter_info.name.clone(),
        backend: ctx.adapter_info.backend.to_str().to_string(),
        driver: format!(
            "{} {}",
            ctx.adapter_info.driver, ctx.adapter_info.driver_info
        )
        .trim()
        .to_string(),
        features: used_features(ctx.device.features()),
        kernels: args.model.kernels.resolve(ctx.adapter_info.device_type),
        precision: args.model.precision,
        model,
        batch: args.batch,
        submissions,
        warmup: args.warmup,
        runs: args.runs,
        min_ms: stats.min,
        median_ms: stats.median,
        p90_ms: stats.p90,
        max_ms: stats.max,
        images_per_second: args.batch as f64 / (stats.median / 1e3),
        device_ms: setup.device_ms,
        plan_ms: setup.plan_ms,
        pipelines_and_upload_ms: setup.pipelines_and_upload_ms,
        first_inference_ms: setup.first_inference_ms,
    })
}

fn print_text(r: &BenchReport) {
    println!(
        "{} on {} ({}, {} kernels)",
        r.model, r.adapter, r.backend, r.kernels
    );
    println!(
        "one-time: device {:.1} ms, plan {:.1} ms, pipelines + weight upload {:.1} ms, first inference {:.1} ms",
        r.device_ms, r.plan_ms, r.pipelines_and_upload_ms, r.first_inference_ms
    );
    println!(
        "batch {} ({} submission{}), {} runs after {} warm-up: min {:.2} ms, median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        r.batch,
        r.submissions,
        if r.submissions == 1 { "" } else { "s" },
        r.runs,
        r.warmup,
        r.min_ms,
        r.median_ms,
        r.p90_ms,
        r.max_ms
    );
    println!(
        "throughput: {:.1} images/s (batch / median, upload and readback included)",
        r.images_per_second
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_unsorted_samples() {
        let stats = LatencyStats::from_samples(&[5.0, 1.0, 4.0, 2.0, 3.0]).unwrap();
        assert_eq!((stats.min, stats.median, stats.max), (1.0, 3.0, 5.0));
        assert!((stats.p90 - 4.6).abs() < 1e-12, "p90 {}", stats.p90);
    }

    #[test]
    fn median_of_even_count_interpolates() {
        let stats = LatencyStats::from_samples(&[10.0, 20.0, 40.0, 30.0]).unwrap();
        assert_eq!(stats.median, 25.0);
        assert!((stats.p90 - 37.0).abs() < 1e-12);
    }

    #[test]
    fn single_sample_is_every_statistic() {
        let stats = LatencyStats::from_samples(&[7.5]).unwrap();
        assert_eq!(
            (stats.min, stats.median, stats.p90, stats.max),
            (7.5, 7.5, 7.5, 7.5)
        );
    }

    #[test]
    fn no_samples_give_no_stats() {
        assert_eq!(LatencyStats::from_samples(&[]), None);
    }

    #[test]
    fn percentile_endpoints_are_min_and_max() {
        let sorted = [1.0, 2.0, 9.0];
        assert_eq!(percentile(&sorted, 0.0), 1.0);
        assert_eq!(percentile(&sorted, 1.0), 9.0);
    }
}
