//! Parameter and multiply-accumulate counts per layer (what `info` prints).

use super::{Graph, Op};

/// Size figures for one node.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerStats {
    pub params: usize,
    pub macs: usize,
}

impl Graph {
    /// Parameters and MACs of node `index` (per image).
    pub fn layer_stats(&self, index: usize) -> LayerStats {
        let node = &self.nodes()[index];
        let out = node.shape;
        let (params, macs) = match &node.op {
            Op::Conv2d(conv) => {
                let bias = conv.bias.as_ref().map_or(0, Vec::len);
                (
                    conv.weights.len() + bias,
                    conv.weights.len() * out.h * out.w,
                )
            }
            Op::Dense(dense) => {
                let bias = dense.bias.as_ref().map_or(0, Vec::len);
                (dense.weights.len() + bias, dense.weights.len())
            }
            Op::BatchNorm(bn) => (bn.gamma.len() * 4, 0),
            _ => (0, 0),
        };
        LayerStats { params, macs }
    }

    /// Total parameters and MACs per image.
    pub fn totals(&self) -> LayerStats {
        (0..self.nodes().len()).map(|i| self.layer_stats(i)).fold(
            LayerStats { params: 0, macs: 0 },
            |acc, s| LayerStats {
                params: acc.params + s.params,
                macs: acc.macs + s.macs,
            },
        )
    }
}
