//! Inference-time batch normalisation, written as the textbook formula (not the folded
//! scale/shift) so it independently checks the planner's folding.

use crate::graph::BatchNorm;

/// `y = gamma * (x - mean) / sqrt(var + eps) + beta`, per channel.
pub(super) fn batch_norm(bn: &BatchNorm, x: &[f32]) -> Vec<f32> {
    let channels = bn.gamma.len();
    let mut y = x.to_vec();
    for pixel in y.chunks_exact_mut(channels) {
        for (c, value) in pixel.iter_mut().enumerate() {
            *value = bn.gamma[c] * (*value - bn.mean[c]) / (bn.var[c] + bn.eps).sqrt() + bn.beta[c];
        }
    }
    y
}
