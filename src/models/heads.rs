//! Network tops shared by the architectures.

use crate::error::Result;
use crate::graph::{Op, TensorId};

use super::layers::LayerBuilder;

/// Epsilon of the embedding head's BatchNorm (the FaceNet-style bottleneck uses 1e-5,
/// unlike the 1e-3 of the MobileNet bodies).
const EMBEDDING_BN_EPS: f32 = 1e-5;

/// Weight scale of the logits layer. Pooled features have a second moment well below 1,
/// so unscaled logits would be nearly equal and the softmax nearly flat; spreading them
/// over a few units gives a peaked distribution whose top classes are worth comparing.
const LOGIT_SCALE: f32 = 4.0;

/// The face-embedding head: global average pool, dropout, a bias-free dense layer to
/// `dim` units and a BatchNorm without scale (gamma fixed at 1), as in FaceNet's
/// "Bottleneck". Gives a 1×1×`dim` embedding.
pub(crate) fn embedding(b: &mut LayerBuilder, features: TensorId, dim: usize) -> Result<TensorId> {
    let pooled = b.op("global_average_pooling2d", Op::GlobalAvgPool, &[features])?;
    let dropped = b.op("dropout", Op::Dropout, &[pooled])?;
    let bottleneck = b.dense("Bottleneck", dropped, dim, false, 1.0)?;
    b.batch_norm_unscaled("Bottleneck_BatchNorm", bottleneck, EMBEDDING_BN_EPS)
}

/// Dense layer with bias to `classes` logits, then softmax (named `dense_name` and
/// `softmax_name`). `pooled` must already be 1×1×C.
pub(crate) fn softmax_classifier(
    b: &mut LayerBuilder,
    pooled: TensorId,
    classes: usize,
    dense_name: &str,
    softmax_name: &str,
) -> Result<TensorId> {
    let logits = b.dense(dense_name, pooled, classes, true, LOGIT_SCALE)?;
    b.op(softmax_name, Op::Softmax, &[logits])
}
