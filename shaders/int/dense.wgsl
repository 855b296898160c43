// Integer FULLY_CONNECTED. TFLite's reference kernel requantizes in f64,
// `round(acc · in·w/out)`, which WGSL lacks: the product is formed exactly on three 32-bit
// limbs, rounded to 53 significant bits as f64 would (to nearest, ties to even), then to
// an integer (half away from zero), so the result equals the f64 arithmetic bit for bit.
// Out of i32 range gives i32::MIN, as C's cast does on x86-64, where TFLite runs.
//
// Per output feature `o`, words `channels + 5·o ..` of `weights` hold: bias, weight zero
// point, and the f64 scale as a 53-bit significand (low word, high word) and an exponent.
// One thread per output word.

struct Params {
    rows: u32,
    depth: u32,
    features: u32,
    total: u32,
    channels: u32,
    input_zp: i32,
    output_zp: i32,
    clamp_lo: i32,
    clamp_hi: i32,
    signed: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read_write> output: array<u32>;

/// A 96-bit number (three limbs, low first) shifted right by `r` < 96.
fn shift_right(p: vec3<u32>, r: u32) -> vec3<u32> {
    var q = p;
    var s = r;
    while s >= 32u {
        q = vec3<u32>(q.y, q.z, 0u);
        s -= 32u;
    }
    if s == 0u {
        return q;
    }
    return vec3<u32>((q.x >> s) | (q.y << (32u - s)), (q.y >> s) | (q.z << (32u - s)), q.z >> s);
}

/// Whether any of the lowest `k` bits of `p` is set.
fn any_below(p: vec3<u32>, k: u32) -> bool {
    var found = false;
    for (var j = 0u; j < 3u; j++) {
        let start = 32u * j;
        if k >= start + 32u {
            found = found || p[j] != 0u;
        } else if k > start {
            found = found || (p[j] & ((1u << (k - start)) - 1u)) != 0u;
        }
    }
    return found;
}

/// round(acc · m · 2^e) as f64 arithmetic gives it, then cast to i32 as on x86-64.
fn requantize_f64(acc: i32, m: vec2<u32>, e: i32) -> i32 {
    let min = bitcast<i32>(0x80000000u);
    if acc == 0 || (m.x == 0u && m.y == 0u) {
        return 0;
    }
    let a = bitcast<u32>(abs(acc));
    let low = mul_wide(a, m.x);
    let high = mul_wide(a, m.y);
    let middle = low.y + high.x;
    let p = vec3<u32>(low.x, middle, high.y + select(0u, 1u, middle < low.y));
    var bits = 32u - countLeadingZeros(p.x);
    if p.z != 0u {
        bits = 96u - countLeadingZeros(p.z);
    } else if p.y != 0u {
        bits = 64u - countLeadingZeros(p.y);
    }
    // Round to 53 significant bits, ties to even.
    let r = select(0u, bits - 53u, bits > 53u);
    var q = shift_right(p, r).xy;
    if r > 0u {
        let half = (shift_right(p, r - 1u).x & 1u) != 0u;
        if half && (any_below(p, r - 1u) || (q.x & 1u) != 0u) {
            q = vec2<u32>(q.x + 1u, q.y + select(0u, 1u, q.x == 0xffffffffu));
        }
    }
    // |value| = q · 2^(r + e): to an integer, half away from zero.
    let k = -(i32(r) + e);
    var magnitude = 0u;
    if k <= 0 {
        let s = u32(-k);
        if q.y != 0u || s >= 31u || (q.x >> (31u - s)) != 0u {
            return min;
        }
        magnitude = q.x << s;
    } else if k < 64 {
        // (q + 2^(k−1)) >> k on 64 bits.
        var add = vec2<u32>(0u, 0u);
        if k - 1 < 32 {
            add.x = 1u << u32(k - 1);
        } else {
            add.y = 1u << u32(k - 33);
        }
        let sum_low = q.x + add.x;
        let sum = vec2<u32>(sum_low, q.y + add.y + select(0u, 1u, sum_low < q.x));
        let shifted = shift_right(vec3<u32>(sum, 0u), u32(k));
        if shifted.y != 0u || shifted.x >= 0x80000000u {
            return min;
        }
        magnitude = shifted.x;
    }
    let v = bitcast<i32>(magnitude);
    return select(v, -v, acc < 0);
}

@compute @workgroup_size(64)
fn dense(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = linear_index(gid, nwg);
    if word * 4u >= params.total {
        return;
    }
    var values = vec4<i32>(0);
    for (var lane = 0u; lane < 4u; lane++) {
        let idx = word * 4u + lane;
        if idx >= params.total {
            continue;
        }
        let o = idx % params.features;
        let row = idx / params.features;
        let record = params.channels + 5u * o;
        var acc = bitcast<i32>(weights[record]);
        let w_zp = bitcast<i32>(weights[record + 1u]);
        for (var d = 0u; d < params.depth; d++) {
            let x = input_value(row * params.depth + d, params.signed) - params.input_zp;
            acc += x * (weight_value(o * params.depth + d, params.signed) - w_zp);
        }
        let m = vec2<u32>(weights[record + 2u], weights[record + 3u]);
        let v = requantize_f64(acc, m, bitcast<i32>(weights[record + 4u])) + params.output_zp;
        values[lane] = clamp(saturate(v, params.signed), params.clamp_lo, params.clamp_hi);
    }
    output[word] = pack4(values);
}
