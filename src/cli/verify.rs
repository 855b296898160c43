//! `verify`: GPU against the CPU reference, layer by layer; non-zero exit above tolerance.

use std::process::ExitCode;

use clap::Args;
use mobilenet_wgpu::verify::{random_input_for, verify_graph, VerifyReport};
use mobilenet_wgpu::Result;

use super::{open_gpu, print_json, ModelArgs};

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Batch size.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn execute(args: &VerifyArgs, backend: Option<&str>) -> Result<ExitCode> {
    let model = args.model.load(None)?;
    let ctx = open_gpu(backend)?;
    let input = random_input_for(&ctx, &model.graph, args.batch, args.model.seed)?;
    let precision = args.model.precision;
    let kernels = args.model.kernels;
    let report = verify_graph(&ctx, &model.graph, args.batch, &input, precision, kernels)?;
    if args.json {
        print_json(&report)?;
    } else {
        print_table(&model.name, &report)?;
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_table(name: &str, report: &VerifyReport) -> Result<()> {
    outln!(
        "{name} on {} (batch {}, {} storage, {} kernels)",
        report.adapter,
        report.batch,
        report.precision,
        report.kernels
    );
    outln!(
        "{:<48} {:<16} {:>14} {:>12} {:>12}",
        "layer",
        "kernel",
        "output",
        "max abs",
        "max rel"
    );
    for layer in &report.layers {
        outln!(
            "{:<48} {:<16} {:>14} {:>12.3e} {:>12.3e}",
            layer.name,
            layer.kernel,
            layer.shape,
            layer.max_abs_diff,
            layer.max_rel_diff
        );
    }
    outln!(
        "{} dispatches, {} buffers, {:.2} MB peak activations",
        report.dispatches,
        report.buffers,
        report.peak_activation_bytes as f64 / 1e6
    );
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    outln!(
        "{verdict}: max abs diff {:.3e}, max relative diff {:.3e} (tolerance {:.0e})",
        report.max_abs_diff,
        report.max_rel_diff,
        report.tolerance
    );
    Ok(())
}
