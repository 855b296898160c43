//! MobileNet V2 (Sandler et al. 2018), as `keras.applications.MobileNetV2`: a stride-2
//! stem of `make_divisible(32 * alpha, 8)` channels, 17 inverted residual blocks (1×1
//! expansion, 3×3 depthwise, linear 1×1 projection, identity shortcut when the stride
//! is 1 and the channels match), a 1×1 convolution to 1280 channels
//! (`make_divisible(1280 * alpha, 8)` when alpha > 1), ReLU6, BatchNorm eps 1e-3.
//! The body is shared with [`super::v2_k7`], which swaps the depthwise stage.

use crate::error::Result;
use crate::graph::{Activation, Graph, Op, TensorId};

use super::heads;
use super::layers::{ConvSpec, LayerBuilder};
use super::{make_divisible, BuildSpec, Head};

const BN_EPS: f32 = 1e-3;
const STEM_CHANNELS: f32 = 32.0;
const LAST_CHANNELS: usize = 1280;

/// One row of the paper's table 2: `n` blocks of expansion `t` and `c` output channels,
/// the first with stride `s`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stage {
    pub expansion: usize,
    pub channels: usize,
    pub repeats: usize,
    pub stride: usize,
}

const fn stage(expansion: usize, channels: usize, repeats: usize, stride: usize) -> Stage {
    Stage {
        expansion,
        channels,
        repeats,
        stride,
    }
}

/// Table 2 of the paper (t, c, n, s).
pub(super) const STAGES: [Stage; 7] = [
    stage(1, 16, 1, 1),
    stage(6, 24, 2, 2),
    stage(6, 32, 3, 2),
    stage(6, 64, 4, 2),
    stage(6, 96, 3, 1),
    stage(6, 160, 3, 2),
    stage(6, 320, 1, 1),
];

/// Appends a block's spatial stage: from the expanded tensor to the activated tensor
/// the projection reads. Arguments: builder, input, stride, name prefix.
pub(super) type DepthwiseStage = fn(&mut LayerBuilder, TensorId, usize, &str) -> Result<TensorId>;

/// What distinguishes the ImageNet V2 from its variants.
pub(super) struct Variant {
    pub stem_stride: usize,
    pub stages: [Stage; 7],
    pub depthwise: DepthwiseStage,
}

pub(super) fn build(spec: &BuildSpec) -> Result<Graph> {
    let keras = Variant {
        stem_stride: 2,
        stages: STAGES,
        depthwise: depthwise_3x3,
    };
    build_variant(spec, &keras)
}

/// The V2 network with `variant`'s stem stride, stage table and depthwise stage.
pub(super) fn build_variant(spec: &BuildSpec, variant: &Variant) -> Result<Graph> {
    let mut b = LayerBuilder::new(spec.resolution, spec.seed, BN_EPS)?;
    let stem_channels = make_divisible(STEM_CHANNELS * spec.alpha, 8, None);
    let stem = ConvSpec::full(stem_channels, 3, variant.stem_stride);
    let x = b.conv_bn("Conv1", "bn_Conv1", b.input(), stem)?;
    let mut x = b.activation("Conv1_relu", x, Activation::Relu6)?;
    let mut block_id = 0;
    for stage in &variant.stages {
        let channels = make_divisible((stage.channels as f32 * spec.alpha).floor(), 8, None);
        for repeat in 0..stage.repeats {
            let stride = if repeat == 0 { stage.stride } else { 1 };
            let block = Block {
                expansion: stage.expansion,
                channels,
                stride,
                id: block_id,
            };
            x = inverted_residual(&mut b, x, block, variant.depthwise)?;
            block_id += 1;
        }
    }
    let last = if spec.alpha > 1.0 {
        make_divisible(LAST_CHANNELS as f32 * spec.alpha, 8, None)
    } else {
        LAST_CHANNELS
    };
    let x = b.conv_bn("Conv_1", "Conv_1_bn", x, ConvSpec::pointwise(last))?;
    let x = b.activation("out_relu", x, Activation::Relu6)?;
    match spec.head {
        Head::Classifier(classes) => {
            let pooled = b.op("global_average_pooling2d", Op::GlobalAvgPool, &[x])?;
            heads::softmax_classifier(
                &mut b,
                pooled,
                classes,
                "predictions",
                "predictions_softmax",
            )?
        }
        Head::Embedding(dim) => heads::embedding(&mut b, x, dim)?,
    };
    Ok(b.finish())
}

/// One inverted residual block's settings.
#[derive(Clone, Copy, Debug)]
struct Block {
    expansion: usize,
    /// Output channels, already scaled and rounded.
    channels: usize,
    stride: usize,
    id: usize,
}

/// Keras' `_inverted_res_block`; block 0 (expansion 1) has no expansion convolution and
/// is named `expanded_conv_*`, the others `block_<id>_*`.
fn inverted_residual(
    b: &mut LayerBuilder,
    input: TensorId,
    block: Block,
    depthwise: DepthwiseStage,
) -> Result<TensorId> {
    let in_channels = b.channels(input);
    let mut x = input;
    let prefix = if block.id == 0 {
        "expanded_conv_".to_string()
    } else {
        let prefix = format!("block_{}_", block.id);
        let expand = ConvSpec::pointwise(block.expansion * in_channels);
        x = b.conv_bn(
            &format!("{prefix}expand"),
            &format!("{prefix}expand_BN"),
            x,
            expand,
        )?;
        x = b.activation(format!("{prefix}expand_relu"), x, Activation::Relu6)?;
        prefix
    };
    x = depthwise(b, x, block.stride, &prefix)?;
    b.project_with_shortcut(
        [
            &format!("{prefix}project"),
            &format!("{prefix}project_BN"),
            &format!("{prefix}add"),
        ],
        x,
        input,
        block.channels,
        block.stride,
    )
}

/// The standard stage: 3×3 depthwise, BatchNorm, ReLU6.
fn depthwise_3x3(
    b: &mut LayerBuilder,
    x: TensorId,
    stride: usize,
    prefix: &str,
) -> Result<TensorId> {
    let spec = ConvSpec::depthwise(3, stride);
    let x = b.conv_bn(
        &format!("{prefix}depthwise"),
        &format!("{prefix}depthwise_BN"),
        x,
        spec,
    )?;
    b.activation(format!("{prefix}depthwise_relu"), x, Activation::Relu6)
}
