//! TFLite's fixed-point arithmetic (gemmlowp's), on which every integer kernel rescales: a
//! real multiplier `m` is stored as a Q31 significand and a power-of-two exponent, and
//! applied with a rounding doubling high multiply and a rounding right shift. The WGSL
//! twins in `shaders/int/common.wgsl` build the 64-bit product from 16-bit halves and are
//! tested against these on edge values.

/// A real multiplier as TFLite stores it: `m ≈ multiplier · 2^(shift − 31)`, with
/// `multiplier` in `[2^30, 2^31)` (or 0 for `m = 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Multiplier {
    pub multiplier: i32,
    /// Positive: shift left before multiplying; negative: rounding shift right after.
    pub shift: i32,
}

impl Multiplier {
    /// TFLite's `QuantizeMultiplier`: the significand of `m` rounded to 31 bits.
    pub fn new(m: f64) -> Multiplier {
        if m == 0.0 || !m.is_finite() {
            return Multiplier::default();
        }
        let (fraction, mut shift) = frexp(m);
        let mut q = (fraction * (1i64 << 31) as f64).round() as i64;
        if q == 1i64 << 31 {
            q /= 2;
            shift += 1;
        }
        if shift < -31 {
            return Multiplier::default();
        }
        Multiplier {
            multiplier: q as i32,
            shift,
        }
    }

    /// TFLite's `MultiplyByQuantizedMultiplier`: `x · m`, rounded. The left shift wraps,
    /// and a shift of 32 or more counts modulo 32, as on x86 (and in WGSL).
    pub fn apply(self, x: i32) -> i32 {
        let left = self.shift.max(0) as u32;
        let right = (-self.shift).max(0);
        rounding_divide_by_pot(
            saturating_rounding_doubling_high_mul(x.wrapping_shl(left), self.multiplier),
            right,
        )
    }
}

/// `(m, e)` with `x = m · 2^e` and `0.5 ≤ |m| < 1` (C's `frexp`) for finite nonzero `x`.
fn frexp(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    if exponent == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * (1u64 << 54) as f64);
        return (m, e - 54);
    }
    let fraction = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (fraction, exponent - 1022)
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: the high 32 bits of `2·a·b`, rounded to
/// nearest with ties upward (toward +∞), saturating the one overflow `a = b = i32::MIN`.
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Rust's `/` truncates toward zero, as C++'s does.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away from
/// zero.
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((0..=31).contains(&exponent));
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipliers_round_their_significand_to_31_bits() {
        assert_eq!(
            Multiplier::new(0.5),
            Multiplier {
                multiplier: 1 << 30,
                shift: 0
            }
        );
        assert_eq!(
            Multiplier::new(1.0),
            Multiplier {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        // 0.75 · 2^-3: significand 0.75 → 0.75 · 2^31.
        assert_eq!(Multiplier::new(0.09375).multiplier, 3 << 29);
        assert_eq!(Multiplier::new(0.09375).shift, -3);
        // A significand that rounds up to 1.0 moves to the next exponent.
        let almost_one = 1.0 - f64::EPSILON;
        assert_eq!(
            Multiplier::new(almost_one),
            Multiplier {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        assert_eq!(Multiplier::new(1e-12), Multiplier::default());
    }

    #[test]
    fn applying_a_multiplier_rounds_to_nearest_away_from_zero() {
        let half = Multiplier::new(0.5);
        // 2.5 → 3 and -2.5 → -2: the high multiply rounds ties upward...
        assert_eq!(half.apply(5), 3);
        assert_eq!(half.apply(-5), -2);
        assert_eq!(half.apply(4), 2);
        let eighth = Multiplier::new(0.125);
        // ...the right shift away from zero: ±1.5 → ±2.
        assert_eq!(eighth.apply(12), 2);
        assert_eq!(eighth.apply(-12), -2);
        assert_eq!(eighth.apply(-13), -2);
        assert_eq!(Multiplier::new(3.0).apply(7), 21);
    }

    #[test]
    fn the_high_multiply_saturates_and_rounds() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2);
        assert_eq!(rounding_divide_by_pot(6, 2), 2);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }

    #[test]
    fn frexp_matches_c() {
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(0.1), (0.8, -3));
        assert_eq!(frexp(-3.0), (-0.75, 2));
        assert_eq!(frexp(f64::MIN_POSITIVE / 4.0), (0.5, -1023));
    }
}
