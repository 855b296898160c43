//! A runnable model: a graph plus what it takes to feed it real images and read its output.

use crate::graph::Graph;

/// Maps 8-bit RGB pixel values to the model's real-valued input domain:
/// `real = (pixel - mean[c]) / std[c]`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalization {
    /// The normalisation a quantized input tensor implies: `real = scale * (q - zero_point)`.
    pub fn from_quantization(scale: f32, zero_point: f32) -> Self {
        Normalization {
            mean: [zero_point; 3],
            std: [1.0 / scale; 3],
        }
    }

    /// `pixel / 127.5 - 1`, the usual float MobileNet input range [-1, 1].
    pub fn symmetric() -> Self {
        Normalization {
            mean: [127.5; 3],
            std: [127.5; 3],
        }
    }

    pub fn apply(&self, channel: usize, pixel: f32) -> f32 {
        (pixel - self.mean[channel]) / self.std[channel]
    }
}

/// A graph with its input normalisation and output labelling.
#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    pub graph: Graph,
    pub normalization: Normalization,
    /// True for 1001-class ImageNet models whose class 0 is "background".
    pub background_class: bool,
}
