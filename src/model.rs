//! A runnable model: a graph plus what it takes to feed it real images and read its output.

use crate::graph::{Graph, Shape};

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

    /// torchvision's ImageNet normalisation: `(pixel / 255 - mean) / std` with the
    /// ImageNet channel means and standard deviations.
    pub fn imagenet() -> Self {
        let scale = |v: [f32; 3]| v.map(|x| x * 255.0);
        Normalization {
            mean: scale([0.485, 0.456, 0.406]),
            std: scale([0.229, 0.224, 0.225]),
        }
    }

    /// Pixel values fed as they are (0..=255).
    pub fn identity() -> Self {
        Normalization {
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    pub fn apply(&self, channel: usize, pixel: f32) -> f32 {
        (pixel - self.mean[channel]) / self.std[channel]
    }
}

/// How a photo is cropped and resized to the model's input size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum Resize {
    /// The centred square of side `min(w, h)`, resized to the input (the TFLite reference
    /// pipeline).
    #[default]
    CenterSquare,
    /// torchvision's evaluation transform: the short side resized to `input · 256 / 224`
    /// (256 for a 224 input), then the centred input-sized crop.
    ShortSideThenCrop,
}

/// Element type of a model's input or output tensor as the file declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DType {
    F32,
    U8,
    I8,
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::F32 => "float32",
            DType::U8 => "uint8",
            DType::I8 => "int8",
        })
    }
}

/// Axis order of a model's input or output tensor in the file; the graph itself is NHWC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Layout {
    /// `[N, H, W, C]` (TFLite, tf2onnx), also `[N, C]` vectors.
    Nhwc,
    /// `[N, C, H, W]` (ONNX's convolutions, torchvision exports).
    Nchw,
}

/// Affine quantization of an 8-bit tensor: `real = scale · (q − zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Quantization {
    pub scale: f32,
    pub zero_point: i32,
}

impl Quantization {
    /// The representable integer range of `dtype`, or `None` for float.
    pub fn grid(dtype: DType) -> Option<(i32, i32)> {
        match dtype {
            DType::F32 => None,
            DType::U8 => Some((0, 255)),
            DType::I8 => Some((-128, 127)),
        }
    }

    pub fn dequantize(&self, q: i32) -> f32 {
        self.scale * (q - self.zero_point) as f32
    }

    /// Round half to even, saturated to `dtype`'s grid (ONNX's QuantizeLinear).
    pub fn quantize(&self, real: f32, dtype: DType) -> i32 {
        let (lo, hi) = Self::grid(dtype).unwrap_or((i32::MIN, i32::MAX));
        let q = (real / self.scale).round_ties_even() as i64 + i64::from(self.zero_point);
        q.clamp(i64::from(lo), i64::from(hi)) as i32
    }
}

/// A model input or output as the file declares it: the tensor `run` reads or writes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: DType,
    /// How the 8-bit values map to the real values the graph computes with.
    pub quantization: Option<Quantization>,
    pub layout: Layout,
    /// Dimensions without the batch, in `layout` order (`[C]` for a vector).
    pub dims: Vec<usize>,
}

impl TensorSpec {
    /// A float32 NHWC tensor of per-image shape `shape` (`[C]` when it is 1×1).
    pub fn float(name: &str, shape: Shape) -> Self {
        TensorSpec {
            name: name.to_string(),
            dtype: DType::F32,
            quantization: None,
            layout: Layout::Nhwc,
            dims: nhwc_dims(shape),
        }
    }
}

/// `[H, W, C]`, or `[C]` for a 1×1 map.
pub fn nhwc_dims(shape: Shape) -> Vec<usize> {
    if shape.h == 1 && shape.w == 1 {
        vec![shape.c]
    } else {
        vec![shape.h, shape.w, shape.c]
    }
}

/// Named preprocessing recipes for `classify` (`--preprocess`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Preset {
    /// Resize the short side to 256 (for 224), centre crop, ImageNet mean/std.
    Torchvision,
    /// Centre square crop, resize, `pixel / 127.5 - 1`.
    Tf,
    /// Centre square crop, resize, the uint8 pixels as the input tensor's integers
    /// (dequantized with its quantization; as they are for a float input).
    Raw,
}

impl Preset {
    /// The recipe an exporter's input implies: integer input → raw, float NCHW (PyTorch)
    /// → torchvision, float NHWC (TensorFlow) → tf.
    pub fn default_for(input: &TensorSpec) -> Preset {
        match (input.dtype, input.layout) {
            (DType::U8 | DType::I8, _) => Preset::Raw,
            (DType::F32, Layout::Nchw) => Preset::Torchvision,
            (DType::F32, Layout::Nhwc) => Preset::Tf,
        }
    }

    /// The normalisation and resize geometry of this recipe for `input`.
    pub fn settings(self, input: &TensorSpec) -> (Normalization, Resize) {
        match self {
            Preset::Torchvision => (Normalization::imagenet(), Resize::ShortSideThenCrop),
            Preset::Tf => (Normalization::symmetric(), Resize::CenterSquare),
            Preset::Raw => {
                // An int8 input is fed `pixel - 128`: real = scale * (pixel - 128 - zp).
                let offset = if input.dtype == DType::I8 { 128.0 } else { 0.0 };
                let norm = input
                    .quantization
                    .map_or_else(Normalization::identity, |q| {
                        Normalization::from_quantization(q.scale, q.zero_point as f32 + offset)
                    });
                (norm, Resize::CenterSquare)
            }
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "torchvision" => Ok(Preset::Torchvision),
            "tf" => Ok(Preset::Tf),
            "raw" => Ok(Preset::Raw),
            other => Err(crate::Error::InvalidArgument(format!(
                "unknown preprocessing preset `{other}` (expected torchvision, tf or raw)"
            ))),
        }
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Preset::Torchvision => "torchvision",
            Preset::Tf => "tf",
            Preset::Raw => "raw",
        })
    }
}

/// The file format a model came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    Tflite,
    Onnx,
    /// A built-in architecture ([`crate::models`]).
    Builder,
}

/// A graph with its input normalisation and output labelling.
#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    pub format: Format,
    pub graph: Graph,
    /// How photos are mapped to the graph input's real values (see [`Resize`] for the
    /// geometry).
    pub normalization: Normalization,
    pub resize: Resize,
    /// True for 1001-class ImageNet models whose class 0 is "background".
    pub background_class: bool,
    pub input: TensorSpec,
    pub output: TensorSpec,
}

impl Model {
    /// A built-in architecture with deterministic random weights.
    pub fn from_arch(config: &crate::models::ArchConfig, seed: u64) -> crate::Result<Model> {
        let name = format!(
            "{} alpha={} (random weights, seed {seed})",
            config.arch, config.alpha
        );
        Ok(Model::from_graph(
            &name,
            crate::models::build(config, seed)?,
        ))
    }

    /// A graph built in code: float32 NHWC input and output, inputs in [-1, 1].
    pub fn from_graph(name: &str, graph: Graph) -> Model {
        Model {
            name: name.to_string(),
            format: Format::Builder,
            normalization: Normalization::symmetric(),
            resize: Resize::CenterSquare,
            background_class: false,
            input: TensorSpec::float("input", graph.input_shape()),
            output: TensorSpec::float("output", graph.output_shape()),
            graph,
        }
    }
}
