//! Deterministic random weights, so that every builder run with the same seed produces
//! bit-identical models (GPU results can then be compared run to run and with the CPU).
//!
//! Convolutions use He-style variance scaling: `Var(w) = gain / fan_in`, where the gain
//! makes up for what the input's activation removed (2 after ReLU), so pre-activations
//! keep roughly unit variance through any depth (the gains are chosen in
//! [`super::layers`]).
//! BatchNorm statistics are deliberately far from the identity (gamma and variance in
//! 0.5..1.5, non-zero beta and mean): a planner that folds them wrongly gives visibly
//! different outputs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::graph::BatchNorm;

/// Half-width of the uniform range of biases, BatchNorm betas and means.
const SHIFT_RANGE: f32 = 0.2;

/// The random source of one model build.
pub(crate) struct WeightInit {
    rng: ChaCha8Rng,
}

impl WeightInit {
    pub(crate) fn new(seed: u64) -> Self {
        WeightInit {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// `count` weights with zero mean and variance `gain / fan_in` (uniform, so no
    /// outliers): the weights of a convolution or dense layer reading `fan_in` inputs.
    pub(crate) fn scaled(&mut self, count: usize, fan_in: usize, gain: f32) -> Vec<f32> {
        let half_width = (3.0 * gain / fan_in.max(1) as f32).sqrt();
        self.uniform(count, -half_width, half_width)
    }

    /// Small biases centred on zero.
    pub(crate) fn bias(&mut self, count: usize) -> Vec<f32> {
        self.uniform(count, -SHIFT_RANGE, SHIFT_RANGE)
    }

    /// BatchNorm with random gamma, beta, mean and variance.
    pub(crate) fn batch_norm(&mut self, channels: usize, eps: f32) -> BatchNorm {
        let gamma = self.uniform(channels, 0.5, 1.5);
        self.batch_norm_with_gamma(gamma, eps)
    }

    /// BatchNorm without a learned scale (Keras `scale=False`): gamma is fixed at 1.
    pub(crate) fn batch_norm_unscaled(&mut self, channels: usize, eps: f32) -> BatchNorm {
        self.batch_norm_with_gamma(vec![1.0; channels], eps)
    }

    fn batch_norm_with_gamma(&mut self, gamma: Vec<f32>, eps: f32) -> BatchNorm {
        let channels = gamma.len();
        let beta = self.bias(channels);
        let mean = self.bias(channels);
        let var = self.uniform(channels, 0.5, 1.5);
        BatchNorm {
            gamma,
            beta,
            mean,
            var,
            eps,
        }
    }

    fn uniform(&mut self, count: usize, low: f32, high: f32) -> Vec<f32> {
        (0..count)
            .map(|_| self.rng.random_range(low..high))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_weights_have_the_requested_variance() {
        let mut init = WeightInit::new(7);
        let weights = init.scaled(100_000, 50, 2.0);
        let mean = weights.iter().sum::<f32>() / weights.len() as f32;
        let var = weights.iter().map(|w| w * w).sum::<f32>() / weights.len() as f32;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var - 2.0 / 50.0).abs() < 0.002, "variance {var}");
    }

    #[test]
    fn batch_norm_parameters_are_far_from_identity() {
        let bn = WeightInit::new(1).batch_norm(1000, 1e-3);
        assert!(bn.gamma.iter().all(|g| (0.5..1.5).contains(g)));
        assert!(bn.var.iter().all(|v| (0.5..1.5).contains(v)));
        let spread = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(spread(&bn.beta) > 0.1 && spread(&bn.mean) > 0.1);
        assert!(bn.gamma.iter().any(|g| (g - 1.0).abs() > 0.4));
    }

    #[test]
    fn unscaled_batch_norm_fixes_gamma_at_one() {
        let bn = WeightInit::new(1).batch_norm_unscaled(16, 1e-5);
        assert!(bn.gamma.iter().all(|&g| g == 1.0));
        assert_eq!(bn.eps, 1e-5);
        assert!(bn.var.iter().all(|v| (0.5..1.5).contains(v)));
    }
}
