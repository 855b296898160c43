//! Pass 2c (GPU family): a depthwise convolution and the 1×1 convolution that reads it
//! become one step, a depthwise-separable convolution. The GEMM computes each depthwise
//! value as it loads its input tile, so the depthwise output is never written to memory,
//! and a block takes one dispatch fewer: at batch 1 a GPU spends about as long on each
//! dispatch's fixed cost as on the small ones' work.
//!
//! The price: each depthwise value is computed once per tile of 32 output channels, from
//! 9 (3×3) input loads instead of one. A pair merges only where that is cheap: when the
//! GEMM has few tiles (the GPU is not full, and latency rules), or one tile of output
//! channels (each value computed once). Wider GEMMs on a full GPU (V1's, V2's at large
//! batches past 32 output channels) keep their two steps.

use std::collections::VecDeque;

use super::readers::{reads_only, Readers};
use super::{gemm, Epilogue, Kernel, Step, Unplaced};
use crate::graph::{Conv2d, Shape, TensorId};

/// Channels the fused kernel reads per load: the depthwise channels and both sides of the
/// 1×1 convolution must be whole quads.
const LANES: usize = 4;

/// A depthwise convolution (depth multiplier 1) followed by a 1×1 convolution; the step's
/// own epilogue and residual are the 1×1 convolution's.
#[derive(Clone, Debug)]
pub struct Separable {
    pub depthwise: Conv2d,
    pub depthwise_epilogue: Epilogue,
    /// The depthwise output's per-image shape (the 1×1 convolution's input).
    pub middle: Shape,
    pub pointwise: Conv2d,
}

/// `steps` with every depthwise step whose output only the next step, a pointwise one,
/// reads merged into that step as a [`Kernel::Separable`] where that is cheap at batch size
/// `batch`. `output` is the graph's output tensor (never merged away).
pub(super) fn merge(
    steps: Vec<Step<Unplaced>>,
    output: TensorId,
    batch: usize,
) -> Vec<Step<Unplaced>> {
    let readers = Readers::of(&steps, output);
    let mut rest: VecDeque<Step<Unplaced>> = steps.into();
    let mut merged = Vec::with_capacity(rest.len());
    while let Some(first) = rest.pop_front() {
        let pair = match rest.front() {
            Some(next) if readers.private(&first) => separable(&first, next, batch),
            _ => None,
        };
        match pair {
            Some(step) => {
                rest.pop_front();
                merged.push(step);
            }
            None => merged.push(first),
        }
    }
    merged
}

/// The merged step, if `depthwise` and `pointwise` form a pair the fused kernel runs, and
/// runs cheaply.
fn separable(
    depthwise: &Step<Unplaced>,
    pointwise: &Step<Unplaced>,
    batch: usize,
) -> Option<Step<Unplaced>> {
    let (Kernel::Depthwise(dw), Kernel::Pointwise(pw)) = (&depthwise.kernel, &pointwise.kernel)
    else {
        return None;
    };
    let middle = depthwise.output.shape;
    let quads = |c: usize| c > 0 && c.is_multiple_of(LANES);
    let fits = depthwise.inputs.first()?.shape.c == middle.c
        && dw.out_channels == middle.c
        && quads(middle.c)
        && quads(pointwise.output.shape.c);
    if !(fits && reads_only(pointwise, depthwise) && depthwise.residual.is_none()) {
        return None;
    }
    let out = pointwise.output.shape;
    let tiles = gemm::tiles(batch * out.h * out.w, out.c);
    if out.c > gemm::TILE_CHANNELS && tiles >= gemm::FEW_TILES {
        return None;
    }
    let pair = Separable {
        depthwise: dw.clone(),
        depthwise_epilogue: depthwise.epilogue,
        middle,
        pointwise: pw.clone(),
    };
    Some(Step {
        name: pointwise.name.clone(),
        fused: [&depthwise.fused, &pointwise.fused]
            .into_iter()
            .flatten()
            .copied()
            .collect(),
        kernel: Kernel::Separable(Box::new(pair)),
        inputs: depthwise.inputs.clone(),
        residual: pointwise.residual,
        output: pointwise.output,
        epilogue: pointwise.epilogue,
    })
}
