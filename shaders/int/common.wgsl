// Prepended by the runtime to every integer kernel file (shaders/int/*.wgsl). Tensors hold
// 8-bit values, four to a u32 word, value `i` in byte `i % 4` of word `i / 4` (little end
// first), uint8 or int8 as each kernel's params say. Every output word is written by one
// thread, so no two threads of a dispatch share a word (softmax, whose rows need not start
// on a word, writes bytes atomically; a concatenation part rewrites words earlier parts'
// dispatches wrote, keeping their bytes).
//
// The fixed-point functions are TFLite's (gemmlowp's), bit for bit: src/quant/fixed.rs is
// their Rust twin, and src/gpu/kernels/int/fixed_test.rs runs both on edge values. WGSL has no 64-bit
// integers, so the 32×32→64-bit product is built from 16-bit halves.
//
// Bindings as for float kernels: 0 params, 1 input, 2 weights (or a second input), 5 output.

const WG: u32 = 64u;

@group(0) @binding(1) var<storage, read> input: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<u32>;

/// Linear thread index of a dispatch split into 2-D (as in common.wgsl).
fn linear_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

/// Byte `lane` of `word` as a value: sign-extended when `signed` is 1.
fn byte_value(word: u32, lane: u32, signed: u32) -> i32 {
    let b = (word >> (8u * lane)) & 0xffu;
    if signed != 0u {
        return bitcast<i32>(b << 24u) >> 24u;
    }
    return i32(b);
}

fn input_value(i: u32, signed: u32) -> i32 {
    return byte_value(input[i / 4u], i % 4u, signed);
}

fn weight_value(i: u32, signed: u32) -> i32 {
    return byte_value(weights[i / 4u], i % 4u, signed);
}

/// Four values as one word (each already within its 8-bit type's range).
fn pack4(v: vec4<i32>) -> u32 {
    let b = vec4<u32>(bitcast<vec4<u32>>(v) & vec4<u32>(0xffu));
    return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

// The fixed point works on four lanes at once, so a word's four values requantize
// together with no branch per lane; the scalar forms take lane x of the same code.

/// `a · b` per lane as 64-bit products: `low` and `high` 32-bit halves.
struct Wide4 {
    low: vec4<u32>,
    high: vec4<u32>,
}

fn mul_wide4(a: vec4<u32>, b: vec4<u32>) -> Wide4 {
    let half = vec4(0xffffu);
    let al = a & half;
    let ah = a >> vec4(16u);
    let bl = b & half;
    let bh = b >> vec4(16u);
    let t = al * bl;
    let m1 = ah * bl + (t >> vec4(16u));
    let m2 = al * bh + (m1 & half);
    let high = ah * bh + (m1 >> vec4(16u)) + (m2 >> vec4(16u));
    let low = (m2 << vec4(16u)) | (t & half);
    return Wide4(low, high);
}

/// gemmlowp's SaturatingRoundingDoublingHighMul: round(2·a·b / 2^32), ties upward.
fn srdhm4(a: vec4<i32>, b: vec4<i32>) -> vec4<i32> {
    let min = vec4(bitcast<i32>(0x80000000u));
    let negative = (a < vec4(0)) != (b < vec4(0));
    let p = mul_wide4(bitcast<vec4<u32>>(abs(a)), bitcast<vec4<u32>>(abs(b)));
    // (|a·b| + 2^30) >> 31 for a positive product; −((|a·b| + 2^30 − 1) >> 31) otherwise.
    let nudge = select(vec4(0x40000000u), vec4(0x3fffffffu), negative);
    let low = p.low + nudge;
    let high = p.high + select(vec4(0u), vec4(1u), low < p.low);
    let q = bitcast<vec4<i32>>((high << vec4(1u)) | (low >> vec4(31u)));
    // The one product that does not fit: min · min saturates.
    return select(select(q, -q, negative), vec4(2147483647), (a == min) & (b == min));
}

/// gemmlowp's RoundingDivideByPOT: x / 2^e rounded half away from zero (0 ≤ e ≤ 31).
fn rdbpot4(x: vec4<i32>, e: vec4<i32>) -> vec4<i32> {
    let mask = bitcast<vec4<i32>>((vec4(1u) << vec4<u32>(e)) - vec4(1u));
    let remainder = x & mask;
    let threshold = (mask >> vec4(1u)) + select(vec4(0), vec4(1), x < vec4(0));
    return (x >> vec4<u32>(e)) + select(vec4(0), vec4(1), remainder > threshold);
}

/// TFLite's MultiplyByQuantizedMultiplier (`shift` > 0: left, < 0: rounding right).
fn mbqm4(x: vec4<i32>, multiplier: vec4<i32>, shift: vec4<i32>) -> vec4<i32> {
    // Shifts of 32 or more count modulo 32, as on x86 (and in the Rust twin), spelled out
    // because backends differ on an over-wide shift.
    let left = vec4<u32>(max(shift, vec4(0))) & vec4(31u);
    return rdbpot4(srdhm4(x << left, multiplier), max(-shift, vec4(0)));
}

/// TFLite's quantized ADD of stored `a` and `b`: each centred, shifted left by 20 bits and
/// scaled to twice the larger input scale (`m.xy`, `m.zw`: multiplier and shift per input),
/// then summed and scaled to the output (`out`: multiplier, shift), before its zero point.
fn add_quantized4(
    a: vec4<i32>,
    b: vec4<i32>,
    zp: vec2<i32>,
    m: vec4<i32>,
    out: vec2<i32>,
    out_zp: i32,
) -> vec4<i32> {
    let x = mbqm4((a - zp.x) << vec4(20u), vec4(m.x), vec4(m.y));
    let y = mbqm4((b - zp.y) << vec4(20u), vec4(m.z), vec4(m.w));
    return mbqm4(x + y, vec4(out.x), vec4(out.y)) + out_zp;
}

/// `a · b` as (low, high) 32-bit halves.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let p = mul_wide4(vec4(a), vec4(b));
    return vec2(p.low.x, p.high.x);
}

