//! Who reads what, for the passes that merge a step into the one after it: a step's output
//! can live only in registers and workgroup memory when that one step is its only reader.

use std::collections::HashMap;

use super::{Step, Unplaced};
use crate::graph::TensorId;

/// How many steps read each tensor, as an input or a residual.
pub(super) struct Readers {
    counts: HashMap<TensorId, usize>,
    /// The graph's output tensor, which the caller reads: never private.
    output: TensorId,
}

impl Readers {
    pub fn of(steps: &[Step<Unplaced>], output: TensorId) -> Self {
        let mut counts: HashMap<TensorId, usize> = HashMap::new();
        for step in steps {
            for read in step.inputs.iter().chain(&step.residual) {
                *counts.entry(read.tensor).or_default() += 1;
            }
        }
        Readers { counts, output }
    }

    /// Whether exactly one step reads `step`'s output, and it is not the graph's output.
    pub fn private(&self, step: &Step<Unplaced>) -> bool {
        step.output.tensor != self.output && self.counts.get(&step.output.tensor) == Some(&1)
    }
}

/// Whether `step`'s only input is `previous`'s output.
pub(super) fn reads_only(step: &Step<Unplaced>, previous: &Step<Unplaced>) -> bool {
    step.inputs.len() == 1 && step.inputs[0].tensor == previous.output.tensor
}
