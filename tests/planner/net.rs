//! Small random-weight graphs for the planner tests.

use mobilenet_wgpu::graph::{
    Activation, BatchNorm, Conv2d, Dense, Graph, Op, Padding, Shape, TensorId,
};
use mobilenet_wgpu::plan::{ActKind, ActStage, Plan};

/// Deterministic values in [-1, 1) (xorshift), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// A graph under construction with random weights.
pub struct Net {
    pub g: Graph,
    pub rng: Rng,
}

impl Net {
    pub fn new(h: usize, w: usize, c: usize, seed: u64) -> Self {
        Net {
            g: Graph::new(Shape::new(h, w, c)).unwrap(),
            rng: Rng(seed),
        }
    }

    pub fn add(&mut self, name: &str, op: Op, inputs: &[TensorId]) -> TensorId {
        self.g.add(name, op, inputs).unwrap()
    }

    /// A `k`×`k` convolution ("same" padding for odd `k`) with random weights and bias.
    pub fn conv(
        &mut self,
        name: &str,
        x: TensorId,
        out_c: usize,
        k: usize,
        groups: usize,
    ) -> TensorId {
        let in_c = self.g.shape(x).c;
        let conv = Conv2d {
            out_channels: out_c,
            kernel_h: k,
            kernel_w: k,
            stride: 1,
            padding: Padding::uniform(k / 2),
            groups,
            weights: self.rng.vec(out_c * k * k * in_c / groups),
            bias: Some(self.rng.vec(out_c)),
        };
        self.add(name, Op::Conv2d(conv), &[x])
    }

    pub fn dense(&mut self, name: &str, x: TensorId, out: usize, bias: bool) -> TensorId {
        let weights = self.rng.vec(out * self.g.shape(x).c);
        let bias = bias.then(|| self.rng.vec(out));
        self.add(
            name,
            Op::Dense(Dense {
                out_features: out,
                weights,
                bias,
            }),
            &[x],
        )
    }

    pub fn bn(&mut self, name: &str, x: TensorId) -> TensorId {
        let c = self.g.shape(x).c;
        let var = self.rng.vec(c).iter().map(|v| v.abs() + 0.1).collect();
        let (gamma, beta, mean) = (self.rng.vec(c), self.rng.vec(c), self.rng.vec(c));
        self.add(
            name,
            Op::BatchNorm(BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps: 1e-3,
            }),
            &[x],
        )
    }

    pub fn act(&mut self, name: &str, x: TensorId, act: Activation) -> TensorId {
        self.add(name, Op::Activation(act), &[x])
    }

    /// Conv + BatchNorm + ReLU6, as in every MobileNet block.
    pub fn conv_bn_relu6(
        &mut self,
        name: &str,
        x: TensorId,
        out_c: usize,
        k: usize,
        groups: usize,
    ) -> TensorId {
        let c = self.conv(name, x, out_c, k, groups);
        let b = self.bn(&format!("{name}_bn"), c);
        self.act(&format!("{name}_relu6"), b, Activation::Relu6)
    }

    /// A MobileNetV2 inverted residual block; `skip_first` orders the Add's operands.
    pub fn v2_block(&mut self, name: &str, x: TensorId, skip_first: bool) -> TensorId {
        let c = self.g.shape(x).c;
        let e = self.conv_bn_relu6(&format!("{name}_expand"), x, 2 * c, 1, 1);
        let d = self.conv_bn_relu6(&format!("{name}_depthwise"), e, 2 * c, 3, 2 * c);
        let p = self.conv(&format!("{name}_project"), d, c, 1, 1);
        let p = self.bn(&format!("{name}_project_bn"), p);
        let operands = if skip_first { [x, p] } else { [p, x] };
        self.add(&format!("{name}_add"), Op::Add, &operands)
    }

    pub fn plan(&self, batch: usize) -> Plan {
        Plan::build(&self.g, batch).unwrap()
    }
}

pub fn clamp(lo: f32, hi: f32) -> ActStage {
    ActStage {
        act: ActKind::Identity,
        lo,
        hi,
    }
}

pub fn kernel_names(plan: &Plan) -> Vec<&'static str> {
    plan.steps.iter().map(|s| s.kernel.name()).collect()
}
