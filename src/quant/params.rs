//! Each integer op's parameters, derived from the grids exactly as TFLite's reference kernels
//! derive them (which products are rounded to f32 first matters: a multiplier one ulp off
//! moves outputs by one), and the per-element arithmetic that uses them.

use super::fixed::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul, Multiplier};
use super::gemmlowp;
use crate::graph::{IntType, IntWeights, TensorQuant};

/// The requantization of a convolution or dense accumulator, per output channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Requant {
    /// Subtracted from every input value (TFLite's `-input_offset`).
    pub input_zero_point: i32,
    /// Subtracted from every weight, per output channel (0 for int8, whose kernels ignore it).
    pub weight_zero_points: Vec<i32>,
    pub multipliers: Vec<Multiplier>,
    pub output: TensorQuant,
}

impl Requant {
    /// Conv and depthwise: uint8 kernels take `in · w` as an f32 product, int8 kernels
    /// multiply all three scales in f64.
    pub fn conv(input: TensorQuant, w: &IntWeights, output: TensorQuant, channels: usize) -> Self {
        let multipliers = (0..channels)
            .map(|o| {
                let product = match input.dtype {
                    IntType::U8 => f64::from(input.scale * w.scale(o)),
                    IntType::I8 => f64::from(input.scale) * f64::from(w.scale(o)),
                };
                Multiplier::new(product / f64::from(output.scale))
            })
            .collect();
        Requant {
            input_zero_point: input.zero_point,
            weight_zero_points: weight_zero_points(input.dtype, w, channels),
            multipliers,
            output,
        }
    }

    /// The output value of channel `o` for accumulator `acc` (bias included).
    pub fn apply(&self, o: usize, acc: i32) -> i32 {
        let v = self.multipliers[o]
            .apply(acc)
            .wrapping_add(self.output.zero_point);
        self.output.dtype.saturate(v)
    }
}

/// Weight zero points per channel as the kernels apply them: int8 kernels ignore them.
fn weight_zero_points(dtype: IntType, w: &IntWeights, channels: usize) -> Vec<i32> {
    (0..channels)
        .map(|o| match dtype {
            IntType::U8 => w.zero_point(o),
            IntType::I8 => 0,
        })
        .collect()
}

/// FULLY_CONNECTED's reference kernels requantize in f64: `round(acc · in · w / out)`.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseRequant {
    pub input_zero_point: i32,
    pub weight_zero_points: Vec<i32>,
    /// `in · w / out` per output feature, in f64.
    pub scales: Vec<f64>,
    pub output: TensorQuant,
}

impl DenseRequant {
    pub fn new(input: TensorQuant, w: &IntWeights, output: TensorQuant, features: usize) -> Self {
        // Per-tensor int8 weights apply their zero point; per-channel ones do not.
        let weight_zero_points = (0..features)
            .map(|o| {
                if w.scales.len() == 1 {
                    w.zero_point(o)
                } else {
                    0
                }
            })
            .collect();
        let scales = (0..features)
            .map(|o| f64::from(input.scale) * f64::from(w.scale(o)) / f64::from(output.scale))
            .collect();
        DenseRequant {
            input_zero_point: input.zero_point,
            weight_zero_points,
            scales,
            output,
        }
    }

    pub fn apply(&self, o: usize, acc: i32) -> i32 {
        let v = x86_f64_to_i32((f64::from(acc) * self.scales[o]).round());
        self.output
            .dtype
            .saturate(v.wrapping_add(self.output.zero_point))
    }
}

/// C's `(int32_t)x` on x86-64: truncation, and `i32::MIN` for NaN and out-of-range values.
fn x86_f64_to_i32(x: f64) -> i32 {
    if x.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        i32::MIN
    } else {
        x as i32
    }
}

/// MEAN over `count` values (TFLite's `QuantizedMeanOrSum`): `1/count` folded into the
/// multiplier of `in / out`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mean {
    pub input_zero_point: i32,
    pub count: i32,
    pub multiplier: Multiplier,
    pub output: TensorQuant,
}

impl Mean {
    pub fn new(input: TensorQuant, output: TensorQuant, count: usize) -> Self {
        let m = Multiplier::new(f64::from(input.scale) / f64::from(output.scale));
        let n = count as i64;
        let s = (63 - n.leading_zeros() as i32).min(32).min(31 + m.shift);
        let multiplier = Multiplier {
            multiplier: ((i64::from(m.multiplier) << s) / n) as i32,
            shift: m.shift - s,
        };
        Mean {
            input_zero_point: input.zero_point,
            count: count as i32,
            multiplier,
            output,
        }
    }

