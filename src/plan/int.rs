//! Int8 plans: a quantized graph's integer steps ([`quant::lower`](crate::quant::lower)), one
//! GPU step each, with every ReLU/ReLU6/range clamp fused into the step producing its
//! input (the kernels clamp before storing), where that step is its input's only reader.

use super::fold::Folded;
use super::{memory, Epilogue, Kernel, KernelFamily, Plan, Step, TensorRef};
use crate::error::{Error, Result};
use crate::graph::{Graph, IntType, Op, TensorId};
use crate::quant::lower::{lower, IntStep};
use crate::Precision;

/// An integer step, the types it reads and writes, and the bounds its output is clamped
/// to before it is stored.
#[derive(Clone, Debug)]
pub struct IntKernel {
    pub step: IntStep,
    pub inputs: Vec<IntType>,
    pub output: IntType,
    pub clamp: (i32, i32),
}

/// Plans `graph`'s integer steps for `batch` images.
pub(super) fn build(graph: &Graph, batch: usize, family: KernelFamily) -> Result<Plan> {
    let int_steps = lower(graph)?;
    let consumers = graph.consumers();
    let output = storage(graph, graph.output());
    let mut absorbed = vec![false; int_steps.len()];
    let mut steps = Vec::new();
    for (index, step) in int_steps.iter().enumerate() {
        if absorbed[index] || matches!(step, IntStep::Input | IntStep::Copy) {
            continue;
        }
        let id = TensorId(index);
        let node = graph.node(id);
        let dtype = |id: TensorId| {
            graph
                .node(id)
                .integer
                .as_ref()
                .map(|i| i.output.dtype)
                .ok_or_else(|| Error::NotInteger {
                    layer: graph.node(id).name.clone(),
                    reason: "it is stored in float".into(),
                })
        };
        let output_type = dtype(id)?;
        let input_types = node
            .inputs
            .iter()
            .map(|&i| dtype(i))
            .collect::<Result<Vec<_>>>()?;
        let mut clamp = output_type.range();
        // Fuse the clamps that alone read this step's output (softmax's kernel has no
        // clamp: its output grid is fixed).
        let mut last = id;
        let mut fused = vec![id];
        let fusable = !matches!(step, IntStep::Softmax(_));
        while let (true, [next]) = (fusable, &consumers[last.0][..]) {
            let next = *next;
            let IntStep::Clamp { min, max } = int_steps[next.0] else {
                break;
            };
            if last == output {
                break;
            }
            clamp = (clamp.0.max(min), clamp.1.min(max));
            absorbed[next.0] = true;
            fused.push(next);
            last = next;
        }
        let read = |input: &TensorId| TensorRef {
            tensor: storage(graph, *input),
            slot: usize::MAX,
            shape: graph.shape(*input),
        };
        steps.push(Step {
            name: graph.node(last).name.clone(),
            fused,
            kernel: Kernel::Int(Box::new(IntKernel {
                step: step.clone(),
                inputs: input_types,
                output: output_type,
                clamp,
            })),
            inputs: node.inputs.iter().map(read).collect(),
            residual: None,
            output: TensorRef {
                tensor: last,
                slot: usize::MAX,
                shape: graph.shape(last),
            },
            epilogue: Epilogue::default(),
        });
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

/// The tensor whose storage holds `id` in an int8 plan: Flatten and Dropout keep their
/// input's bytes (a requantization, float plans' other alias, is a step here).
fn storage(graph: &Graph, mut id: TensorId) -> TensorId {
    while let Op::Flatten | Op::Dropout = graph.node(id).op {
        id = graph.node(id).inputs[0];
    }
    id
}
