//! `profile`: GPU time of every dispatch, with the work it does (MACs, bytes) and the rate
//! it reaches, so the slowest layers and their bottleneck (compute or memory) stand out.

mod chart;
mod efficiency;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use mobilenet_wgpu::gpu::{profile, Profile, ProfileOptions, StepProfile, TimestampSource, Timing};
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::verify::random_input_for;
use mobilenet_wgpu::Precision;
use mobilenet_wgpu::{hub, Error, Result};

use efficiency::{kernel_totals, measure_reference, share, KernelTotal, Reference};

use super::{open_gpu, print_json, ModelArgs};

/// Widest layer name the table prints before shortening it from the left.
const NAME_WIDTH: usize = 40;

#[derive(Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Images per inference.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Timed runs averaged per dispatch (after one warm-up run).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Time each dispatch with the host clock (submit + wait) even where the device has
    /// GPU timestamps.
    #[arg(long)]
    wall_clock: bool,
    /// Write a Chrome trace (open in ui.perfetto.dev or chrome://tracing).
    #[arg(long, value_name = "OUT.json")]
    trace: Option<PathBuf>,
    /// Write a bar chart of the time per layer.
    #[arg(long, value_name = "OUT.svg")]
    svg: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Skip the reference GEMM that the kernel-efficiency table compares kernels with.
    #[arg(long)]
    no_reference: bool,
}

/// One table row: a step's figures, time and rates.
#[derive(serde::Serialize)]
struct LayerRow<'a> {
    #[serde(flatten)]
    step: &'a StepProfile,
    gflops: f64,
    gb_per_s: f64,
    /// Fraction of the total GPU time.
    share: f64,
}

/// What `--json` prints.
#[derive(serde::Serialize)]
struct Report<'a> {
    model: &'a str,
    adapter: &'a str,
    backend: &'a str,
    device_features: &'a str,
    batch: usize,
    runs: usize,
    timestamp_source: TimestampSource,
    timestamp_period_ns: f32,
    dispatches: usize,
    total_gpu_us: f64,
    run_wall_us: f64,
    /// Per image, as `info` reports it.
    total_macs: usize,
    layers: Vec<LayerRow<'a>>,
    /// Every (file, entry point), slowest first.
    kernels: Vec<KernelTotal>,
    /// The best GEMM-like kernel on a reference shape, same adapter, same run.
    reference: Option<Reference>,
}

