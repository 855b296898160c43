//! `bench`: end-to-end latency (upload, dispatches, readback), throughput with one or more
//! inferences in flight, the host's per-inference cost, and one-time costs.
//!
//! The one-time costs are timed separately because they dominate a cold start and differ
//! by orders of magnitude between drivers: opening the device, building the plan,
//! creating the pipelines and uploading the weights, and the first inference (drivers
//! such as lavapipe compile shaders lazily, on first dispatch).

mod measure;

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use measure::{elapsed_ms, measure, Inference, LatencyStats, Timed};
use mobilenet_wgpu::gpu::{Executor, GpuContext};
use mobilenet_wgpu::plan::KernelFamily;
use mobilenet_wgpu::verify::random_input;
use mobilenet_wgpu::{Error, Precision, Result};

use super::{open_runtime, print_json, ModelArgs};

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
    /// Inferences kept queued at once: 2 or more overlap one's upload and readback with
    /// another's GPU work (as `Session::queue` allows).
    #[arg(long, default_value_t = 1)]
    in_flight: usize,
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
    in_flight: usize,
    /// Latency of each inference, from queueing it to holding its output (with more than
    /// one in flight, it includes waiting behind the others).
    min_ms: f64,
    median_ms: f64,
    p90_ms: f64,
    max_ms: f64,
    /// Wall time of all the timed runs.
    wall_ms: f64,
    /// Resident memory of the process before and after the timed runs, in MB (Linux).
    rss_before_mb: Option<f64>,
    rss_after_mb: Option<f64>,
    /// Images of the timed runs over their wall time.
    images_per_second: f64,
    /// Median host time per inference converting the input into staging memory.
    cpu_upload_ms: f64,
    /// Median host time per inference recording the dispatches (the GPU's own time per
    /// kernel is what `profile` measures).
    cpu_encode_ms: f64,
    /// Median host time per inference in the queue's submit call.
    cpu_submit_ms: f64,
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
    let first_inference_ms = inference.time()?.latency_ms;
    let setup = SetupTimes {
        device_ms,
        plan_ms,
        pipelines_and_upload_ms,
        first_inference_ms,
    };
    let rss_before_mb = resident_mb();
    let timed = measure(
        &inference,
        args.warmup,
        args.runs,
        args.in_flight,
        first_inference_ms,
    )?;
    let rss = (rss_before_mb, resident_mb());
    let report = report(
        args,
        ctx,
        model.name,
        setup,
        &timed,
        inference.submissions,
        rss,
    )?;
    if args.json {
        print_json(&report)?;
    } else if args.markdown {
        print_markdown(&report, args.markdown_header)?;
    } else {
        print_text(&report)?;
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
fn print_markdown(r: &BenchReport, header: bool) -> Result<()> {
    if header {
        outln!(
            "Adapter: **{}** ({}, driver {}), features: {}.\n",
            r.adapter,
            r.backend,
            r.driver,
            r.features
        );
        outln!("| model | storage | kernels | batch | in flight | min ms | median ms | p90 ms | images/s | host upload / encode / submit ms | first result ms |");
        outln!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    }
    // From opening the device to the first output: what a cold process waits.
    let first = r.device_ms + r.plan_ms + r.pipelines_and_upload_ms + r.first_inference_ms;
    outln!(
        "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2} / {:.2} / {:.2} | {:.0} |",
        r.model,
        r.precision,
        r.kernels,
        r.batch,
        r.in_flight,
        r.min_ms,
        r.median_ms,
        r.p90_ms,
        r.images_per_second,
        r.cpu_upload_ms,
        r.cpu_encode_ms,
        r.cpu_submit_ms,
        first
    );
    Ok(())
}

/// Resident memory of this process in MB, where `/proc` says (Linux: `VmRSS`, in kB).
fn resident_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

fn check_args(args: &BenchArgs) -> Result<()> {
    if args.batch == 0 {
        return Err(Error::InvalidArgument("--batch must be at least 1".into()));
    }
    if args.runs == 0 {
        return Err(Error::InvalidArgument("--runs must be at least 1".into()));
    }
    if args.in_flight == 0 || args.in_flight > args.runs {
        return Err(Error::InvalidArgument(format!(
            "--in-flight must be between 1 and --runs ({})",
            args.runs
        )));
    }
    Ok(())
}

/// Blocks until queued work (the weight uploads) has finished, so it is charged to setup
/// rather than to the first inference.
fn wait_for_gpu(ctx: &GpuContext) -> Result<()> {
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
    Ok(())
}

fn report(
    args: &BenchArgs,
    ctx: &GpuContext,
    model: String,
    setup: SetupTimes,
    timed: &Timed,
    submissions: usize,
    (rss_before_mb, rss_after_mb): (Option<f64>, Option<f64>),
) -> Result<BenchReport> {
    let stats = |values: Vec<f64>| {
        LatencyStats::from_samples(&values)
            .ok_or_else(|| Error::InvalidArgument("--runs must be at least 1".into()))
    };
    let samples = &timed.samples;
    let latency = stats(samples.iter().map(|s| s.latency_ms).collect())?;
    let upload = stats(samples.iter().map(|s| s.upload_ms).collect())?;
    let encode = stats(samples.iter().map(|s| s.encode_ms).collect())?;
    let submit = stats(samples.iter().map(|s| s.submit_ms).collect())?;
    let images = (args.batch * samples.len()) as f64;
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
        in_flight: args.in_flight,
        min_ms: latency.min,
        median_ms: latency.median,
        p90_ms: latency.p90,
        max_ms: latency.max,
        wall_ms: timed.wall_ms,
        rss_before_mb,
        rss_after_mb,
        images_per_second: images / (timed.wall_ms / 1e3),
        cpu_upload_ms: upload.median,
        cpu_encode_ms: encode.median,
        cpu_submit_ms: submit.median,
        device_ms: setup.device_ms,
        plan_ms: setup.plan_ms,
        pipelines_and_upload_ms: setup.pipelines_and_upload_ms,
        first_inference_ms: setup.first_inference_ms,
    })
}

fn print_text(r: &BenchReport) -> Result<()> {
    outln!(
        "{} on {} ({}, {} kernels)",
        r.model,
        r.adapter,
        r.backend,
        r.kernels
    );
    outln!(
        "one-time: device {:.1} ms, plan {:.1} ms, pipelines + weight upload {:.1} ms, first inference {:.1} ms",
        r.device_ms, r.plan_ms, r.pipelines_and_upload_ms, r.first_inference_ms
    );
    outln!(
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
    outln!(
        "throughput: {:.1} images/s with {} in flight (upload and readback included)",
        r.images_per_second,
        r.in_flight
    );
    outln!(
        "host per inference: upload {:.3} ms, encode {:.3} ms, submit {:.3} ms (GPU time per kernel: `profile`)",
        r.cpu_upload_ms, r.cpu_encode_ms, r.cpu_submit_ms
    );
    if let (Some(before), Some(after)) = (r.rss_before_mb, r.rss_after_mb) {
        outln!("resident memory: {before:.1} MB before the timed runs, {after:.1} MB after");
    }
    Ok(())
}
