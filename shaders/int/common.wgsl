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

/// `a · b` as (low, high) 32-bit halves.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let t = al * bl;
    let m1 = ah * bl + (t >> 16u);
    let m2 = al * bh + (m1 & 0xffffu);
    let high = ah * bh + (m1 >> 16u) + (m2 >> 16u);
    let low = (m2 << 16u) | (t & 0xffffu);
    return vec2<u32>(low, high);
}

/// gemmlowp's SaturatingRoundingDoublingHighMul: round(2·a·b / 2^32), ties upward.
fn srdhm(a: i32, b: i32) -> i32 {
    let min = bitcast<i32>(0x80000000u);
    if a == min && b == min {
        return 2147483647;
    }
    let negative = (a < 0) != (b < 0);
    let p = mul_wide(bitcast<u32>(abs(a)), bitcast<u32>(abs(b)));
    // (|a·b| + 2^30) >> 31 for a positive product; −((|a·b| + 2^30 − 1) >> 31) otherwise.
    let nudge = select(0x40000000u, 0x3fffffffu, negative);
    let low = p.x + nudge;
    let high = p.y + select(0u, 1u, low < p.x);
    let q = bitcast<i32>((high << 1u) | (low >> 31u));
    return select(q, -q, negative);
}

/// gemmlowp's RoundingDivideByPOT: x / 2^e rounded half away from zero (0 ≤ e ≤ 31).
fn rdbpot(x: i32, e: i32) -> i32 {
    let mask = bitcast<i32>((1u << u32(e)) - 1u);
    let remainder = x & mask;
    let threshold = (mask >> 1u) + select(0, 1, x < 0);
    return (x >> u32(e)) + select(0, 1, remainder > threshold);
}

/// TFLite's MultiplyByQuantizedMultiplier (`shift` > 0: left, < 0: rounding right).
fn mbqm(x: i32, multiplier: i32, shift: i32) -> i32 {
    // Shifts of 32 or more count modulo 32, as on x86 (and in the Rust twin), spelled out
    // because backends differ on an over-wide shift.
    let left = u32(max(shift, 0)) & 31u;
    return rdbpot(srdhm(x << left, multiplier), max(-shift, 0));
}

/// TFLite's quantized ADD of stored `a` and `b`: each centred, shifted left by 20 bits and
/// scaled to twice the larger input scale (`m.xy`, `m.zw`: multiplier and shift per input),
/// then summed and scaled to the output (`out`: multiplier, shift), before its zero point.
fn add_quantized(a: i32, b: i32, zp: vec2<i32>, m: vec4<i32>, out: vec2<i32>, out_zp: i32) -> i32 {
    let x = mbqm((a - zp.x) << 20u, m.x, m.y);
    let y = mbqm((b - zp.y) << 20u, m.z, m.w);
    return mbqm(x + y, out.x, out.y) + out_zp;
}

/// `v` saturated to uint8 (`signed` 0) or int8 (`signed` 1).
fn saturate(v: i32, signed: u32) -> i32 {
    if signed != 0u {
        return clamp(v, -128, 127);
    }
    return clamp(v, 0, 255);
}
