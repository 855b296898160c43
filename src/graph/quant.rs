//! The integer side of the IR: the grid each tensor of a quantized file is stored on, and the
//! integer operands (weights, biases, constants) its ops compute with there. Float plans
//! ignore all of it; the integer CPU reference and int8 plans read nothing else.

/// An 8-bit integer storage type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum IntType {
    U8,
    I8,
}

impl IntType {
    /// The representable values, inclusive.
    pub fn range(self) -> (i32, i32) {
        match self {
            IntType::U8 => (0, 255),
            IntType::I8 => (-128, 127),
        }
    }

    /// The value a stored byte holds.
    pub fn decode(self, byte: u8) -> i32 {
        match self {
            IntType::U8 => i32::from(byte),
            IntType::I8 => i32::from(byte as i8),
        }
    }

    /// `v` saturated to the type's range.
    pub fn saturate(self, v: i32) -> i32 {
        let (lo, hi) = self.range();
        v.clamp(lo, hi)
    }
}

/// Per-tensor affine quantization: `real = scale · (q − zero_point)`, `q` of type `dtype`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct TensorQuant {
    pub dtype: IntType,
    pub scale: f32,
    pub zero_point: i32,
}

impl TensorQuant {
    /// `real` on this grid as TFLite's QUANTIZE stores it: `round(real / scale)` in f32,
    /// half away from zero, plus the zero point, saturated. NaN and out-of-range values
    /// convert to `i32::MIN` first, as C's cast does on x86-64, where TFLite runs.
    pub fn quantize(&self, real: f32) -> i32 {
        let q = (real / self.scale).round();
        let q = if q.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&q) {
            i32::MIN
        } else {
            q as i32
        };
        self.dtype.saturate(q.wrapping_add(self.zero_point))
    }

    /// The real value of stored `q` (TFLite's DEQUANTIZE).
    pub fn dequantize(&self, q: i32) -> f32 {
        self.scale * (q - self.zero_point) as f32
    }

    /// The integer nearest `real` (TFLite's rounding: half away from zero, in f32), not
    /// saturated: how TFLite turns an activation's real bounds into integer bounds.
    pub fn quantize_unsaturated(&self, real: f32) -> i64 {
        if real.is_infinite() {
            return if real > 0.0 { i64::MAX } else { i64::MIN };
        }
        i64::from(self.zero_point) + (real / self.scale).round() as i64
    }
}

/// Integer weights of a convolution or dense layer, in the float op's weight layout.
#[derive(Clone, Debug, PartialEq)]
pub struct IntWeights {
    /// The stored 8-bit values.
    pub values: Vec<i32>,
    pub dtype: IntType,
    /// One scale per output channel, or one for all.
    pub scales: Vec<f32>,
    /// One zero point per output channel, or one for all.
    pub zero_points: Vec<i32>,
    /// The int32 bias, on the grid of scale `input scale · weight scale`.
    pub bias: Option<Vec<i32>>,
}

impl IntWeights {
    /// The weight scale of output channel `o`.
    pub fn scale(&self, o: usize) -> f32 {
        self.scales[if self.scales.len() == 1 { 0 } else { o }]
    }

    /// The bias of output channel `o` (0 without a bias).
    pub fn bias(&self, o: usize) -> i32 {
        self.bias.as_ref().map_or(0, |b| b[o])
    }

    /// The weight zero point of output channel `o`.
    pub fn zero_point(&self, o: usize) -> i32 {
        self.zero_points[if self.zero_points.len() == 1 { 0 } else { o }]
    }
}

/// A constant operand of an element-wise op: one value, or one per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct IntConstant {
    pub values: Vec<i32>,
    pub quant: TensorQuant,
}

impl IntConstant {
    /// The value applied to channel `c`.
    pub fn at(&self, c: usize) -> i32 {
        self.values[if self.values.len() == 1 { 0 } else { c }]
    }
}

/// What an op computes on the integer grid beyond its float form.
#[derive(Clone, Debug, PartialEq)]
pub enum IntForm {
    /// A `Conv2d` or `Dense`: the file's integer weights and bias.
    Weights(IntWeights),
    /// The 1×1 depthwise `Conv2d` a file's `ADD x, constant` became: TFLite's integer ADD.
    AddConstant(IntConstant),
    /// The 1×1 depthwise `Conv2d` a file's `MUL x, constant` became: TFLite's integer MUL.
    MulConstant(IntConstant),
    /// A `GlobalAvgPool` from a file's MEAN, which rescales to the output grid (TFLite's
    /// `QuantizedMeanOrSum`); one from AVERAGE_POOL_2D averages the stored codes as they are.
    Mean,
}

/// How a node computes on the integer grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Integer {
    /// The grid the node's output is stored on.
    pub output: TensorQuant,
    /// What the op needs beyond its float form (integer weights, constants, a variant).
    pub form: Option<IntForm>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_quantize_with_rounding_away_from_zero() {
        let q = TensorQuant {
            dtype: IntType::U8,
            scale: 0.5,
            zero_point: 10,
        };
        assert_eq!(q.quantize_unsaturated(1.25), 13);
        assert_eq!(q.quantize_unsaturated(-1.25), 7);
        assert_eq!(q.quantize_unsaturated(f32::INFINITY), i64::MAX);
        assert_eq!(IntType::I8.saturate(300), 127);
    }
}
