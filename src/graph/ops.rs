//! The operators of the IR and their attributes. Layout is NHWC throughout (as in TFLite);
//! weights are stored in the layouts documented on each struct.

/// Explicit per-side zero padding, so TF "SAME" (which pads 0 before / 1 after at
/// stride 2 on even sizes) is represented exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Padding {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl Padding {
    /// The same padding on every side.
    pub fn uniform(p: usize) -> Self {
        Padding {
            top: p,
            bottom: p,
            left: p,
            right: p,
        }
    }

    /// TensorFlow "SAME" padding for one input size: output = ceil(in / stride), with the
    /// odd pixel of padding placed after (bottom/right).
    pub fn same(in_h: usize, in_w: usize, kernel: usize, stride: usize) -> Self {
        let (top, bottom) = same_1d(in_h, kernel, stride);
        let (left, right) = same_1d(in_w, kernel, stride);
        Padding {
            top,
            bottom,
            left,
            right,
        }
    }
}

fn same_1d(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}

/// A 2-D convolution (also depthwise when `groups == in_channels`).
///
/// `weights` layout is OHWI: `[out_channels][kh][kw][in_channels / groups]`.
/// For depthwise with depth multiplier m, output channel `o` reads input channel `o / m`.
#[derive(Clone, Debug)]
pub struct Conv2d {
    pub out_channels: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
    pub weights: Vec<f32>,
    pub bias: Option<Vec<f32>>,
}

impl Conv2d {
    /// True when every group has one input channel (depthwise, any depth multiplier).
    pub fn is_depthwise(&self, in_channels: usize) -> bool {
        self.groups == in_channels && self.groups > 1
    }

    /// True for an ungrouped 1×1 stride-1 unpadded convolution (a GEMM).
    pub fn is_pointwise(&self) -> bool {
        self.kernel_h == 1
            && self.kernel_w == 1
            && self.stride == 1
            && self.groups == 1
            && self.padding == Padding::default()
    }
}

/// Inference-time batch normalisation: `y = gamma * (x - mean) / sqrt(var + eps) + beta`.
#[derive(Clone, Debug)]
pub struct BatchNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub eps: f32,
}

impl BatchNorm {
    /// `y = scale * x + shift` as a BatchNorm (mean 0, variance 1, epsilon 0, so
    /// [`scale_shift`](Self::scale_shift) gives back exactly `scale` and `shift`): the
    /// element-wise constant arithmetic of imported graphs, folded like any BatchNorm.
    pub fn affine(scale: Vec<f32>, shift: Vec<f32>) -> BatchNorm {
        let n = scale.len();
        BatchNorm {
            gamma: scale,
            beta: shift,
            mean: vec![0.0; n],
            var: vec![1.0; n],
            eps: 0.0,
        }
    }

    /// Per-channel `(scale, shift)` such that `y = scale * x + shift`.
    pub fn scale_shift(&self) -> (Vec<f32>, Vec<f32>) {
        let scale: Vec<f32> = self
            .gamma
            .iter()
            .zip(&self.var)
            .map(|(g, v)| g / (v + self.eps).sqrt())
            .collect();
        let shift = self
            .beta
            .iter()
            .zip(&self.mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        (scale, shift)
    }
}

/// Element-wise activation functions.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Activation {
    Relu,
    Relu6,
    /// `x * relu6(x + 3) / 6`
    HardSwish,
    /// `clamp(alpha * x + beta, 0, 1)`: ONNX's HardSigmoid. MobileNetV3's is
    /// [`Activation::HARD_SIGMOID`], Keras' older one [`Activation::KERAS_HARD_SIGMOID`].
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    Sigmoid,
    /// Saturation to `[min, max]`: the representable range of a quantized tensor.
    Clamp {
        min: f32,
        max: f32,
    },
}

impl Activation {
    /// MobileNetV3's hard sigmoid, `relu6(x + 3) / 6`.
    pub const HARD_SIGMOID: Activation = Activation::HardSigmoid {
        alpha: 1.0 / 6.0,
        beta: 0.5,
    };
    /// Keras' older hard sigmoid, `clamp(0.2 x + 0.5, 0, 1)` (also ONNX's default).
    pub const KERAS_HARD_SIGMOID: Activation = Activation::HardSigmoid {
        alpha: 0.2,
        beta: 0.5,
    };

    /// Applies the function to one value (the CPU definition every kernel must match).
    pub fn apply(self, x: f32) -> f32 {
        let relu6 = |v: f32| v.clamp(0.0, 6.0);
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Relu6 => relu6(x),
            Activation::HardSwish => x * relu6(x + 3.0) / 6.0,
            Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Clamp { min, max } => x.max(min).min(max),
        }
    }
}

/// A fully connected layer. `weights` layout is `[out_features][in_features]`.
#[derive(Clone, Debug)]
pub struct Dense {
    pub out_features: usize,
    pub weights: Vec<f32>,
    pub bias: Option<Vec<f32>>,
}

/// Average pooling over `kernel × kernel` windows (padding excluded from the mean).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool {
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
}

impl AvgPool {
    /// The op pooling an input of per-image `shape`: a global average when the window
    /// covers the whole unpadded map (one output pixel, a cheaper kernel).
    pub fn op_for(self, shape: super::Shape) -> Op {
        let whole = (shape.h, shape.w) == (self.kernel, self.kernel);
        if whole && self.padding == Padding::default() {
            Op::GlobalAvgPool
        } else {
            Op::AvgPool(self)
        }
    }
}

/// One operator of the graph. Each node produces exactly one tensor.
#[derive(Clone, Debug)]
pub enum Op {
    /// The graph input (an NHWC image batch).
    Input,
    Conv2d(Conv2d),
    BatchNorm(BatchNorm),
    Activation(Activation),
    /// Element-wise sum of two tensors of the same shape.
    Add,
    /// `x * s` where `s` has shape 1×1×C: the squeeze-excite rescale.
    MulChannel,
    /// Mean over H and W, giving 1×1×C.
    GlobalAvgPool,
    AvgPool(AvgPool),
    Dense(Dense),
    /// Softmax over channels.
    Softmax,
    /// Flattens H×W×C into 1×1×(H·W·C); NHWC memory is unchanged.
    Flatten,
    /// Concatenation along channels.
    Concat,
    /// Identity at inference.
    Dropout,
    /// Identity on real values; on the integer grid, a move to the node's grid (TFLite's
    /// QUANTIZE between uint8 and int8, and any pass-through that changes the grid).
    Quantize,
}

impl Op {
    /// Short operator name for tables and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "Input",
            Op::Conv2d(_) => "Conv2d",
            Op::BatchNorm(_) => "BatchNorm",
            Op::Activation(_) => "Activation",
            Op::Add => "Add",
            Op::MulChannel => "MulChannel",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::AvgPool(_) => "AvgPool",
            Op::Dense(_) => "Dense",
            Op::Softmax => "Softmax",
            Op::Flatten => "Flatten",
            Op::Concat => "Concat",
            Op::Dropout => "Dropout",
            Op::Quantize => "Quantize",
        }
    }
}
