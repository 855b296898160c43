//! Int8 plans: a quantized graph's integer steps ([`quant::lower`](crate::quant::lower)), one
//! GPU step each, with every ReLU/ReLU6/range clamp fused into the step producing its
//! input (the kernels clamp before storing), where that step is its input's only reader;
//! so are a convolution's HARD_SWISH and residual ADD.

use super::fold::Folded;
use super::{memory, Epilogue, Kernel, KernelFamily, Plan, Step, TensorRef, Unplaced};
use crate::error::{Error, Result};
use crate::graph::{Graph, IntType, Op, TensorId};
use crate::quant::lower::{lower, IntStep};
use crate::quant::params::{Add, HardSwish};
use crate::Precision;

/// An integer step, the types it reads and writes, and the bounds its output is clamped
/// to before it is stored.
#[derive(Clone, Debug)]
pub struct IntKernel {
    pub step: IntStep,
    pub inputs: Vec<IntType>,
    pub output: IntType,
    pub clamp: (i32, i32),
    /// Where the step's channels start in its output: a concatenation runs as one step
    /// per input, each writing its own channels (0 for every other step).
    pub channel_offset: usize,
    /// A HARD_SWISH fused after a convolution.
    pub hard_swish: Option<FusedHardSwish>,
    /// A residual ADD fused after a convolution (read from the step's `residual`), after
    /// its HARD_SWISH if both are.
    pub residual: Option<FusedAdd>,
}

/// A HARD_SWISH of a convolution's stored output, and the clamp after it.
#[derive(Clone, Debug)]
pub struct FusedHardSwish {
    pub hard_swish: HardSwish,
    pub clamp: (i32, i32),
}

/// An ADD of a convolution's stored output and an earlier tensor, and the clamp after it.
#[derive(Clone, Debug)]
pub struct FusedAdd {
    pub add: Add,
    /// Whether the convolution is the ADD's first operand (its parameters are per operand).
    pub conv_first: bool,
    pub clamp: (i32, i32),
}

/// Plans `graph`'s integer steps for `batch` images.
pub(super) fn build(graph: &Graph, batch: usize, family: KernelFamily) -> Result<Plan> {
    let int_steps = lower(graph)?;
    let consumers = graph.consumers();
    let output = storage(graph, graph.output());
    let fusion = Fusion {
        graph,
        steps: &int_steps,
        consumers: &consumers,
        output,
    };
    let mut absorbed = vec![false; int_steps.len()];
    let mut steps = Vec::new();
    for (index, step) in int_steps.iter().enumerate() {
        if absorbed[index] || matches!(step, IntStep::Input | IntStep::Copy) {
            continue;
        }
        let id = TensorId(index);
        let node = graph.node(id);
        let output_type = dtype(graph, id)?;
        let inputs = node.inputs.iter().map(|&i| Ok((i, dtype(graph, i)?)));
        let inputs = inputs.collect::<Result<Vec<_>>>()?;
        // Softmax's kernel has no clamp (its output grid is fixed); concatenation parts
        // write only some channels.
        let fusable = !matches!(step, IntStep::Softmax(_) | IntStep::Concat(_));
        let mut fused = vec![id];
        let mut clamp = output_type.range();
        if fusable {
            clamp = fusion.absorb_clamps(&mut fused, clamp);
        }
        let (hard_swish, residual) = match step {
            IntStep::Conv { .. } => {
                let hard_swish = fusion.hard_swish(&mut fused, output_type);
                (hard_swish, fusion.residual(&mut fused, output_type))
            }
            _ => (None, None),
        };
        for &id in &fused[1..] {
            absorbed[id.0] = true;
        }
        let step_of = |step: IntStep, inputs: &[(TensorId, IntType)], channel_offset| {
            let kernel = IntKernel {
                step,
                inputs: inputs.iter().map(|i| i.1).collect(),
                output: output_type,
                clamp,
                channel_offset,
                hard_swish: hard_swish.clone(),
                residual: residual.as_ref().map(|r| r.0.clone()),
            };
            let mut step = gpu_step(graph, &fused, kernel, inputs);
            step.residual = residual.as_ref().map(|r| read(graph, r.1));
            step
        };
        match step {
            IntStep::Concat(tables) => {
                let mut offset = 0;
                for (table, input) in tables.iter().zip(&inputs) {
                    let part = IntStep::Concat(vec![table.clone()]);
                    steps.push(step_of(part, std::slice::from_ref(input), offset));
                    offset += graph.shape(input.0).c;
                }
            }
            _ => steps.push(step_of(step.clone(), &inputs, 0)),
        }
    }
    let folded = Folded::unfolded(graph);
    let mut plan = memory::assign(&folded, steps, output, batch, Precision::Int8)?;
    plan.grids = graph
        .nodes()
        .iter()
        .map(|n| n.integer.as_ref().map(|i| i.output))
        .collect();
    plan.kernels = family;
    Ok(plan)
}

