//! "Improved MobileNetV2" for CIFAR-10: 32×32×3 input, 10 classes, a larger receptive
//! field from 7×7 depthwise convolutions.
//!
//! The paper was not available, so this is an explicit reading of its description:
//! - **Block**: as in [`super::v2`] (1×1 expansion + BN + ReLU6, skipped in block 0;
//!   linear 1×1 projection + BN; identity shortcut when stride is 1 and the channels
//!   match), except the depthwise stage. There, the expanded tensor feeds two parallel
//!   depthwise convolutions with the block's stride, a 7×7 and a 3×3, each followed by
//!   its own BatchNorm; their outputs are summed (`Add`) and then pass one ReLU6.
//!   Adding *before* the activation keeps the block a single non-linearity per stage,
//!   like V2, and makes the 3×3 branch a re-parameterisable refinement of the 7×7 one.
//! - **CIFAR adaptation**: V2's table with the stem at stride 1 and the first stride-2
//!   stage (24 channels) at stride 1, so 32×32 input reaches a 4×4 final feature map
//!   (three remaining stride-2 stages).
//! - **Top**: as V2 (1×1 to 1280 + BN + ReLU6, global average pool, dense, softmax),
//!   with 10 classes by default. TF "SAME" padding everywhere, BatchNorm eps 1e-3.

use crate::error::Result;
use crate::graph::{Activation, Graph, Op, TensorId};

use super::layers::{ConvSpec, LayerBuilder};
use super::v2::{self, Stage, Variant, STAGES};
use super::BuildSpec;

/// Index in [`STAGES`] of the 24-channel stage that CIFAR keeps at full resolution.
const CIFAR_UNSTRIDED_STAGE: usize = 1;

/// Weight scale of each depthwise branch, so their sum has the variance of one.
const BRANCH_SCALE: f32 = std::f32::consts::FRAC_1_SQRT_2;

pub(super) fn build(spec: &BuildSpec) -> Result<Graph> {
    let mut stages: [Stage; 7] = STAGES;
    stages[CIFAR_UNSTRIDED_STAGE].stride = 1;
    let cifar = Variant {
        stem_stride: 1,
        stages,
        depthwise: dual_depthwise,
    };
    v2::build_variant(spec, &cifar)
}

/// 7×7 and 3×3 depthwise branches, each with BatchNorm, summed, then ReLU6.
fn dual_depthwise(
    b: &mut LayerBuilder,
    x: TensorId,
    stride: usize,
    prefix: &str,
) -> Result<TensorId> {
    let mut branches = [x; 2];
    for (branch, kernel) in branches.iter_mut().zip([7, 3]) {
        let conv = format!("{prefix}depthwise_{kernel}x{kernel}");
        let spec = ConvSpec::depthwise(kernel, stride).scaled(BRANCH_SCALE);
        *branch = b.conv_bn(&conv, &format!("{conv}_BN"), x, spec)?;
    }
    let sum = b.op(format!("{prefix}depthwise_add"), Op::Add, &branches)?;
    b.activation(format!("{prefix}depthwise_relu"), sum, Activation::Relu6)
}
