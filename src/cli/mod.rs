//! Command-line interface: argument definitions and dispatch to one module per command.
//!
//! Exit codes: 0 success (also when standard output is closed early, as by `| head`), 1 a
//! bad input or a runtime error (one `error:` line on stderr; `verify` when a layer fails
//! its check; `classify` when any image failed, one line per image), 2 a usage error
//! (clap's message).
//! Output goes through [`outln!`] and [`errln!`], never `println!`, which panics when its
//! stream is closed.

/// `println!` that returns an [`Error::Io`] from the enclosing function (with `?`)
/// instead of panicking when standard output is closed or unwritable.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::cli::stdout_error)?
    }};
}

/// `eprintln!` that ignores a closed standard error: diagnostics must not end the run.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod bench;
mod classify;
mod download;
mod info;
mod profile;
mod run;
mod source;
mod verify;

use std::io::ErrorKind;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mobilenet_wgpu::gpu::GpuContext;
use mobilenet_wgpu::plan::KernelChoice;
use mobilenet_wgpu::runtime::Runtime;
use mobilenet_wgpu::{Error, Result};

pub use source::ModelArgs;

/// MobileNet V1/V2/V3 on any GPU through wgpu (Vulkan, Metal, DX12, GL).
#[derive(Parser)]
#[command(name = "mobilenet-wgpu", version, about)]
struct Cli {
    /// GPU backend(s) to use, e.g. `vulkan`, `gl`, `metal`, `dx12` (overrides WGPU_BACKEND).
    #[arg(long, global = true)]
    backend: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify images and print the top classes.
    Classify(classify::ClassifyArgs),
    /// Run a model on an .npy array in the file's own layout and type; write the output as .npy.
    Run(run::RunArgs),
    /// Print the layers, shapes, parameters, MACs and the execution plan.
    Info(info::InfoArgs),
    /// Compare the GPU against the CPU reference layer by layer.
    Verify(verify::VerifyArgs),
    /// End-to-end latency and throughput, with the one-time costs.
    Bench(bench::BenchArgs),
    /// GPU time of every dispatch with MACs, bytes, GFLOP/s and GB/s; trace and chart.
    Profile(profile::ProfileArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    download::show_progress();
    let backend = cli.backend.clone();
    let result = match cli.command {
        Command::Classify(args) => classify::execute(&args, backend.as_deref()),
        Command::Run(args) => run::execute(&args, backend.as_deref()),
        Command::Info(args) => info::execute(&args),
        Command::Verify(args) => verify::execute(&args, backend.as_deref()),
        Command::Bench(args) => bench::execute(&args, backend.as_deref()),
        Command::Profile(args) => profile::execute(&args, backend.as_deref()),
    };
    match result {
        Ok(code) => code,
        // The reader went away (`| head`): what it wanted was written.
        Err(Error::Io { path, source })
            if path == Path::new(STDOUT) && source.kind() == ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            errln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The error of a failed write to standard output.
fn stdout_error(source: std::io::Error) -> Error {
    Error::io(STDOUT, source)
}

/// How errors name standard output (only its broken pipe ends a run quietly: a closed pipe
/// given as an output file is an error).
const STDOUT: &str = "standard output";

/// The runtime on the GPU `--backend` (else `WGPU_BACKEND`) selects, running `kernels`.
fn open_runtime(backend: Option<&str>, kernels: KernelChoice) -> Result<Runtime> {
    Ok(Runtime::with_backends(parse_backends(backend)?)?.with_kernels(kernels))
}

/// Opens the GPU, honouring `--backend` (else `WGPU_BACKEND`).
fn open_gpu(backend: Option<&str>) -> Result<GpuContext> {
    GpuContext::new(parse_backends(backend)?)
}

fn parse_backends(backend: Option<&str>) -> Result<Option<wgpu::Backends>> {
    let Some(name) = backend else { return Ok(None) };
    let parsed = wgpu::Backends::from_comma_list(name);
    if parsed.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "unknown backend `{name}`; use vulkan, gl, metal, dx12 or a comma list"
        )));
    }
    Ok(Some(parsed))
}

/// Prints `value` as one line of JSON.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string(value).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    outln!("{text}");
    Ok(())
}
