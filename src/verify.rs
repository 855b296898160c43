//! GPU-vs-CPU verification: runs the planned, fused GPU path and the plain CPU reference
//! on the unfused graph with the same input, and compares every layer the GPU writes.

use rand::{Rng, SeedableRng};

use crate::gpu::{max_storage_binding, Executor, GpuContext};
use crate::graph::{Graph, TensorId};
use crate::plan::{KernelChoice, KernelFamily, Plan};
use crate::{Error, Precision, Result};

/// Relative tolerance: max |gpu − cpu| over a layer, divided by the layer's max |cpu|.
pub const TOLERANCE: f32 = 1e-4;
/// The same with f16 storage: every stored value is rounded to 11 significant bits
/// (relative error up to 4.9e-4), and the rounding compounds from layer to layer.
pub const F16_TOLERANCE: f32 = 3e-2;
/// f16 storage with the GPU family, whose GEMM also rounds its products and short sums
/// to f16: on the builders' random V2 the worst layer moves from 1.8e-2 to 2.9e-2.
pub const F16_ARITHMETIC_TOLERANCE: f32 = 5e-2;

/// Int8 plans compute TFLite's integer arithmetic exactly: not one LSB may differ.
pub const INT8_TOLERANCE: f32 = 0.0;

/// The tolerance [`verify_graph`] applies at `precision` with the kernels of `family`.
pub fn tolerance(precision: Precision, family: KernelFamily) -> f32 {
    match (precision, family) {
        (Precision::F32, _) => TOLERANCE,
        (Precision::F16, KernelFamily::CpuAdapter) => F16_TOLERANCE,
        (Precision::F16, KernelFamily::Gpu) => F16_ARITHMETIC_TOLERANCE,
        (Precision::Int8, _) => INT8_TOLERANCE,
    }
}

/// Comparison of one GPU step's output with the CPU value of the same tensor.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerDiff {
    pub name: String,
    pub kernel: &'static str,
    pub shape: String,
    pub max_abs_diff: f32,
    pub max_abs_value: f32,
    pub max_rel_diff: f32,
}

/// The outcome of [`verify_graph`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct VerifyReport {
    pub adapter: String,
    pub batch: usize,
    pub precision: Precision,
    pub kernels: KernelFamily,
    pub max_abs_diff: f32,
    pub max_rel_diff: f32,
    pub tolerance: f32,
    pub passed: bool,
    pub dispatches: usize,
    pub buffers: usize,
    pub peak_activation_bytes: usize,
    pub layers: Vec<LayerDiff>,
}

/// [`random_input`] for a batch that `ctx` can take: refused before anything is allocated
/// when the batch's input alone is more than one storage buffer of the device holds.
pub fn random_input_for(
    ctx: &GpuContext,
    graph: &Graph,
    batch: usize,
    seed: u64,
) -> Result<Vec<f32>> {
    let values = graph.input_shape().len();
    let max = max_storage_binding(&ctx.device.limits());
    let bytes = values.checked_mul(batch).and_then(|v| v.checked_mul(4));
    match bytes {
        Some(bytes) if bytes as u64 <= max => Ok(random_input(graph, batch, seed)),
        _ => Err(Error::DeviceLimit(format!(
            "{batch} inputs of {values} values are more than one GPU buffer holds ({max} bytes)"
        ))),
    }
}

/// A deterministic input in [-1, 1] for `graph` at `batch`.
pub fn random_input(graph: &Graph, batch: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..batch * graph.input_shape().len())
        .map(|_| rng.random_range(-1.0..=1.0))
        .collect()
}

/// Runs `graph` on the GPU (step by step, with the `kernels` family resolved for `ctx`'s
/// adapter) and on the CPU with `input`, layer by layer.
pub fn verify_graph(
    ctx: &GpuContext,
    graph: &Graph,
    batch: usize,
    input: &[f32],
    precision: Precision,
    kernels: KernelChoice,
) -> Result<VerifyReport> {
    let family = kernels.resolve(ctx.adapter_info.device_type);
    let plan = Plan::build_for(graph, batch, precision, family)?;
    let executor = Executor::new(ctx, &plan)?;
    let gpu = executor.run_probed(input)?;
    let cpu = match precision {
        Precision::Int8 => integer_reference(graph, input, batch)?,
        _ => crate::cpu::run(graph, input, batch)?,
    };
    let mut layers = Vec::new();
    for (index, step) in plan.steps.iter().enumerate() {
        let rewritten_later = plan.steps[index + 1..]
            .iter()
            .any(|s| s.output.tensor == step.output.tensor);
        if rewritten_later {
            continue; // a partial write (concat): compare once the tensor is complete
        }
        layers.push(compare(step, &gpu[index], &cpu[step.output.tensor.0]));
    }
    let max_abs_diff = layers.iter().map(|l| l.max_abs_diff).fold(0.0, f32::max);
    let max_rel_diff = layers.iter().map(|l| l.max_rel_diff).fold(0.0, f32::max);
    let tolerance = tolerance(precision, family);
    Ok(VerifyReport {
        adapter: ctx.adapter_info.name.clone(),
        kernels: plan.kernels(),
        batch,
        precision,
        max_abs_diff,
        max_rel_diff,
        tolerance,
        passed: max_rel_diff <= tolerance,
        dispatches: plan.dispatch_count(),
        buffers: plan.buffer_count(),
        peak_activation_bytes: plan.peak_activation_bytes(),
        layers,
    })
}

/// The integer CPU reference on `input` quantized to the graph's input grid, each tensor
/// dequantized (one-to-one: equal reals are equal integers, so a tolerance of 0 compares
/// the integers).
fn integer_reference(graph: &Graph, input: &[f32], batch: usize) -> Result<Vec<Vec<f32>>> {
    let grid = |id: TensorId| graph.node(id).integer.as_ref().map(|i| i.output);
    let input_grid = crate::quant::lower::input_grid(graph)?;
    let quantized: Vec<i32> = input.iter().map(|&x| input_grid.quantize(x)).collect();
    let outputs = crate::cpu::int::run(graph, &quantized, batch)?;
    Ok(outputs
        .into_iter()
        .enumerate()
        .map(|(i, values)| match grid(TensorId(i)) {
            Some(g) => values.into_iter().map(|q| g.dequantize(q)).collect(),
            None => Vec::new(),
        })
        .collect())
}

fn compare(step: &crate::plan::Step, gpu: &[f32], cpu: &[f32]) -> LayerDiff {
    let mut max_abs_diff: f32 = if gpu.len() == cpu.len() {
        0.0
    } else {
        f32::INFINITY
    };
    let mut max_abs_value: f32 = 0.0;
    for (g, c) in gpu.iter().zip(cpu) {
        let diff = (g - c).abs();
        // NaN on either side must fail the comparison, not vanish in a max().
        max_abs_diff = if diff.is_nan() {
            f32::INFINITY
        } else {
            max_abs_diff.max(diff)
        };
        max_abs_value = max_abs_value.max(c.abs());
    }
    let max_rel_diff = max_abs_diff / max_abs_value.max(f32::MIN_POSITIVE);
    LayerDiff {
        name: step.name.clone(),
        kernel: step.kernel.name(),
        shape: step.output.shape.to_string(),
        max_abs_diff,
        max_abs_value,
        max_rel_diff: if max_abs_diff == 0.0 {
            0.0
        } else {
            max_rel_diff
        },
    }
}
