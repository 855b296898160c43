//! MobileNetV3 (Howard et al. 2019), tables 1 (Large) and 2 (Small), as
//! `keras.applications.MobileNetV3Large/Small`:
//! - a stride-2 3×3 stem of 16 channels (not scaled by alpha, as in Keras) with h-swish;
//! - inverted residual blocks with 3×3 or 5×5 depthwise convolutions, optional
//!   squeeze-excite (pool, 1×1 conv to `make_divisible(exp * se_ratio, 8)` + ReLU, 1×1
//!   conv back to `exp` + hard sigmoid, channel-wise multiply) and ReLU or h-swish;
//!   expanded channels are `make_divisible(in_channels * ratio, 8)` with the table's
//!   ratio (so they follow the scaled input, as in Keras and TF-slim), output channels
//!   `make_divisible(c * alpha, 8)`;
//! - a 1×1 convolution to 6× the last block's channels (960 / 576) + BN + h-swish, global
//!   average pool, a 1×1 convolution with bias to 1280 (Large) or 1024 (Small) units
//!   (scaled when alpha > 1) + h-swish, dropout, dense logits and softmax.
//!
//! BatchNorm eps 1e-3, TF "SAME" padding.

use crate::error::Result;
use crate::graph::{Activation, Graph, Op, TensorId};

use super::heads;
use super::layers::{ConvSpec, LayerBuilder};
use super::{make_divisible, BuildSpec, Head, V3Options};

const BN_EPS: f32 = 1e-3;
const STEM_CHANNELS: usize = 16;
/// The head's first convolution has this many times the last block's channels.
const LAST_CONV_EXPANSION: f32 = 6.0;

/// Which of the two networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Size {
    Large,
    Small,
}

const RE: Activation = Activation::Relu;
const HS: Activation = Activation::HardSwish;

/// One row of tables 1/2: depthwise kernel, expansion ratio (expanded / input channels),
/// output channels, squeeze-excite, activation, stride.
#[derive(Clone, Copy, Debug)]
struct Block {
    kernel: usize,
    expansion: f32,
    channels: usize,
    se: bool,
    act: Activation,
    stride: usize,
}

const fn block(
    kernel: usize,
    expansion: f32,
    channels: usize,
    se: bool,
    act: Activation,
    stride: usize,
) -> Block {
    Block {
        kernel,
        expansion,
        channels,
        se,
        act,
        stride,
    }
}

/// Table 1 (expanded sizes 16, 64, 72, 72, 120, 120, 240, 200, 184, 184, 480, 672, 672,
/// 960, 960 as ratios of the input channels).
const LARGE: [Block; 15] = [
    block(3, 1.0, 16, false, RE, 1),
    block(3, 4.0, 24, false, RE, 2),
    block(3, 3.0, 24, false, RE, 1),
    block(5, 3.0, 40, true, RE, 2),
    block(5, 3.0, 40, true, RE, 1),
    block(5, 3.0, 40, true, RE, 1),
    block(3, 6.0, 80, false, HS, 2),
    block(3, 2.5, 80, false, HS, 1),
    block(3, 2.3, 80, false, HS, 1),
    block(3, 2.3, 80, false, HS, 1),
    block(3, 6.0, 112, true, HS, 1),
    block(3, 6.0, 112, true, HS, 1),
    block(5, 6.0, 160, true, HS, 2),
    block(5, 6.0, 160, true, HS, 1),
    block(5, 6.0, 160, true, HS, 1),
];

/// Table 2 (expanded sizes 16, 72, 88, 96, 240, 240, 120, 144, 288, 576, 576).
const SMALL: [Block; 11] = [
    block(3, 1.0, 16, true, RE, 2),
    block(3, 72.0 / 16.0, 24, false, RE, 2),
    block(3, 88.0 / 24.0, 24, false, RE, 1),
    block(5, 4.0, 40, true, HS, 2),
    block(5, 6.0, 40, true, HS, 1),
    block(5, 6.0, 40, true, HS, 1),
    block(5, 3.0, 48, true, HS, 1),
    block(5, 3.0, 48, true, HS, 1),
    block(5, 6.0, 96, true, HS, 2),
    block(5, 6.0, 96, true, HS, 1),
    block(5, 6.0, 96, true, HS, 1),
];