pub fn execute(args: &ProfileArgs, backend: Option<&str>) -> Result<ExitCode> {
    if args.batch == 0 || args.runs == 0 {
        return Err(Error::InvalidArgument(
            "--batch and --runs must be at least 1".into(),
        ));
    }
    let model = args.model.load(Some(hub::DEFAULT_MODEL))?;
    let ctx = open_gpu(backend)?;
    let family = args.model.kernels.resolve(ctx.adapter_info.device_type);
    let plan = Plan::build_for(&model.graph, args.batch, args.model.precision, family)?;
    let input = random_input_for(&ctx, &model.graph, args.batch, args.model.seed)?;
    let timing = if args.wall_clock {
        Timing::WallClock
    } else {
        Timing::Auto
    };
    let options = ProfileOptions {
        runs: args.runs,
        timing,
    };
    let profile = profile(&ctx, &model.graph, &plan, &input, options)?;
    // The reference GEMM is a float kernel: int8 profiles have no float yardstick.
    let reference = if args.no_reference || args.model.precision == Precision::Int8 {
        None
    } else {
        Some(measure_reference(
            &ctx,
            args.model.precision,
            plan.kernels(),
            options,
        )?)
    };
    if !args.wall_clock && profile.timestamp_source == TimestampSource::WallClockPerDispatch {
        errln!(
            "note: this device has no TIMESTAMP_QUERY ({}); each dispatch is timed with the \
             host clock around submit + wait, which adds submission latency to every step",
            profile.device_features
        );
    }
    if let Some(path) = &args.trace {
        write_trace(&profile, path)?;
    }
    if let Some(path) = &args.svg {
        chart::write_svg(&profile, &model.name, path)?;
    }
    let report = report(&profile, &model.name, reference);
    if args.json {
        print_json(&report)?;
    } else {
        print_table(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_trace(profile: &Profile, path: &Path) -> Result<()> {
    let text = serde_json::to_string(&profile.chrome_trace())
        .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    mobilenet_wgpu::io::write_file(path, text.as_bytes())
}

fn report<'a>(profile: &'a Profile, model: &'a str, reference: Option<Reference>) -> Report<'a> {
    let total = profile.total_gpu_us();
    let layers = profile
        .steps
        .iter()
        .map(|step| LayerRow {
            step,
            gflops: step.gflops(profile.batch),
            gb_per_s: step.gigabytes_per_second(),
            share: share(step.gpu_us, total),
        })
        .collect();
    Report {
        model,
        adapter: &profile.adapter,
        backend: &profile.backend,
        device_features: &profile.device_features,
        batch: profile.batch,
        runs: profile.runs,
        timestamp_source: profile.timestamp_source,
        timestamp_period_ns: profile.timestamp_period_ns,
        dispatches: profile.steps.len(),
        total_gpu_us: total,
        run_wall_us: profile.run_wall_us,
        total_macs: profile.total_macs(),
        layers,
        kernels: kernel_totals(profile, reference.as_ref()),
        reference,
    }
}

fn print_table(r: &Report) -> Result<()> {
    outln!(
        "{} on {} ({}), batch {}, mean of runs: {}, {}",
        r.model,
        r.adapter,
        r.backend,
        r.batch,
        r.runs,
        r.timestamp_source.as_str()
    );
    outln!("device features: {}", r.device_features);
    outln!(
        "{:<NAME_WIDTH$} {:<34} {:>12} {:>9} {:>9} {:>9} {:>8} {:>7} {:>6}",
        "layer",
        "kernel [workgroup]",
        "output",
        "MMAC",
        "KB r+w",
        "GPU µs",
        "GFLOP/s",
        "GB/s",
        "share"
    );
    for row in &r.layers {
        let f = &row.step.figures;
        let [x, y, z] = f.workgroup_size;
        let kernel = format!("{}:{} [{x}x{y}x{z}]", f.shader, f.entry);
        outln!(
            "{:<NAME_WIDTH$} {:<34} {:>12} {:>9.2} {:>9.1} {:>9.1} {:>8.2} {:>7.2} {:>5.1}%",
            shorten(&f.name, NAME_WIDTH),
            kernel,
            f.output_shape,
            f.macs as f64 / 1e6,
            (f.bytes_read + f.bytes_written) as f64 / 1e3,
            row.step.gpu_us,
            row.gflops,
            row.gb_per_s,
            row.share * 100.0
        );
    }
    let bytes: u64 = r
        .layers
        .iter()
        .map(|l| l.step.figures.bytes_read + l.step.figures.bytes_written)
        .sum();
    outln!(
        "total: {} dispatches, {:.1} MMAC per image, {:.2} MB r+w, {:.1} µs GPU; {:.1} µs per profiled run on the host",
        r.dispatches,
        r.total_macs as f64 / 1e6,
        bytes as f64 / 1e6,
        r.total_gpu_us,
        r.run_wall_us
    );
    efficiency::print(&r.kernels, r.reference.as_ref())
}

/// `name` cut to `width` characters, keeping its end (the most specific part). TFLite
/// names list several tensors joined by `;`; only the first, the op's own, is kept.
fn shorten(name: &str, width: usize) -> String {
    let name = name.split(';').next().unwrap_or(name);
    let count = name.chars().count();
    if count <= width {
        return name.to_string();
    }
    let tail: String = name.chars().skip(count + 1 - width).collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_keep_their_end() {
        assert_eq!(shorten("abcdef", 4), "…def");
        assert_eq!(shorten("abcd", 4), "abcd");
        assert_eq!(shorten("ab", 4).chars().count(), 2);
        assert_eq!(
            shorten("net/conv/Relu6;net/conv/add_fold", 12),
            "…/conv/Relu6"
        );
    }
}
