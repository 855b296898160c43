//! Pass 2: choose a kernel per producing node and fuse activations/adds into epilogues.
//!
//! Every dispatch reads and writes whole tensors through memory, so an activation or a
//! residual add that runs as its own dispatch costs a full extra round trip. Instead each
//! kernel applies an [`Epilogue`] before storing, and the chain of single-consumer
//! activations (and at most one residual add) that follows a producer is folded into it.

use super::fold::Folded;
use super::{ActKind, ActStage, Epilogue, Kernel, Step, TensorRef, Unplaced};
use crate::error::{Error, Result};
use crate::graph::{Activation, Graph, Op, TensorId};

/// The tensor whose storage holds `id`: Flatten and Dropout only relabel their input
/// (NHWC memory is unchanged), so they share its buffer.
pub(super) fn storage(graph: &Graph, mut id: TensorId) -> TensorId {
    while let Op::Flatten | Op::Dropout | Op::Quantize = graph.node(id).op {
        id = graph.node(id).inputs[0];
    }
    id
}

/// One step per producing node of a BatchNorm-free graph, in execution order.
pub(super) fn select_kernels(folded: &Folded) -> Result<Vec<Step<Unplaced>>> {
    let graph = &folded.graph;
    let count = graph.nodes().len();
    let mut fuser = Fuser {
        graph,
        consumers: graph.consumers(),
        absorbed: vec![false; count],
        stored: vec![false; count],
        steps: Vec::new(),
    };
    fuser.stored[graph.input().0] = true;
    for index in 1..count {
        fuser.visit(TensorId(index))?;
    }
    Ok(fuser.steps)
}

struct Fuser<'g> {
    graph: &'g Graph,
    consumers: Vec<Vec<TensorId>>,
    /// Nodes already fused into an earlier step's epilogue.
    absorbed: Vec<bool>,
    /// Storage tensors written by the steps emitted so far (and the graph input).
    stored: Vec<bool>,
    steps: Vec<Step<Unplaced>>,
}

/// A step under construction: its epilogue may still grow.
struct Draft {
    fused: Vec<TensorId>,
    kernel: Kernel,
    inputs: Vec<TensorRef<Unplaced>>,
    residual: Option<TensorRef<Unplaced>>,
    epilogue: EpilogueBuilder,
}

impl Fuser<'_> {
    fn visit(&mut self, id: TensorId) -> Result<()> {
        if self.absorbed[id.0] {
            return Ok(());
        }
        let node = self.graph.node(id);
        let mut draft = match &node.op {
            Op::Input | Op::Flatten | Op::Dropout | Op::Quantize => return Ok(()),
            Op::BatchNorm(_) => {
                return Err(Error::graph(
                    &node.name,
                    "BatchNorm must be folded before kernel selection",
                ))
            }
            Op::Concat => self.draft(id, Kernel::ConcatPart { offset: 0 }, vec![]),
            op => self.base_draft(id, op)?,
        };
        self.absorb_chain(&mut draft);
        if let Op::Concat = node.op {
            self.emit_concat(id, draft);
        } else {
            self.emit(id, draft);
        }
        Ok(())
    }

    /// The step for `id` alone, before any fusion.
    fn base_draft(&self, id: TensorId, op: &Op) -> Result<Draft> {
        let node = self.graph.node(id);
        let first = self.read(node.inputs[0]);
        let kernel = match op {
            Op::Conv2d(conv) if conv.is_pointwise() => Kernel::Pointwise(conv.clone()),
            Op::Conv2d(conv) if conv.is_depthwise(first.shape.c) => Kernel::Depthwise(conv.clone()),
            Op::Conv2d(conv) => Kernel::Conv(conv.clone()),
            Op::GlobalAvgPool => Kernel::GlobalAvgPool,
            Op::AvgPool(pool) => Kernel::AvgPool(*pool),
            Op::Dense(dense) => Kernel::Dense(dense.clone()),
            Op::Softmax => Kernel::Softmax,
            Op::MulChannel => {
                let scale = self.read(node.inputs[1]);
                return Ok(self.draft(id, Kernel::MulChannel, vec![first, scale]));
            }
            Op::Activation(act) => {
                let mut draft = self.draft(id, Kernel::Elementwise, vec![first]);
                draft.epilogue.push_activation(*act);
                return Ok(draft);
            }
            Op::Add => {
                let mut draft = self.draft(id, Kernel::Elementwise, vec![first]);
                draft.residual = Some(self.read(node.inputs[1]));
                draft.epilogue.residual = true;
                return Ok(draft);
            }
            other => {
                let reason = format!("{} has no GPU kernel", other.kind());
                return Err(Error::graph(&node.name, reason));
            }
        };
        Ok(self.draft(id, kernel, vec![first]))
    }

    fn draft(&self, id: TensorId, kernel: Kernel, inputs: Vec<TensorRef<Unplaced>>) -> Draft {
        let epilogue = EpilogueBuilder::default();
        Draft {
            fused: vec![id],
            kernel,
            inputs,
            residual: None,
            epilogue,
        }
    }

    /// How a consumer reads `id`: from its storage tensor, with `id`'s own shape.
    fn read(&self, id: TensorId) -> TensorRef<Unplaced> {
        TensorRef::unplaced(storage(self.graph, id), self.graph.shape(id))
    }

    /// Fuses the single-consumer activations and residual add that follow the draft.
    fn absorb_chain(&mut self, draft: &mut Draft) {
        loop {
            let last = draft.fused[draft.fused.len() - 1];
            if last == self.graph.output() {
                return;
            }
            let &[next] = self.consumers[last.0].as_slice() else {
                return;
            };
            let absorbed = match &self.graph.node(next).op {
                Op::Activation(act) => draft.epilogue.push_activation(*act),
                Op::Add => self.try_residual(draft, last, next),
                _ => false,
            };
            if !absorbed {
                return;
            }
            self.absorbed[next.0] = true;
            draft.fused.push(next);
        }
    }

    /// Fuses `add = last + other` as the draft's residual when `other` is already stored.
    fn try_residual(&self, draft: &mut Draft, last: TensorId, add: TensorId) -> bool {
        let takes_residual = matches!(
            draft.kernel,
            Kernel::Conv(_) | Kernel::Depthwise(_) | Kernel::Pointwise(_) | Kernel::Elementwise
        );
        let operands = &self.graph.node(add).inputs;
        let other = if operands[0] == last {
            operands[1]
        } else {
            operands[0]
        };
        if !takes_residual || draft.epilogue.residual || !self.stored[storage(self.graph, other).0]
        {
            return false;
        }
        draft.residual = Some(self.read(other));
        draft.epilogue.residual = true;
        true
    }

    fn emit(&mut self, id: TensorId, draft: Draft) {
        let output = self.output_of(&draft);
        self.stored[output.tensor.0] = true;
        self.steps.push(Step {
            name: self.graph.node(id).name.clone(),
            fused: draft.fused,
            kernel: draft.kernel,
            inputs: draft.inputs,
            residual: draft.residual,
            output,
            epilogue: draft.epilogue.epilogue,
        });
    }

    /// One step per Concat input, each writing its channel range of the shared output.
    fn emit_concat(&mut self, id: TensorId, draft: Draft) {
        let output = self.output_of(&draft);
        let mut offset = 0;
        for &input in &self.graph.node(id).inputs {
            self.steps.push(Step {
                name: self.graph.node(id).name.clone(),
                fused: draft.fused.clone(),
                kernel: Kernel::ConcatPart { offset },
                inputs: vec![self.read(input)],
                residual: None,
                output,
                epilogue: draft.epilogue.epilogue,
            });
            offset += self.graph.shape(input).c;
        }
        self.stored[output.tensor.0] = true;
    }

    /// The step stores the value of the last node it absorbed.
    fn output_of(&self, draft: &Draft) -> TensorRef<Unplaced> {
        let tensor = draft.fused[draft.fused.len() - 1];
        TensorRef::unplaced(tensor, self.graph.shape(tensor))
    }
}

