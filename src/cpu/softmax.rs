//! Softmax over channels, independently at every pixel of every image.

/// Numerically stable: subtracts each pixel's maximum before exponentiating, so large
/// logits do not overflow.
pub(super) fn softmax(x: &[f32], channels: usize) -> Vec<f32> {
    let mut y = x.to_vec();
    for pixel in y.chunks_exact_mut(channels) {
        let max = pixel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for value in pixel.iter_mut() {
            *value = (*value - max).exp();
            sum += *value;
        }
        for value in pixel.iter_mut() {
            *value /= sum;
        }
    }
    y
}
