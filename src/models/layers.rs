//! The small layer vocabulary every architecture is written in: convolutions with TF
//! "SAME" padding, BatchNorm, activations and dense layers, each appended to the graph
//! under a caller-chosen (Keras-style) name with weights drawn from the build's seed.

use crate::error::Result;
use crate::graph::{Activation, Conv2d, Dense, Graph, Op, Padding, Shape, TensorId};

use super::weights::WeightInit;

/// Weight scale of the last convolution of a branch that is added to a shortcut: keeps
/// the branch at a quarter of the shortcut's variance, so a stage of residual blocks
/// grows the signal mildly instead of doubling it per block.
const RESIDUAL_BRANCH_SCALE: f32 = 0.5;

/// Variance gain of a layer reading the output of `op`: the inverse of the share of
/// its input's second moment that `op` lets through. ReLU-like functions pass about half
/// (h-swish a little less on small inputs, more on large ones, so 2 keeps it stable);
/// a squeeze-excite gate of about one half takes another factor of 2 in amplitude.
/// Measured on the CPU reference, this keeps every block's output RMS within 0.05..5.
fn input_gain(op: &Op) -> f32 {
    match op {
        Op::Activation(Activation::Relu | Activation::Relu6 | Activation::HardSwish) => 2.0,
        Op::MulChannel => 4.0,
        _ => 1.0,
    }
}

/// Shape of one convolution: output channels (ignored for depthwise, which keeps the
/// input's), square kernel, stride, and whether it is depthwise or has a bias.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvSpec {
    pub out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub depthwise: bool,
    pub bias: bool,
    /// Extra factor on the weights' standard deviation (below 1 on residual branches,
    /// so the sum of many branches does not grow without bound).
    pub scale: f32,
}

impl ConvSpec {
    /// A full (ungrouped) `kernel × kernel` convolution without bias.
    pub(crate) fn full(out: usize, kernel: usize, stride: usize) -> Self {
        ConvSpec {
            out,
            kernel,
            stride,
            depthwise: false,
            bias: false,
            scale: 1.0,
        }
    }

    /// A 1×1 stride-1 convolution without bias.
    pub(crate) fn pointwise(out: usize) -> Self {
        ConvSpec::full(out, 1, 1)
    }

    /// A depthwise convolution (depth multiplier 1) without bias.
    pub(crate) fn depthwise(kernel: usize, stride: usize) -> Self {
        ConvSpec {
            depthwise: true,
            ..ConvSpec::full(0, kernel, stride)
        }
    }

    pub(crate) fn with_bias(self) -> Self {
        ConvSpec { bias: true, ..self }
    }

    pub(crate) fn scaled(self, scale: f32) -> Self {
        ConvSpec { scale, ..self }
    }
}

/// A graph under construction plus the random source of its weights.
pub(crate) struct LayerBuilder {
    graph: Graph,
    init: WeightInit,
    /// Epsilon of every BatchNorm of the architecture.
    bn_eps: f32,
}

impl LayerBuilder {
    /// Starts a graph with a `resolution × resolution × 3` image input.
    pub(crate) fn new(resolution: usize, seed: u64, bn_eps: f32) -> Result<Self> {
        let graph = Graph::new(Shape::new(resolution, resolution, 3))?;
        Ok(LayerBuilder {
            graph,
            init: WeightInit::new(seed),
            bn_eps,
        })
    }

    pub(crate) fn input(&self) -> TensorId {
        self.graph.input()
    }

    pub(crate) fn channels(&self, x: TensorId) -> usize {
        self.graph.shape(x).c
    }

    pub(crate) fn finish(self) -> Graph {
        self.graph
    }

    /// Appends an operator without weights.
    pub(crate) fn op(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: &[TensorId],
    ) -> Result<TensorId> {
        self.graph.add(name, op, inputs)
    }