    /// The output for the sum of the `count` stored input values.
    pub fn apply(&self, sum: i32) -> i32 {
        let centred =
            (i64::from(sum) - i64::from(self.input_zero_point) * i64::from(self.count)) as i32;
        let v = self
            .multiplier
            .apply(centred)
            .wrapping_add(self.output.zero_point);
        self.output.dtype.saturate(v)
    }
}

/// AVERAGE_POOL_2D: the stored codes averaged as they are, rounding half away from zero.
pub fn average(sum: i32, count: i32) -> i32 {
    if sum > 0 {
        sum.wrapping_add(count / 2) / count
    } else {
        sum.wrapping_sub(count / 2) / count
    }
}

/// A move to another grid (QUANTIZE between integer types; a regridding pass-through).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Requantize {
    pub input_zero_point: i32,
    pub multiplier: Multiplier,
    pub output: TensorQuant,
}

impl Requantize {
    pub fn new(input: TensorQuant, output: TensorQuant) -> Self {
        Requantize {
            input_zero_point: input.zero_point,
            multiplier: Multiplier::new(f64::from(input.scale) / f64::from(output.scale)),
            output,
        }
    }

    pub fn apply(&self, x: i32) -> i32 {
        let v = self
            .multiplier
            .apply(x - self.input_zero_point)
            .wrapping_add(self.output.zero_point);
        self.output.dtype.saturate(v)
    }
}

/// ADD: both inputs scaled to twice the larger scale with 20 bits of headroom, summed, and
/// scaled to the output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Add {
    pub zero_points: [i32; 2],
    pub multipliers: [Multiplier; 2],
    pub output_multiplier: Multiplier,
    pub output: TensorQuant,
}

impl Add {
    const LEFT_SHIFT: i32 = 20;

    pub fn new(a: TensorQuant, b: TensorQuant, output: TensorQuant) -> Self {
        let twice_max = f64::from(2.0 * a.scale.max(b.scale));
        let headroom = (1i32 << Self::LEFT_SHIFT) as f32 * output.scale;
        Add {
            zero_points: [a.zero_point, b.zero_point],
            multipliers: [
                Multiplier::new(f64::from(a.scale) / twice_max),
                Multiplier::new(f64::from(b.scale) / twice_max),
            ],
            output_multiplier: Multiplier::new(twice_max / f64::from(headroom)),
            output,
        }
    }

    /// `a + b` on the output grid, saturated to its type.
    pub fn apply(&self, a: i32, b: i32) -> i32 {
        let scaled = |k: usize, x: i32| {
            self.multipliers[k].apply((x - self.zero_points[k]) * (1 << Self::LEFT_SHIFT))
        };
        let sum = scaled(0, a).wrapping_add(scaled(1, b));
        let v = self
            .output_multiplier
            .apply(sum)
            .wrapping_add(self.output.zero_point);
        self.output.dtype.saturate(v)
    }
}

/// MUL: the product of the centred inputs, scaled by `a · b / out` (an f32 quotient).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mul {
    pub zero_points: [i32; 2],
    pub multiplier: Multiplier,
    pub output: TensorQuant,
}

impl Mul {
    pub fn new(a: TensorQuant, b: TensorQuant, output: TensorQuant) -> Self {
        Mul {
            zero_points: [a.zero_point, b.zero_point],
            multiplier: Multiplier::new(f64::from(a.scale * b.scale / output.scale)),
            output,
        }
    }

    pub fn apply(&self, a: i32, b: i32) -> i32 {
        let product = (a - self.zero_points[0]) * (b - self.zero_points[1]);
        let v = self
            .multiplier
            .apply(product)
            .wrapping_add(self.output.zero_point);
        self.output.dtype.saturate(v)
    }
}

/// HARD_SWISH on 16-bit fixed point (TFLite's `reference_ops::HardSwish`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HardSwish {
    pub input_zero_point: i32,
    pub output_multiplier: i16,
    pub output_exponent: i32,
    pub reluish_multiplier: i16,
    pub reluish_exponent: i32,
    pub output: TensorQuant,
}