/// Tracks which epilogue stages are taken while activations are fused in order.
#[derive(Default)]
struct EpilogueBuilder {
    epilogue: Epilogue,
    pre_used: usize,
    residual: bool,
    post_used: bool,
}

impl EpilogueBuilder {
    /// Appends `act` after everything fused so far; false when it does not fit.
    fn push_activation(&mut self, act: Activation) -> bool {
        let stage = stage_of(act);
        if stage.act == ActKind::Identity {
            if let Some(last) = self.last_stage() {
                return intersect(last, stage);
            }
        }
        match self.next_free_stage() {
            Some(free) => {
                *free = stage;
                true
            }
            None => false,
        }
    }

    fn last_stage(&mut self) -> Option<&mut ActStage> {
        match (self.residual, self.post_used, self.pre_used) {
            (true, true, _) => Some(&mut self.epilogue.post),
            (false, _, used) if used > 0 => Some(&mut self.epilogue.pre[used - 1]),
            _ => None,
        }
    }

    fn next_free_stage(&mut self) -> Option<&mut ActStage> {
        if self.residual {
            let free = !std::mem::replace(&mut self.post_used, true);
            return free.then_some(&mut self.epilogue.post);
        }
        let slot = self.epilogue.pre.get_mut(self.pre_used)?;
        self.pre_used += 1;
        Some(slot)
    }
}

/// Narrows `stage`'s clamp by `clamp`'s interval; two disjoint clamps are not one clamp.
fn intersect(stage: &mut ActStage, clamp: ActStage) -> bool {
    let (lo, hi) = (stage.lo.max(clamp.lo), stage.hi.min(clamp.hi));
    if lo > hi {
        return false;
    }
    (stage.lo, stage.hi) = (lo, hi);
    true
}

/// The epilogue stage computing `act`: pure clamps use the identity non-linearity.
fn stage_of(act: Activation) -> ActStage {
    let unbounded = |act| ActStage {
        act,
        lo: -f32::MAX,
        hi: f32::MAX,
    };
    let clamp = |lo, hi| ActStage {
        act: ActKind::Identity,
        lo,
        hi,
    };
    match act {
        Activation::Relu => clamp(0.0, f32::MAX),
        Activation::Relu6 => clamp(0.0, 6.0),
        Activation::Clamp { min, max } => clamp(min, max),
        Activation::HardSwish => unbounded(ActKind::HardSwish),
        Activation::HardSigmoid { alpha, beta } => unbounded(ActKind::HardSigmoid { alpha, beta }),
        Activation::Sigmoid => unbounded(ActKind::Sigmoid),
    }
}