    pub(crate) fn conv(
        &mut self,
        name: impl Into<String>,
        x: TensorId,
        spec: ConvSpec,
    ) -> Result<TensorId> {
        let shape = self.graph.shape(x);
        let (out, groups) = if spec.depthwise {
            (shape.c, shape.c)
        } else {
            (spec.out, 1)
        };
        let fan_in = spec.kernel * spec.kernel * (shape.c / groups.max(1));
        let gain = input_gain(&self.graph.node(x).op) * spec.scale * spec.scale;
        let conv = Conv2d {
            out_channels: out,
            kernel_h: spec.kernel,
            kernel_w: spec.kernel,
            stride: spec.stride,
            padding: Padding::same(shape.h, shape.w, spec.kernel, spec.stride),
            groups,
            weights: self.init.scaled(out * fan_in, fan_in, gain),
            bias: spec.bias.then(|| self.init.bias(out)),
        };
        self.graph.add(name, Op::Conv2d(conv), &[x])
    }

    /// BatchNorm with random statistics and the architecture's epsilon.
    pub(crate) fn batch_norm(&mut self, name: impl Into<String>, x: TensorId) -> Result<TensorId> {
        let bn = self.init.batch_norm(self.channels(x), self.bn_eps);
        self.graph.add(name, Op::BatchNorm(bn), &[x])
    }

    /// BatchNorm without a learned scale (gamma fixed at 1) and its own epsilon.
    pub(crate) fn batch_norm_unscaled(
        &mut self,
        name: impl Into<String>,
        x: TensorId,
        eps: f32,
    ) -> Result<TensorId> {
        let bn = self.init.batch_norm_unscaled(self.channels(x), eps);
        self.graph.add(name, Op::BatchNorm(bn), &[x])
    }

    /// A convolution followed by its BatchNorm, named `conv_name` and `bn_name`.
    pub(crate) fn conv_bn(
        &mut self,
        conv_name: &str,
        bn_name: &str,
        x: TensorId,
        spec: ConvSpec,
    ) -> Result<TensorId> {
        let conv = self.conv(conv_name, x, spec)?;
        self.batch_norm(bn_name, conv)
    }

    /// The linear bottleneck that ends an inverted residual block: 1×1 projection + BN,
    /// plus the shortcut from `block_input` when the shapes allow it (stride 1, same
    /// channels). The projection is damped on shortcut blocks so deep random stacks stay
    /// in range. `names` = (projection, its BatchNorm, the add).
    pub(crate) fn project_with_shortcut(
        &mut self,
        names: [&str; 3],
        x: TensorId,
        block_input: TensorId,
        channels: usize,
        stride: usize,
    ) -> Result<TensorId> {
        let shortcut = stride == 1 && self.channels(block_input) == channels;
        let mut project = ConvSpec::pointwise(channels);
        if shortcut {
            project = project.scaled(RESIDUAL_BRANCH_SCALE);
        }
        let x = self.conv_bn(names[0], names[1], x, project)?;
        if !shortcut {
            return Ok(x);
        }
        self.op(names[2], Op::Add, &[block_input, x])
    }

    pub(crate) fn activation(
        &mut self,
        name: impl Into<String>,
        x: TensorId,
        act: Activation,
    ) -> Result<TensorId> {
        self.graph.add(name, Op::Activation(act), &[x])
    }

    /// A fully connected layer on a 1×1×C tensor; `scale` multiplies the weights'
    /// standard deviation.
    pub(crate) fn dense(
        &mut self,
        name: impl Into<String>,
        x: TensorId,
        out: usize,
        bias: bool,
        scale: f32,
    ) -> Result<TensorId> {
        let fan_in = self.channels(x);
        let gain = input_gain(&self.graph.node(x).op) * scale * scale;
        let weights = self.init.scaled(out * fan_in, fan_in, gain);
        let bias = bias.then(|| self.init.bias(out));
        self.graph.add(
            name,
            Op::Dense(Dense {
                out_features: out,
                weights,
                bias,
            }),
            &[x],
        )
    }
}
