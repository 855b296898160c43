//! Pass 3: liveness analysis and assignment of tensors to storage-buffer slots.
//!
//! Activations are only needed from the step that writes them until the last step that
//! reads them, so a handful of buffers, reused round-robin, hold a whole network: a plain
//! chain ping-pongs between two, a residual block needs a third for its skip input.

use super::fold::Folded;
use super::{KernelFamily, Plan, Step, TensorRef, Unplaced};
use crate::error::{Error, Result};
use crate::graph::{Graph, TensorId};
use crate::Precision;

/// One storage buffer of the pool.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Slot {
    /// Size in bytes (the largest tensor it ever holds, times the batch).
    pub bytes: usize,
    /// Tensors assigned to this slot, in execution order.
    pub tensors: Vec<TensorId>,
}

/// The steps during which a storage tensor must keep its value (inclusive).
#[derive(Clone, Copy, Debug)]
struct Lifetime {
    tensor: TensorId,
    first: usize,
    last: usize,
}

/// Binds every tensor of `steps` to a slot and assembles the plan.
/// `output` is the tensor whose storage holds the graph output.
pub(super) fn assign(
    folded: &Folded,
    steps: Vec<Step<Unplaced>>,
    output: TensorId,
    batch: usize,
    precision: Precision,
) -> Result<Plan> {
    let graph = &folded.graph;
    if output == graph.input() {
        return Err(Error::graph(
            "output",
            "the graph output is its input: there is nothing to compute",
        ));
    }
    if steps.is_empty() {
        return Err(Error::graph("output", "the graph has no computing layer"));
    }
    let lifetimes = liveness(graph, &steps, output)?;
    let (slots, slot_of) = allocate(graph, &lifetimes, batch, precision)?;
    let steps = steps
        .into_iter()
        .map(|step| {
            let name = step.name.clone();
            step.place(&slot_of).ok_or_else(|| unplaced(&name))
        })
        .collect::<Result<Vec<_>>>()?;
    let input = TensorRef::unplaced(graph.input(), graph.input_shape());
    let output = TensorRef::unplaced(output, graph.output_shape());
    let input = input.place(&slot_of).ok_or_else(|| unplaced("input"))?;
    let output = output.place(&slot_of).ok_or_else(|| unplaced("output"))?;
    let mut plan = Plan {
        batch,
        precision,
        kernels: KernelFamily::default(),
        steps,
        slots,
        input,
        output,
        grids: Vec::new(),
    };
    folded.restore_ids(&mut plan);
    Ok(plan)
}

/// Lifetimes of the graph input and of every tensor a step writes, ordered by first write.
///
/// The input is live from step 0; the output until the last step. A tensor read by a step
/// is live during that step, so it never shares a slot with the step's output.
fn liveness(graph: &Graph, steps: &[Step<Unplaced>], output: TensorId) -> Result<Vec<Lifetime>> {
    let mut first: Vec<Option<usize>> = vec![None; graph.nodes().len()];
    let mut last = vec![0; graph.nodes().len()];
    first[graph.input().0] = Some(0);
    for (index, step) in steps.iter().enumerate() {
        for read in step.inputs.iter().chain(&step.residual) {
            let ready =
                read.tensor == graph.input() || first[read.tensor.0].is_some_and(|w| w < index);
            if !ready {
                let reason = format!(
                    "reads tensor `{}` before it is computed",
                    graph.node(read.tensor).name
                );
                return Err(Error::graph(&step.name, reason));
            }
            last[read.tensor.0] = index;
        }
        first[step.output.tensor.0].get_or_insert(index);
        last[step.output.tensor.0] = index;
    }
    if first[output.0].is_none() {
        let reason = "no step computes the graph output";
        return Err(Error::graph(&graph.node(output).name, reason));
    }
    last[output.0] = steps.len() - 1;
    let mut lifetimes: Vec<Lifetime> = (0..first.len())
        .filter_map(|i| {
            first[i].map(|first| Lifetime {
                tensor: TensorId(i),
                first,
                last: last[i],
            })
        })
        .collect();
    lifetimes.sort_by_key(|l| (l.first, l.tensor));
    Ok(lifetimes)
}

/// Greedy interval colouring in order of first write, which needs no more slots than
/// the most tensors ever live at once. The input keeps a slot of its own: a run never
/// overwrites what the host uploaded, so the same input can be run again as is.
fn allocate(
    graph: &Graph,
    lifetimes: &[Lifetime],
    batch: usize,
    precision: Precision,
) -> Result<(Vec<Slot>, Vec<Option<usize>>)> {
    let mut slots: Vec<Slot> = Vec::new();
    // Last step at which each slot's current tensor is live; `None` = never free again.
    let mut busy_until: Vec<Option<usize>> = Vec::new();
    let mut slot_of = vec![None; graph.nodes().len()];
    for life in lifetimes {
        let bytes = tensor_bytes(graph, life.tensor, batch, precision)?;
        let free: Vec<usize> = (0..slots.len())
            .filter(|&s| busy_until[s].is_some_and(|until| until < life.first))
            .collect();
        let index = best_fit(&slots, &free, bytes).unwrap_or_else(|| {
            slots.push(Slot {
                bytes: 0,
                tensors: Vec::new(),
            });
            busy_until.push(None);
            slots.len() - 1
        });
        let slot = &mut slots[index];
        slot.bytes = slot.bytes.max(bytes);
        slot.tensors.push(life.tensor);
        busy_until[index] = (life.tensor != graph.input()).then_some(life.last);
        slot_of[life.tensor.0] = Some(index);
    }
    Ok((slots, slot_of))
}

/// Liveness gives every tensor a step reads or writes a lifetime, hence a slot; this
/// error means a pass broke that.
fn unplaced(step: &str) -> Error {
    Error::graph(step, "a tensor it uses has no storage (a planner bug)")
}

/// The smallest free slot that already holds `bytes`, else the largest (to be grown).
fn best_fit(slots: &[Slot], free: &[usize], bytes: usize) -> Option<usize> {
    let fitting = free.iter().copied().filter(|&s| slots[s].bytes >= bytes);
    let smallest_fitting = fitting.min_by_key(|&s| slots[s].bytes);
    smallest_fitting.or_else(|| free.iter().copied().max_by_key(|&s| slots[s].bytes))
}

/// `batch × elements × bytes per value`, refusing sizes that overflow.
fn tensor_bytes(
    graph: &Graph,
    tensor: TensorId,
    batch: usize,
    precision: Precision,
) -> Result<usize> {
    graph
        .shape(tensor)
        .len()
        .checked_mul(batch)
        .and_then(|n| n.checked_mul(precision.bytes()))
        .ok_or_else(|| {
            let reason = format!(
                "batch {batch} makes tensor {} too large",
                graph.shape(tensor)
            );
            Error::InvalidArgument(reason)
        })
}
