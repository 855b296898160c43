//! Fully connected layer on a 1×1×C input.

use crate::graph::Dense;

/// `y[n, o] = bias[o] + sum_i weights[o][i] * x[n, i]`.
pub(super) fn dense(dense: &Dense, x: &[f32]) -> Vec<f32> {
    let in_features = dense.weights.len() / dense.out_features;
    let mut y = Vec::with_capacity(x.len() / in_features * dense.out_features);
    for features in x.chunks_exact(in_features) {
        for (o, row) in dense.weights.chunks_exact(in_features).enumerate() {
            let bias = dense.bias.as_ref().map_or(0.0, |b| b[o]);
            y.push(bias + row.iter().zip(features).map(|(w, v)| w * v).sum::<f32>());
        }
    }
    y
}