/// What a fusion looks at: the graph, its integer steps, each tensor's readers and the
/// graph's output (which is stored, so nothing fuses past it).
struct Fusion<'a> {
    graph: &'a Graph,
    steps: &'a [IntStep],
    consumers: &'a [Vec<TensorId>],
    output: TensorId,
}

impl Fusion<'_> {
    /// The one reader of the end of `fused`, unless that end is the graph's output.
    fn sole_reader(&self, fused: &[TensorId]) -> Option<TensorId> {
        let last = fused[fused.len() - 1];
        match self.consumers[last.0][..] {
            [next] if last != self.output => Some(next),
            _ => None,
        }
    }

    /// Appends to `fused` the clamps that alone read its end, one after another; returns
    /// `range` narrowed by them.
    fn absorb_clamps(&self, fused: &mut Vec<TensorId>, range: (i32, i32)) -> (i32, i32) {
        let mut clamp = range;
        while let Some(next) = self.sole_reader(fused) {
            let IntStep::Clamp { min, max } = self.steps[next.0] else {
                break;
            };
            clamp = (clamp.0.max(min), clamp.1.min(max));
            fused.push(next);
        }
        clamp
    }

    /// Fuses the HARD_SWISH that alone reads the end of `fused` (a convolution and its
    /// clamps) and stores the same type, and the clamps after it.
    fn hard_swish(&self, fused: &mut Vec<TensorId>, conv_type: IntType) -> Option<FusedHardSwish> {
        let id = self.sole_reader(fused)?;
        let IntStep::HardSwish(hard_swish) = self.steps[id.0] else {
            return None;
        };
        let stored = self.graph.node(id).integer.as_ref()?.output.dtype;
        if stored != conv_type {
            return None;
        }
        fused.push(id);
        let clamp = self.absorb_clamps(fused, stored.range());
        Some(FusedHardSwish { hard_swish, clamp })
    }

    /// Fuses the ADD that alone reads the end of `fused` (a convolution and what was fused
    /// after it), and the clamps after it, when the ADD's other operand is computed before
    /// the convolution; returns it with that operand. The store reads that operand and
    /// saturates the sum as the convolution's type, so all three must share it.
    fn residual(
        &self,
        fused: &mut Vec<TensorId>,
        conv_type: IntType,
    ) -> Option<(FusedAdd, TensorId)> {
        let (conv, last) = (fused[0], fused[fused.len() - 1]);
        let add_id = self.sole_reader(fused)?;
        let IntStep::Add(add) = self.steps[add_id.0] else {
            return None;
        };
        let inputs = &self.graph.node(add_id).inputs;
        let conv_first = inputs[0] == last;
        let other = inputs[usize::from(conv_first)];
        if other == last || storage(self.graph, other).0 >= conv.0 {
            return None;
        }
        let same_type = |id| dtype(self.graph, id).is_ok_and(|t| t == conv_type);
        if !same_type(add_id) || !same_type(other) {
            return None;
        }
        fused.push(add_id);
        let clamp = self.absorb_clamps(fused, conv_type.range());
        let fused_add = FusedAdd {
            add,
            conv_first,
            clamp,
        };
        Some((fused_add, other))
    }
}

/// Where step inputs read tensor `id`.
fn read(graph: &Graph, id: TensorId) -> TensorRef<Unplaced> {
    TensorRef::unplaced(storage(graph, id), graph.shape(id))
}

/// The integer type tensor `id` is stored as.
fn dtype(graph: &Graph, id: TensorId) -> Result<IntType> {
    let node = graph.node(id);
    let integer = node.integer.as_ref().ok_or_else(|| Error::NotInteger {
        layer: node.name.clone(),
        reason: "it is stored in float".into(),
    });
    Ok(integer?.output.dtype)
}

/// The step computing `fused` (a node and the clamps fused after it) from `inputs`.
fn gpu_step(
    graph: &Graph,
    fused: &[TensorId],
    kernel: IntKernel,
    inputs: &[(TensorId, IntType)],
) -> Step<Unplaced> {
    let last = fused[fused.len() - 1];
    Step {
        name: graph.node(last).name.clone(),
        fused: fused.to_vec(),
        kernel: Kernel::Int(Box::new(kernel)),
        inputs: inputs
            .iter()
            .map(|&(input, _)| read(graph, input))
            .collect(),
        residual: None,
        output: TensorRef::unplaced(last, graph.shape(last)),
        epilogue: Epilogue::default(),
    }
}

/// The tensor whose storage holds `id` in an int8 plan: Flatten and Dropout keep their
/// input's bytes (a requantization, float plans' other alias, is a step here).
fn storage(graph: &Graph, mut id: TensorId) -> TensorId {
    while let Op::Flatten | Op::Dropout = graph.node(id).op {
        id = graph.node(id).inputs[0];
    }
    id
}
