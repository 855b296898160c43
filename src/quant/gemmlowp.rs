//! The rest of gemmlowp's fixed point that TFLite's reference kernels use: the 16-bit
//! helpers of HARD_SWISH, and SOFTMAX's exponential and reciprocal. A raw `i32` with `I`
//! integer bits stands for `raw / 2^(31 − I)`; sums are plain wrapping adds, as in C++.

use super::fixed::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul as srdhm};

/// TFLite's `DownScaleInt32ToInt16Multiplier`: a Q31 multiplier rounded to Q15.
pub fn to_i16_multiplier(m: i32) -> i16 {
    if m >= i32::MAX - 32768 {
        return i16::MAX;
    }
    ((m + 32768) >> 16) as i16
}

/// `SaturatingRoundingDoublingHighMul` on 16 bits.
pub fn saturating_rounding_doubling_high_mul_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    let ab = i32::from(a) * i32::from(b);
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    ((ab + nudge) / (1 << 15)) as i16
}

/// HARD_SWISH's `SaturatingDoublingHighMul`: like the above but truncating toward zero.
pub fn doubling_high_mul_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    ((i32::from(a) * i32::from(b)) / (1 << 15)) as i16
}

/// `RoundingDivideByPOT` on 16 bits, every intermediate truncated to 16 bits as in C++.
pub fn rounding_divide_by_pot_i16(x: i16, exponent: i32) -> i16 {
    let mask = ((1i64 << exponent) - 1) as i16;
    let remainder = x & mask;
    let threshold = (mask >> 1).wrapping_add(i16::from(x < 0));
    (x >> exponent.min(15)).wrapping_add(i16::from(remainder > threshold))
}

/// `x · 2^n` saturated to 16 bits (`n ≥ 0`).
pub fn saturating_left_shift_i16(x: i16, n: i32) -> i16 {
    if n >= 16 {
        return match x.signum() {
            1 => i16::MAX,
            -1 => i16::MIN,
            _ => 0,
        };
    }
    (i32::from(x) << n).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// `SaturatingRoundingMultiplyByPOT` on 32 bits: `x · 2^exponent`, saturated or rounded.
fn multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent <= 0 {
        return rounding_divide_by_pot(x, -exponent);
    }
    let threshold = (1i32 << (31 - exponent)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x * (1 << exponent)
    }
}

/// `exp(x)` for `x ≤ 0` with 5 integer bits in, 0 out (gemmlowp's `exp_on_negative_values`).
pub fn exp_on_negative_values(a: i32) -> i32 {
    const FRACTIONAL_BITS: i32 = 26;
    let one_quarter = 1i32 << (FRACTIONAL_BITS - 2);
    let a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    let mut result = exp_on_quarter_interval(multiply_by_pot(a_mod_quarter_minus_quarter, 5));
    let remainder = a_mod_quarter_minus_quarter.wrapping_sub(a);
    // exp(-2^k) in Q0.31 for k = -2..=4.
    const FACTORS: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (k, factor) in FACTORS {
        if remainder & (1 << (FRACTIONAL_BITS + k)) != 0 {
            result = srdhm(result, factor);
        }
    }
    if a == 0 {
        i32::MAX
    } else {
        result
    }
}

/// `exp(a)` for `a` in `[-1/4, 0)`, Q0.31: a Taylor polynomial around -1/8.
fn exp_on_quarter_interval(a: i32) -> i32 {
    const EXP_MINUS_ONE_EIGHTH: i32 = 1_895_147_668;
    const ONE_THIRD: i32 = 715_827_883;
    let x = a.wrapping_add(1 << 28);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    let t = srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2);
    let poly = rounding_divide_by_pot(t, 1);
    EXP_MINUS_ONE_EIGHTH.wrapping_add(srdhm(EXP_MINUS_ONE_EIGHTH, x.wrapping_add(poly)))
}

/// `1 / x` for a positive `x` with `integer_bits` integer bits, as gemmlowp's
/// `GetReciprocal`: the reciprocal of the mantissa in Q0.31 and the bits above one.
pub fn reciprocal(x: i32, integer_bits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros() as i32;
    let bits_over_unit = integer_bits - headroom_plus_one;
    // A sum that wrapped to 0 (thousands of equal values) shifts by 32: x86 masks that.
    let shifted_minus_one = (x as u32)
        .wrapping_shl(headroom_plus_one as u32)
        .wrapping_sub(1 << 31) as i32;
    (one_over_one_plus_x(shifted_minus_one), bits_over_unit)
}

/// `1 / (1 + a)` for `a` in `[0, 1)`, Q0.31 in, Q0.31 out: three Newton-Raphson steps.
fn one_over_one_plus_x(a: i32) -> i32 {
    const C48_17: i32 = 1_515_870_810;
    const CM32_17: i32 = -1_010_580_540;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let mut x = C48_17.wrapping_add(srdhm(half_denominator, CM32_17));
    for _ in 0..3 {
        let one_minus = (1i32 << 29).wrapping_sub(srdhm(half_denominator, x));
        x = x.wrapping_add(multiply_by_pot(srdhm(x, one_minus), 2));
    }
    multiply_by_pot(x, 1)
}

fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(raw: i32) -> f64 {
        f64::from(raw) / 2f64.powi(31)
    }

    #[test]
    fn the_exponential_is_close_to_exp() {
        for x in [-0.01f64, -0.3, -1.0, -2.5, -7.0, -20.0] {
            let raw = (x * 2f64.powi(26)) as i32;
            let got = real(exp_on_negative_values(raw));
            assert!((got - x.exp()).abs() < 1e-6, "exp({x}) = {got}");
        }
        assert_eq!(exp_on_negative_values(0), i32::MAX);
    }

    #[test]
    fn the_reciprocal_is_close_to_one_over_x() {
        // 3.0 with 12 integer bits.
        let (mantissa, bits) = reciprocal(3 << 19, 12);
        let got = real(mantissa) / 2f64.powi(bits);
        assert!((got - 1.0 / 3.0).abs() < 1e-7, "{got}");
    }

    #[test]
    fn sixteen_bit_helpers_round_like_gemmlowp() {
        assert_eq!(to_i16_multiplier(1 << 30), 1 << 14);
        assert_eq!(to_i16_multiplier(i32::MAX), i16::MAX);
        assert_eq!(
            saturating_rounding_doubling_high_mul_i16(i16::MIN, i16::MIN),
            i16::MAX
        );
        assert_eq!(doubling_high_mul_i16(-3, 1 << 14), -1);
        assert_eq!(rounding_divide_by_pot_i16(-6, 2), -2);
        assert_eq!(saturating_left_shift_i16(20000, 1), i16::MAX);
    }
}
