//! `info`: layers with output shapes, parameters and MACs, and the plan's figures.

use std::process::ExitCode;

use clap::Args;
use mobilenet_wgpu::graph::Graph;
use mobilenet_wgpu::model::{Format, Preset, TensorSpec};
use mobilenet_wgpu::plan::{KernelChoice, Plan, Step, TensorRef};
use mobilenet_wgpu::{Precision, Result};

use super::{print_json, ModelArgs};

#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Batch size of the plan.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct LayerInfo<'a> {
    name: &'a str,
    op: &'static str,
    shape: String,
    params: usize,
    macs: usize,
}

/// Where a step's tensor lives during execution.
#[derive(serde::Serialize)]
struct Placement<'a> {
    tensor: usize,
    /// The graph node holding the value.
    name: &'a str,
    slot: usize,
    shape: String,
    /// Over the whole batch, f32.
    bytes: usize,
}

/// One dispatch of the plan and the buffer slots it reads and writes: the memory plan.
#[derive(serde::Serialize)]
struct StepInfo<'a> {
    name: &'a str,
    kernel: &'static str,
    inputs: Vec<Placement<'a>>,
    residual: Option<Placement<'a>>,
    output: Placement<'a>,
}

#[derive(serde::Serialize)]
struct Info<'a> {
    model: &'a str,
    format: Format,
    /// The input and output as the file declares them (what `run` reads and writes).
    input: &'a TensorSpec,
    output: &'a TensorSpec,
    /// `classify`'s default preprocessing.
    preprocess: Preset,
    /// The kernel family asked for (`auto` resolves per adapter when a session starts).
    kernels: KernelChoice,
    input_shape: String,
    output_shape: String,
    params: usize,
    macs: usize,
    batch: usize,
    precision: Precision,
    dispatches: usize,
    buffers: usize,
    peak_activation_bytes: usize,
    slot_bytes: Vec<usize>,
    layers: Vec<LayerInfo<'a>>,
    steps: Vec<StepInfo<'a>>,
}

pub fn execute(args: &InfoArgs) -> Result<ExitCode> {
    let model = args.model.load(None)?;
    let graph = &model.graph;
    // `info` opens no device: with `auto` it shows the plan a CPU adapter would run.
    let family = args.model.kernels.resolve(wgpu::DeviceType::Cpu);
    let plan = Plan::build_for(graph, args.batch, args.model.precision, family)?;
    let layers = graph
        .nodes()
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let stats = graph.layer_stats(i);
            LayerInfo {
                name: &node.name,
                op: node.op.kind(),
                shape: node.shape.to_string(),
                params: stats.params,
                macs: stats.macs,
            }
        })
        .collect();
    let totals = graph.totals();
    let info = Info {
        model: &model.name,
        format: model.format,
        input: &model.input,
        output: &model.output,
        preprocess: Preset::default_for(&model.input),
        kernels: args.model.kernels,
        input_shape: graph.input_shape().to_string(),
        output_shape: graph.output_shape().to_string(),
        params: totals.params,
        macs: totals.macs,
        batch: args.batch,
        precision: plan.precision,
        dispatches: plan.dispatch_count(),
        buffers: plan.buffer_count(),
        peak_activation_bytes: plan.peak_activation_bytes(),
        slot_bytes: plan.slots.iter().map(|s| s.bytes).collect(),
        layers,
        steps: plan
            .steps
            .iter()
            .map(|step| step_info(graph, step, &plan))
            .collect(),
    };
    if args.json {
        print_json(&info)?;
    } else {
        print_table(&info)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `name: [N, dims] dtype layout (quantization)`.
fn describe(spec: &TensorSpec) -> String {
    let dims: Vec<String> = spec.dims.iter().map(usize::to_string).collect();
    let quant = spec.quantization.map_or(String::new(), |q| {
        format!(", scale {} zero point {}", q.scale, q.zero_point)
    });
    format!(
        "`{}` [N, {}] {} {:?}{quant}",
        spec.name,
        dims.join(", "),
        spec.dtype,
        spec.layout
    )
}

fn step_info<'a>(graph: &'a Graph, step: &'a Step, plan: &Plan) -> StepInfo<'a> {
    // At the plan's storage precision; the planner checked the product when it sized the
    // slots, so saturating only guards against a slot-less view.
    let value_bytes = plan.batch.saturating_mul(plan.precision.bytes());
    let place = |t: &TensorRef| Placement {
        tensor: t.tensor.0,
        name: &graph.node(t.tensor).name,
        slot: t.slot,
        shape: t.shape.to_string(),
        bytes: t.shape.len().saturating_mul(value_bytes),
    };
    StepInfo {
        name: &step.name,
        kernel: step.kernel.name(),
        inputs: step.inputs.iter().map(place).collect(),
        residual: step.residual.as_ref().map(place),
        output: place(&step.output),
    }
}

fn print_table(info: &Info) -> Result<()> {
    outln!(
        "{} ({:?}): input {}, output {}",
        info.model,
        info.format,
        info.input_shape,
        info.output_shape
    );
    outln!("file input:  {}", describe(info.input));
    outln!("file output: {}", describe(info.output));
    outln!("classify preprocessing: {}", info.preprocess);
    let auto = match info.kernels {
        KernelChoice::Auto => {
            " (cpu-adapter on CPU adapters such as lavapipe, gpu on GPUs; the plan below is cpu-adapter's)"
        }
        _ => "",
    };
    outln!("kernels: {}{auto}", info.kernels);
    outln!(
        "{:<48} {:<14} {:>14} {:>10} {:>12}",
        "layer",
        "op",
        "output",
        "params",
        "MACs"
    );
    for layer in &info.layers {
        outln!(
            "{:<48} {:<14} {:>14} {:>10} {:>12}",
            layer.name,
            layer.op,
            layer.shape,
            layer.params,
            layer.macs
        );
    }
    outln!(
        "total: {:.3} M params, {:.1} M MACs per image",
        info.params as f64 / 1e6,
        info.macs as f64 / 1e6
    );
    outln!(
        "plan (batch {}, {}): {} dispatches, {} buffers, {:.2} MB peak activations",
        info.batch,
        info.precision,
        info.dispatches,
        info.buffers,
        info.peak_activation_bytes as f64 / 1e6
    );
    Ok(())
}
