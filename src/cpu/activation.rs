//! Element-wise activations, using [`Activation::apply`]: the single definition every
//! GPU epilogue must match.

use crate::graph::Activation;

pub(super) fn activation(act: Activation, x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| act.apply(v)).collect()
}
