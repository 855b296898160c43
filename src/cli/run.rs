//! `run`: raw model output for a float32 NHWC `.npy` input, written as `.npy`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::{Error, Result};
use npyz::WriterBuilder;

use super::{open_runtime, ModelArgs};

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input: float32 array of shape [N, H, W, C] in the model's real-valued input domain.
    #[arg(long, value_name = "IN.npy")]
    input_npy: PathBuf,
    /// Output: float32 array [N, classes] (or [N, H, W, C] for spatial outputs).
    #[arg(long, value_name = "OUT.npy")]
    output_npy: PathBuf,
    /// Write the values before the final softmax.
    #[arg(long)]
    logits: bool,
}

pub fn execute(args: &RunArgs, backend: Option<&str>) -> Result<ExitCode> {
    let model = args.model.load(None)?;
    let graph = if args.logits {
        model.graph.logits()?
    } else {
        model.graph.clone()
    };
    let (shape, input) = read_npy(&args.input_npy)?;
    let expected = graph.input_shape();
    let per_image = [expected.h, expected.w, expected.c];
    if shape.len() != 4 || shape[1..] != per_image[..] || shape[0] == 0 {
        return Err(Error::InvalidArgument(format!(
            "{} has shape {shape:?}; {} expects [N, {}, {}, {}] float32",
            args.input_npy.display(),
            model.name,
            expected.h,
            expected.w,
            expected.c
        )));
    }
    let batch = shape[0];
    let model = Model {
        graph: graph.clone(),
        ..model
    };
    let output = open_runtime(backend)?
        .session_with_precision(&model, batch, args.model.precision)?
        .run(&input)?
        .data;
    let out = graph.output_shape();
    let out_shape: Vec<u64> = if out.h == 1 && out.w == 1 {
        vec![batch as u64, out.c as u64]
    } else {
        vec![batch as u64, out.h as u64, out.w as u64, out.c as u64]
    };
    write_npy(&args.output_npy, &out_shape, &output)?;
    eprintln!("wrote {} {:?}", args.output_npy.display(), out_shape);
    Ok(ExitCode::SUCCESS)
}

fn read_npy(path: &PathBuf) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::InvalidArgument(format!("{}: {reason}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(bad(
            "Fortran-ordered arrays are not supported; save it C-ordered".into(),
        ));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let data = npy
        .into_vec::<f32>()
        .map_err(|e| bad(format!("expected float32 data: {e}")))?;
    Ok((shape, data))
}

fn write_npy(path: &PathBuf, shape: &[u64], data: &[f32]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .map_err(|e| Error::io(path, e))?;
    writer
        .extend(data.iter().copied())
        .map_err(|e| Error::io(path, e))?;
    writer.finish().map_err(|e| Error::io(path, e))
}