fn srdhm(a: i32, b: i32) -> i32 {
    return srdhm4(vec4(a), vec4(b)).x;
}

fn rdbpot(x: i32, e: i32) -> i32 {
    return rdbpot4(vec4(x), vec4(e)).x;
}

fn mbqm(x: i32, multiplier: i32, shift: i32) -> i32 {
    return mbqm4(vec4(x), vec4(multiplier), vec4(shift)).x;
}

fn add_quantized(a: i32, b: i32, zp: vec2<i32>, m: vec4<i32>, out: vec2<i32>, out_zp: i32) -> i32 {
    return add_quantized4(vec4(a), vec4(b), zp, m, out, out_zp).x;
}

/// An i16 value of C++, held sign-extended in an i32.
fn i16_wrap(x: i32) -> i32 {
    return (x << 16u) >> 16u;
}

fn srdhm16(a: i32, b: i32) -> i32 {
    if a == -32768 && b == -32768 {
        return 32767;
    }
    let ab = a * b;
    return i16_wrap((ab + select(1 - 16384, 16384, ab >= 0)) / 32768);
}

fn rdbpot16(x: i32, e: i32) -> i32 {
    let mask = i16_wrap(bitcast<i32>((1u << u32(e)) - 1u));
    let remainder = i16_wrap(x & mask);
    let threshold = i16_wrap((mask >> 1u) + select(0, 1, x < 0));
    return i16_wrap((x >> u32(min(e, 15))) + select(0, 1, remainder > threshold));
}

fn saturating_left_shift16(x: i32, n: i32) -> i32 {
    if n >= 16 {
        return select(select(0, -32768, x < 0), 32767, x > 0);
    }
    return clamp(x << u32(n), -32768, 32767);
}

/// TFLite's reference HARD_SWISH parameters (`quant::params::HardSwish`, written by
/// `HardSwishUniform` in src/gpu/kernels/int/mod.rs): input zero point, output multiplier
/// (Q15) and exponent, the "reluish" ones, output zero point; padded to 32 bytes, as a
/// struct member of a uniform needs.
struct HardSwish {
    zp: i32,
    out_m: i32,
    out_s: i32,
    relu_m: i32,
    relu_s: i32,
    out_zp: i32,
    pad0: i32,
    pad1: i32,
}

/// TFLite's reference HARD_SWISH of stored value `v`, before saturation.
fn hard_swish(v: i32, h: HardSwish) -> i32 {
    let hires = i16_wrap((v - h.zp) * 128);
    let preshift = srdhm16(hires, h.out_m);
    var r = hires;
    if h.relu_s > 0 {
        r = saturating_left_shift16(r, h.relu_s - 1);
    }
    r = srdhm16(r, h.relu_m);
    if h.relu_s > 0 {
        r = saturating_left_shift16(r, 1);
    } else if h.relu_s < 0 {
        r = rdbpot16(r, -h.relu_s);
    }
    r = i16_wrap((r + 32768) >> 1u);
    // SaturatingDoublingHighMul: like srdhm16, but truncating.
    var pre = 32767;
    if r != -32768 || preshift != -32768 {
        pre = i16_wrap((r * preshift) / 32768);
    }
    return i16_wrap(rdbpot16(pre, -h.out_s) + h.out_zp);
}

/// `v` saturated to uint8 (`signed` 0) or int8 (`signed` 1).
fn saturate4(v: vec4<i32>, signed: u32) -> vec4<i32> {
    let lo = select(0, -128, signed != 0u);
    let hi = select(255, 127, signed != 0u);
    return clamp(v, vec4(lo), vec4(hi));
}

fn saturate(v: i32, signed: u32) -> i32 {
    return saturate4(vec4(v), signed).x;
}
