// Integer SOFTMAX (TFLite's reference kernel): gemmlowp's fixed-point exp of each value's
// difference from the row maximum (5 integer bits), their sum (12 integer bits), its
// reciprocal, and each output on the 1/256 grid. One workgroup per row; a row need not
// start on a word, so each value's byte is written atomically (rows may share a word).

struct Params {
    rows: u32,
    depth: u32,
    signed: u32,
    out_signed: u32,
    input_multiplier: i32,
    input_left_shift: i32,
    diff_min: i32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read_write> output: array<atomic<u32>>;

var<workgroup> partial: array<i32, 64>;

/// SaturatingRoundingMultiplyByPOT: x·2^e, saturated (e > 0) or rounded (e ≤ 0).
fn multiply_by_pot(x: i32, e: i32) -> i32 {
    if e <= 0 {
        return rdbpot(x, -e);
    }
    let threshold = bitcast<i32>((1u << u32(31 - e)) - 1u);
    if x > threshold {
        return 2147483647;
    }
    if x < -threshold {
        return bitcast<i32>(0x80000000u);
    }
    return x << u32(e);
}

/// exp(x) on [-1/4, 0), Q0.31.
fn exp_on_quarter_interval(a: i32) -> i32 {
    let constant_term = 1895147668;
    let one_third = 715827883;
    let x = a + (1 << 28u);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let t = srdhm(rdbpot(x4, 2) + x3, one_third) + x2;
    return constant_term + srdhm(constant_term, x + rdbpot(t, 1));
}

/// exp(a) for a ≤ 0 with 5 integer bits, Q0.31 out (gemmlowp's exp_on_negative_values).
fn exp_on_negative_values(a: i32) -> i32 {
    let one_quarter = 1 << 24u;
    let a_mod = (a & (one_quarter - 1)) - one_quarter;
    var result = exp_on_quarter_interval(multiply_by_pot(a_mod, 5));
    let remainder = a_mod - a;
    let factors = array<i32, 7>(1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242);
    for (var k = 0u; k < 7u; k++) {
        if (remainder & (1 << (24u + k))) != 0 {
            result = srdhm(result, factors[k]);
        }
    }
    return select(result, 2147483647, a == 0);
}

/// 1 / (1 + a) for a in [0, 1), Q0.31 in and out.
fn one_over_one_plus_x(a: i32) -> i32 {
    let half_denominator = half_sum_with_one(a);
    var x = 1515870810 + srdhm(half_denominator, -1010580540);
    for (var i = 0; i < 3; i++) {
        let one_minus = (1 << 29u) - srdhm(half_denominator, x);
        x += multiply_by_pot(srdhm(x, one_minus), 2);
    }
    return multiply_by_pot(x, 1);
}

/// gemmlowp's RoundingHalfSum(a, i32::MAX) without 64-bit integers: for a ≥ 0,
/// (a + MAX + 1) / 2 truncated, which is a/2 + 2^30 rounded down; a < 0 (only from a sum
/// that wrapped to 0) keeps a + MAX within i32.
fn half_sum_with_one(a: i32) -> i32 {
    if a >= 0 {
        return (a >> 1u) + (1 << 30u);
    }
    let s = a + 2147483647;
    return select((s + 1) / 2, -1, s < 0);
}

/// The scaled difference (≤ 0) of `x` from the row maximum, or 1 (never a difference)
/// when it is below diff_min and contributes nothing.
fn scaled_diff(x: i32, max_value: i32) -> i32 {
    let d = x - max_value;
    if d < params.diff_min {
        return 1;
    }
    return srdhm(d << u32(params.input_left_shift), params.input_multiplier);
}

fn store_byte(idx: u32, v: i32) {
    let shift = 8u * (idx % 4u);
    let byte = (bitcast<u32>(v) & 0xffu) << shift;
    atomicAnd(&output[idx / 4u], ~(0xffu << shift));
    atomicOr(&output[idx / 4u], byte);
}

@compute @workgroup_size(64)
fn softmax(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    if row >= params.rows {
        return; // uniform over the workgroup
    }
    let first = row * params.depth;
    var m = -2147483647;
    for (var c = lid.x; c < params.depth; c += WG) {
        m = max(m, input_value(first + c, params.signed));
    }
    partial[lid.x] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if lid.x < s {
            partial[lid.x] = max(partial[lid.x], partial[lid.x + s]);
        }
        workgroupBarrier();
    }
    let max_value = partial[0];
    workgroupBarrier();
    var sum = 0;
    for (var c = lid.x; c < params.depth; c += WG) {
        let d = scaled_diff(input_value(first + c, params.signed), max_value);
        if d <= 0 {
            sum += rdbpot(exp_on_negative_values(d), 12);
        }
    }
    partial[lid.x] = sum;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if lid.x < s {
            partial[lid.x] += partial[lid.x + s];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    let headroom_plus_one = i32(countLeadingZeros(bitcast<u32>(total)));
    let reciprocal = one_over_one_plus_x(bitcast<i32>((bitcast<u32>(total) << (u32(headroom_plus_one) & 31u)) - 0x80000000u));
    let exponent = min(12 - headroom_plus_one + 31 - 8, 31);
    let lowest = select(0, -128, params.out_signed != 0u);
    for (var c = lid.x; c < params.depth; c += WG) {
        let d = scaled_diff(input_value(first + c, params.signed), max_value);
        var v = lowest;
        if d <= 0 {
            let unsat = rdbpot(srdhm(reciprocal, exp_on_negative_values(d)), exponent);
            v = clamp(unsat + lowest, lowest, lowest + 255);
        }
        store_byte(first + c, v);
    }
}
