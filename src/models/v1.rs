//! MobileNet V1 (Howard et al. 2017), as `keras.applications.MobileNet`: a stride-2 3×3
//! stem and 13 depthwise-separable blocks, BatchNorm (eps 1e-3) and ReLU6 after every
//! convolution, channels `int(c * alpha)`.

use crate::error::Result;
use crate::graph::{Activation, Op, TensorId};

use super::heads;
use super::layers::{ConvSpec, LayerBuilder};
use super::{BuildSpec, Head};

/// Output channels of the stem at width 1.0.
pub(super) const STEM_CHANNELS: usize = 32;

const BN_EPS: f32 = 1e-3;

/// Pointwise output channels and depthwise stride of blocks 1 to 13 (paper table 1).
const BLOCKS: [(usize, usize); 13] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
];

/// Keras' `int(channels * alpha)` (truncation, no rounding to a multiple of 8).
pub(super) fn scale_channels(channels: usize, alpha: f32) -> usize {
    (channels as f32 * alpha) as usize
}

pub(super) fn build(spec: &BuildSpec) -> Result<crate::graph::Graph> {
    let mut b = LayerBuilder::new(spec.resolution, spec.seed, BN_EPS)?;
    let stem = ConvSpec::full(scale_channels(STEM_CHANNELS, spec.alpha), 3, 2);
    let input = b.input();
    let mut x = conv_block(&mut b, "conv1", input, stem)?;
    for (index, &(channels, stride)) in BLOCKS.iter().enumerate() {
        let id = index + 1;
        x = conv_block(
            &mut b,
            &format!("conv_dw_{id}"),
            x,
            ConvSpec::depthwise(3, stride),
        )?;
        let pointwise = ConvSpec::pointwise(scale_channels(channels, spec.alpha));
        x = conv_block(&mut b, &format!("conv_pw_{id}"), x, pointwise)?;
    }
    match spec.head {
        Head::Classifier(classes) => classifier(&mut b, x, classes)?,
        Head::Embedding(dim) => heads::embedding(&mut b, x, dim)?,
    };
    Ok(b.finish())
}

/// Convolution, BatchNorm and ReLU6 named `name`, `name_bn`, `name_relu`.
fn conv_block(b: &mut LayerBuilder, name: &str, x: TensorId, spec: ConvSpec) -> Result<TensorId> {
    let x = b.conv_bn(name, &format!("{name}_bn"), x, spec)?;
    b.activation(format!("{name}_relu"), x, Activation::Relu6)
}

/// Keras' top: pool, dropout, a 1×1 convolution on 1×1 (here a dense layer), softmax.
fn classifier(b: &mut LayerBuilder, x: TensorId, classes: usize) -> Result<TensorId> {
    let pooled = b.op("global_average_pooling2d", Op::GlobalAvgPool, &[x])?;
    let dropped = b.op("dropout", Op::Dropout, &[pooled])?;
    heads::softmax_classifier(b, dropped, classes, "conv_preds", "predictions")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_truncated_not_rounded() {
        assert_eq!(scale_channels(32, 0.25), 8);
        assert_eq!(scale_channels(1024, 0.75), 768);
        assert_eq!(scale_channels(64, 0.3), 19);
        assert_eq!(scale_channels(32, 0.03), 0);
    }
}