impl HardSwish {
    /// `None` where TFLite refuses the scales (an output multiplier above one).
    pub fn new(input: TensorQuant, output: TensorQuant) -> Option<Self> {
        let hires_scale = input.scale / 128.0;
        let out = Multiplier::new(f64::from(hires_scale / output.scale));
        let reluish = Multiplier::new(f64::from(hires_scale / (3.0 / 32768.0)));
        (out.shift <= 0).then_some(HardSwish {
            input_zero_point: input.zero_point,
            output_multiplier: gemmlowp::to_i16_multiplier(out.multiplier),
            output_exponent: out.shift,
            reluish_multiplier: gemmlowp::to_i16_multiplier(reluish.multiplier),
            reluish_exponent: reluish.shift,
            output,
        })
    }

    pub fn apply(&self, x: i32) -> i32 {
        use gemmlowp::saturating_rounding_doubling_high_mul_i16 as srdhm16;
        use gemmlowp::{
            doubling_high_mul_i16, rounding_divide_by_pot_i16, saturating_left_shift_i16,
        };
        let hires = ((x - self.input_zero_point) * 128) as i16;
        let preshift = srdhm16(hires, self.output_multiplier);
        let mut r = hires;
        if self.reluish_exponent > 0 {
            r = saturating_left_shift_i16(r, self.reluish_exponent - 1);
        }
        r = srdhm16(r, self.reluish_multiplier);
        if self.reluish_exponent > 0 {
            r = saturating_left_shift_i16(r, 1);
        } else if self.reluish_exponent < 0 {
            r = rounding_divide_by_pot_i16(r, -self.reluish_exponent);
        }
        let r = ((i32::from(r) + 32768) >> 1) as i16;
        let pre = doubling_high_mul_i16(r, preshift);
        let out = rounding_divide_by_pot_i16(pre, -self.output_exponent);
        let out = (i32::from(out) + self.output.zero_point) as i16;
        self.output.dtype.saturate(i32::from(out))
    }
}

/// SOFTMAX with gemmlowp's fixed-point exponential (5 integer bits for the differences).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Softmax {
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    /// Differences from the row maximum below this contribute nothing.
    pub diff_min: i32,
    pub output: IntType,
}

impl Softmax {
    /// `None` where TFLite refuses the input scale (`beta · scale ≥ 16` or too small).
    pub fn new(input: TensorQuant, output: IntType) -> Option<Self> {
        let real = (f64::from(input.scale) * f64::from(1u32 << 26)).min(f64::from(i32::MAX));
        let m = Multiplier::new(real);
        if real <= 1.0 || !(0..31).contains(&m.shift) {
            return None;
        }
        let radius = ((31i64 << 26) >> m.shift) as i32;
        Some(Softmax {
            input_multiplier: m.multiplier,
            input_left_shift: m.shift,
            diff_min: -radius,
            output,
        })
    }

    /// The output row for input row `x` (stored values).
    pub fn row(&self, x: &[i32]) -> Vec<i32> {
        let max = x.iter().copied().max().unwrap_or(0);
        let exp = |v: i32| {
            let d = v - max;
            (d >= self.diff_min).then(|| {
                let scaled = saturating_rounding_doubling_high_mul(
                    d * (1 << self.input_left_shift),
                    self.input_multiplier,
                );
                gemmlowp::exp_on_negative_values(scaled)
            })
        };
        let sum = x.iter().filter_map(|&v| exp(v)).fold(0i32, |sum, e| {
            sum.wrapping_add(rounding_divide_by_pot(e, 12))
        });
        let (reciprocal, bits_over_unit) = gemmlowp::reciprocal(sum, 12);
        // At most 31 (TFLite checks it is: only rows of thousands of equal values, whose
        // sum wraps, exceed it).
        let exponent = (bits_over_unit + 31 - 8).min(31);
        let (lo, hi) = self.output.range();
        x.iter()
            .map(|&v| match exp(v) {
                Some(e) => {
                    let unsat = rounding_divide_by_pot(
                        saturating_rounding_doubling_high_mul(reciprocal, e),
                        exponent,
                    );
                    (unsat + lo).clamp(lo, hi)
                }
                None => lo,
            })
            .collect()
    }
}

/// Integer bounds of a clamp to real `[min, max]` on `grid` (TFLite's
/// `CalculateActivationRangeQuantized`, in f32).
pub fn clamp_bounds(min: f32, max: f32, grid: TensorQuant) -> (i32, i32) {
    let (lo, hi) = grid.dtype.range();
    let lo = grid.quantize_unsaturated(min).max(i64::from(lo));
    let hi = grid.quantize_unsaturated(max).min(i64::from(hi));
    (lo as i32, hi as i32)
}