pub(super) fn build(spec: &BuildSpec, size: Size) -> Result<Graph> {
    let mut b = LayerBuilder::new(spec.resolution, spec.seed, BN_EPS)?;
    let x = b.conv_bn(
        "Conv",
        "Conv/BatchNorm",
        b.input(),
        ConvSpec::full(STEM_CHANNELS, 3, 2),
    )?;
    let mut x = b.activation("Conv/hard_swish", x, HS)?;
    let blocks: &[Block] = match size {
        Size::Large => &LARGE,
        Size::Small => &SMALL,
    };
    for (id, block) in blocks.iter().enumerate() {
        let channels = make_divisible(block.channels as f32 * spec.alpha, 8, None);
        x = inverted_residual(&mut b, x, &Block { channels, ..*block }, id, &spec.v3)?;
    }
    let last_conv = make_divisible(b.channels(x) as f32 * LAST_CONV_EXPANSION, 8, None);
    let x = b.conv_bn(
        "Conv_1",
        "Conv_1/BatchNorm",
        x,
        ConvSpec::pointwise(last_conv),
    )?;
    let x = b.activation("Conv_1/hard_swish", x, HS)?;
    match spec.head {
        Head::Classifier(classes) => classifier(&mut b, x, classes, last_point_units(spec, size))?,
        Head::Embedding(dim) => heads::embedding(&mut b, x, dim)?,
    };
    Ok(b.finish())
}

/// Units of the penultimate layer: 1280 (Large) or 1024 (Small, unless
/// `small_head_1280`), widened only when alpha > 1.
fn last_point_units(spec: &BuildSpec, size: Size) -> usize {
    let units = match size {
        Size::Small if !spec.v3.small_head_1280 => 1024,
        _ => 1280,
    };
    if spec.alpha > 1.0 {
        make_divisible(units as f32 * spec.alpha, 8, None)
    } else {
        units
    }
}

fn classifier(b: &mut LayerBuilder, x: TensorId, classes: usize, units: usize) -> Result<TensorId> {
    let pooled = b.op("global_average_pooling2d", Op::GlobalAvgPool, &[x])?;
    let x = b.conv("Conv_2", pooled, ConvSpec::pointwise(units).with_bias())?;
    let x = b.activation("Conv_2/hard_swish", x, HS)?;
    let x = b.op("dropout", Op::Dropout, &[x])?;
    heads::softmax_classifier(b, x, classes, "Logits", "Predictions")
}

fn activation_name(act: Activation) -> &'static str {
    match act {
        Activation::HardSwish => "hard_swish",
        _ => "relu",
    }
}

/// Keras' `_inverted_res_block`: block 0 has no expansion convolution and is named
/// `expanded_conv/*`, the others `expanded_conv_<id>/*`.
fn inverted_residual(
    b: &mut LayerBuilder,
    input: TensorId,
    block: &Block,
    id: usize,
    v3: &V3Options,
) -> Result<TensorId> {
    let in_channels = b.channels(input);
    let act = activation_name(block.act);
    let mut x = input;
    let prefix = if id == 0 {
        "expanded_conv/".to_string()
    } else {
        let prefix = format!("expanded_conv_{id}/");
        let expanded = make_divisible(in_channels as f32 * block.expansion, 8, None);
        let expand = ConvSpec::pointwise(expanded);
        x = b.conv_bn(
            &format!("{prefix}expand"),
            &format!("{prefix}expand/BatchNorm"),
            x,
            expand,
        )?;
        x = b.activation(format!("{prefix}expand/{act}"), x, block.act)?;
        prefix
    };
    let depthwise = ConvSpec::depthwise(block.kernel, block.stride);
    x = b.conv_bn(
        &format!("{prefix}depthwise"),
        &format!("{prefix}depthwise/BatchNorm"),
        x,
        depthwise,
    )?;
    x = b.activation(format!("{prefix}depthwise/{act}"), x, block.act)?;
    if block.se && v3.se_ratio > 0.0 {
        x = squeeze_excite(b, x, &prefix, v3)?;
    }
    b.project_with_shortcut(
        [
            &format!("{prefix}project"),
            &format!("{prefix}project/BatchNorm"),
            &format!("{prefix}Add"),
        ],
        x,
        input,
        block.channels,
        block.stride,
    )
}

/// Pool, squeeze 1×1 conv + ReLU, excite 1×1 conv + hard sigmoid, rescale `x`.
fn squeeze_excite(
    b: &mut LayerBuilder,
    x: TensorId,
    prefix: &str,
    v3: &V3Options,
) -> Result<TensorId> {
    let name = |layer: &str| format!("{prefix}squeeze_excite/{layer}");
    let channels = b.channels(x);
    let squeezed = make_divisible(channels as f32 * v3.se_ratio, 8, None);
    let gate = if v3.keras_hard_sigmoid {
        Activation::KERAS_HARD_SIGMOID
    } else {
        Activation::HARD_SIGMOID
    };
    let s = b.op(name("AvgPool"), Op::GlobalAvgPool, &[x])?;
    let s = b.conv(name("Conv"), s, ConvSpec::pointwise(squeezed).with_bias())?;
    let s = b.activation(name("Relu"), s, Activation::Relu)?;
    let s = b.conv(name("Conv_1"), s, ConvSpec::pointwise(channels).with_bias())?;
    let s = b.activation(name("hard_sigmoid"), s, gate)?;
    b.op(name("Mul"), Op::MulChannel, &[x, s])
}
