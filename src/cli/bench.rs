//! `bench`: end-to-end latency (upload, dispatches, readback) and one-time costs.

use std::process::ExitCode;

use clap::Args;
use mobilenet_wgpu::{Error, Result};

use super::ModelArgs;

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
}

pub fn execute(args: &BenchArgs, _backend: Option<&str>) -> Result<ExitCode> {
    let _ = &args.model;
    Err(Error::InvalidArgument("bench is not implemented yet".into()))
}
