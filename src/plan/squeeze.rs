//! Pass 2b: a squeeze-excite block's global average pool and its two 1×1 convolutions on
//! the pooled 1×1×C values become one step. One workgroup per image keeps the C averages
//! and the hidden values in workgroup memory, so the three steps (each needing all of the
//! previous one's values) run as one dispatch instead of three. The channel scaling that
//! follows stays a step of its own: its pixels are spread over many workgroups, which
//! cannot wait for the one that computes the scales.

use std::collections::VecDeque;

use super::readers::{reads_only, Readers};
use super::{Epilogue, Kernel, Step, Unplaced};
use crate::graph::{Conv2d, TensorId};

/// Widest block input the fused kernel holds (V3-Large's widest: 960 channels).
pub const MAX_CHANNELS: usize = 1024;
/// Widest hidden layer it holds (V3-Large's widest: 240).
pub const MAX_HIDDEN: usize = 256;

/// The pool and the two convolutions of one squeeze-excite block (the step's own
/// epilogue is the second convolution's).
#[derive(Clone, Debug)]
pub struct SqueezeExcite {
    /// Applied to each channel's average (a quantized file's range clamp).
    pub pool_epilogue: Epilogue,
    /// C → hidden, 1×1.
    pub reduce: Conv2d,
    pub reduce_epilogue: Epilogue,
    /// hidden → C, 1×1.
    pub expand: Conv2d,
}

/// `steps` with every pool → 1×1 conv → 1×1 conv run whose intermediate values nothing
/// else reads merged into one [`Kernel::SqueezeExcite`] step. `output` is the graph's
/// output tensor (never merged away).
pub(super) fn merge(steps: Vec<Step<Unplaced>>, output: TensorId) -> Vec<Step<Unplaced>> {
    let readers = Readers::of(&steps, output);
    let private = |step: &Step<Unplaced>| readers.private(step);
    let mut rest: VecDeque<Step<Unplaced>> = steps.into();
    let mut merged = Vec::with_capacity(rest.len());
    while let Some(first) = rest.pop_front() {
        let block = match (&first, rest.front(), rest.get(1)) {
            (pool, Some(reduce), Some(expand)) if private(pool) && private(reduce) => {
                squeeze_excite(pool, reduce, expand)
            }
            _ => None,
        };
        match block {
            Some(step) => {
                rest.drain(..2);
                merged.push(step);
            }
            None => merged.push(first),
        }
    }
    merged
}

/// The merged step, if `pool`, `reduce` and `expand` form a block the kernel can hold.
fn squeeze_excite(
    pool: &Step<Unplaced>,
    reduce: &Step<Unplaced>,
    expand: &Step<Unplaced>,
) -> Option<Step<Unplaced>> {
    let (Kernel::GlobalAvgPool, Kernel::Pointwise(reduce_conv), Kernel::Pointwise(expand_conv)) =
        (&pool.kernel, &reduce.kernel, &expand.kernel)
    else {
        return None;
    };
    let pooled = pool.output.shape;
    let fits = pooled.h == 1
        && pooled.w == 1
        && pooled.c <= MAX_CHANNELS
        && reduce.output.shape.c <= MAX_HIDDEN
        && expand.output.shape.c == pooled.c;
    let chained = reads_only(reduce, pool)
        && reads_only(expand, reduce)
        && pool.residual.is_none()
        && reduce.residual.is_none();
    if !(fits && chained) {
        return None;
    }
    let block = SqueezeExcite {
        pool_epilogue: pool.epilogue,
        reduce: reduce_conv.clone(),
        reduce_epilogue: reduce.epilogue,
        expand: expand_conv.clone(),
    };
    let fused = [&pool.fused, &reduce.fused, &expand.fused];
    Some(Step {
        name: expand.name.clone(),
        fused: fused.into_iter().flatten().copied().collect(),
        kernel: Kernel::SqueezeExcite(Box::new(block)),
        inputs: pool.inputs.clone(),
        residual: expand.residual,
        output: expand.output,
        epilogue: expand.epilogue,
    })
}
