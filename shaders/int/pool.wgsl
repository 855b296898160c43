// Integer pooling: AVERAGE_POOL_2D (the stored codes averaged, rounding half away from
// zero, padding not counted) and MEAN over the whole map (TFLite's QuantizedMeanOrSum:
// the sum centred on the input zero point, times a multiplier with 1/count folded in).
// One thread per output word.

struct Params {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    total: u32,
    signed: u32,
    input_zp: i32,
    output_zp: i32,
    multiplier: i32,
    shift: i32,
    clamp_lo: i32,
    clamp_hi: i32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read_write> output: array<u32>;

/// The input rows (or columns) under the window of output `o`: [first, end).
fn covered(o: u32, pad: u32, size: u32) -> vec2<u32> {
    let start = o * params.stride;
    let first = u32(max(i32(start) - i32(pad), 0));
    let end = min(u32(max(i32(start + params.kernel) - i32(pad), 0)), size);
    return vec2<u32>(first, max(end, first));
}

/// Sum of the stored values under output element `idx`'s window, and how many there are.
fn window_sum(idx: u32) -> vec2<i32> {
    let c = idx % params.in_c;
    let pixel = idx / params.in_c;
    let ox = pixel % params.out_w;
    let oy = (pixel / params.out_w) % params.out_h;
    let n = pixel / (params.out_w * params.out_h);
    let rows = covered(oy, params.pad_top, params.in_h);
    let cols = covered(ox, params.pad_left, params.in_w);
    var sum = 0;
    for (var iy = rows.x; iy < rows.y; iy++) {
        for (var ix = cols.x; ix < cols.y; ix++) {
            sum += input_value(((n * params.in_h + iy) * params.in_w + ix) * params.in_c + c, params.signed);
        }
    }
    return vec2<i32>(sum, i32((rows.y - rows.x) * (cols.y - cols.x)));
}

fn average(idx: u32) -> i32 {
    let s = window_sum(idx);
    let half = s.y / 2;
    return select((s.x - half) / s.y, (s.x + half) / s.y, s.x > 0);
}

fn mean(idx: u32) -> i32 {
    let s = window_sum(idx);
    let v = mbqm(s.x - params.input_zp * s.y, params.multiplier, params.shift);
    return saturate(v + params.output_zp, params.signed);
}

fn store(word: u32, is_mean: bool) {
    var values = vec4<i32>(0);
    for (var lane = 0u; lane < 4u; lane++) {
        let idx = word * 4u + lane;
        if idx < params.total {
            var v: i32;
            if is_mean {
                v = mean(idx);
            } else {
                v = average(idx);
            }
            values[lane] = clamp(v, params.clamp_lo, params.clamp_hi);
        }
    }
    output[word] = pack4(values);
}

@compute @workgroup_size(64)
fn avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = linear_index(gid, nwg);
    if word * 4u < params.total {
        store(word, false);
    }
}

@compute @workgroup_size(64)
fn mean_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = linear_index(gid, nwg);
    if word * 4u < params.total {
        store(word, true);
    }
}
