//! Pass 1: fold every BatchNorm into the convolution (or dense layer) that feeds it.
//!
//! Inference-time BatchNorm is a per-channel affine map `y = scale * x + shift`, so when it
//! directly follows a layer whose output nobody else reads it can be baked into that
//! layer's weights and bias for free. A BatchNorm that cannot be folded becomes a 1×1
//! depthwise convolution, so the GPU never needs a BatchNorm kernel.

use super::Plan;
use crate::error::Result;
use crate::graph::{BatchNorm, Conv2d, Dense, Graph, Node, Op, Padding, TensorId};

/// A BatchNorm-free graph, and where each of its nodes came from.
///
/// The later passes work on `graph`, but the finished plan names the original graph's
/// tensors (see [`Folded::restore_ids`]), which is what users and the CPU reference see.
pub(super) struct Folded {
    pub graph: Graph,
    /// `sources[id]`: the original nodes merged into folded node `id`, in graph order
    /// (never empty); the last one holds the value the folded node computes.
    sources: Vec<Vec<TensorId>>,
}

impl Folded {
    /// `graph` as it is: integer graphs have no BatchNorm to fold.
    pub fn unfolded(graph: &Graph) -> Folded {
        Folded {
            graph: graph.clone(),
            sources: (0..graph.nodes().len())
                .map(|i| vec![TensorId(i)])
                .collect(),
        }
    }

    /// The original tensor whose value folded tensor `id` holds.
    fn original(&self, id: TensorId) -> TensorId {
        let sources = &self.sources[id.0];
        sources[sources.len() - 1]
    }

    /// Renames every tensor of `plan` from folded to original ids; a step's `fused` list
    /// gains the BatchNorms folded into its nodes.
    pub(super) fn restore_ids(&self, plan: &mut Plan) {
        for step in &mut plan.steps {
            step.fused = step
                .fused
                .iter()
                .flat_map(|id| self.sources[id.0].iter().copied())
                .collect();
            let refs = step
                .inputs
                .iter_mut()
                .chain(step.residual.as_mut())
                .chain([&mut step.output]);
            refs.for_each(|r| r.tensor = self.original(r.tensor));
        }
        for slot in &mut plan.slots {
            slot.tensors.iter_mut().for_each(|t| *t = self.original(*t));
        }
        plan.input.tensor = self.original(plan.input.tensor);
        plan.output.tensor = self.original(plan.output.tensor);
    }
}

/// Returns `graph` without BatchNorm nodes; node names are kept, tensor ids renumbered
/// (the way back is recorded in [`Folded`]).
pub(super) fn fold_batch_norms(graph: &Graph) -> Result<Folded> {
    let consumers = graph.consumers();
    let mut folded: Vec<Node> = Vec::with_capacity(graph.nodes().len());
    let mut sources: Vec<Vec<TensorId>> = Vec::with_capacity(graph.nodes().len());
    // `new_id[old]` is the node of `folded` that now produces old tensor `old`.
    let mut new_id: Vec<TensorId> = Vec::with_capacity(graph.nodes().len());
    for (old, node) in graph.nodes().iter().enumerate() {
        let inputs: Vec<TensorId> = node.inputs.iter().map(|i| new_id[i.0]).collect();
        let op = match &node.op {
            Op::BatchNorm(bn) => {
                let source = node.inputs[0];
                let sole_reader = consumers[source.0].len() == 1 && source != graph.output();
                let target = new_id[source.0];
                if sole_reader && fold_into(&mut folded[target.0].op, bn) {
                    sources[target.0].push(TensorId(old));
                    new_id.push(target);
                    continue;
                }
                Op::Conv2d(batch_norm_as_depthwise(bn))
            }
            other => other.clone(),
        };
        folded.push(Node {
            op,
            inputs,
            ..node.clone()
        });
        sources.push(vec![TensorId(old)]);
        new_id.push(TensorId(folded.len() - 1));
    }
    let graph = rebuild(&folded, new_id[graph.output().0])?;
    Ok(Folded { graph, sources })
}

/// Scales `op`'s weights and bias by the BatchNorm when `op` is a Conv2d or Dense;
/// returns whether it did.
fn fold_into(op: &mut Op, bn: &BatchNorm) -> bool {
    let (scale, shift) = bn.scale_shift();
    let (weights, bias) = match op {
        Op::Conv2d(Conv2d { weights, bias, .. }) | Op::Dense(Dense { weights, bias, .. }) => {
            (weights, bias)
        }
        _ => return false,
    };
    // Both layouts keep each output channel's weights contiguous: OHWI and [out][in].
    let per_channel = weights.len() / scale.len();
    for (chunk, s) in weights.chunks_mut(per_channel).zip(&scale) {
        chunk.iter_mut().for_each(|w| *w *= s);
    }
    let old_bias = bias.take().unwrap_or_else(|| vec![0.0; scale.len()]);
    let new_bias = old_bias
        .iter()
        .zip(&scale)
        .zip(&shift)
        .map(|((b, s), t)| b * s + t);
    *bias = Some(new_bias.collect());
    true
}

/// `scale * x + shift` as a 1×1 depthwise convolution (one group per channel).
fn batch_norm_as_depthwise(bn: &BatchNorm) -> Conv2d {
    let (scale, shift) = bn.scale_shift();
    Conv2d {
        out_channels: scale.len(),
        kernel_h: 1,
        kernel_w: 1,
        stride: 1,
        padding: Padding::default(),
        groups: scale.len(),
        weights: scale,
        bias: Some(shift),
    }
}

/// Re-adds the nodes through [`Graph::add`] so shapes are validated again.
fn rebuild(nodes: &[Node], output: TensorId) -> Result<Graph> {
    let mut graph = Graph::new(nodes[0].shape)?;
    for node in &nodes[1..] {
        graph.add(node.name.clone(), node.op.clone(), &node.inputs)?;
    }
    graph.set_output(output)?;
    Ok(graph)
}
