// Integer convolution, any groups (so depthwise with any multiplier too): TFLite's
// reference Conv/DepthwiseConv(PerChannel). One thread per output word (4 values), or per
// 4 words in `conv_pointwise`. Taps in the padding read the input zero point, which
// contributes nothing, as TFLite skips them. Composed after conv_store.wgsl (`Params`, the
// channel records, the store).
//
// `PATH` picks how the inner products run (the launch sets it from the shapes):
// - `SCALAR`: one value at a time, any shapes;
// - `SCALAR_WORD`: a word's four outputs at once when they share a pixel and a group (the
//   stem: 3 input channels), each input value loaded once for the four, with one word of
//   weights holding its four weights (packed quad-interleaved);
// - `DOT4`: channel quads that start on words go four at a time through dot4I8Packed /
//   dot4U8Packed: Σ(x−xz)(w−wz) = Σx·w − wz·Σx + (N·xz·wz − xz·Σw), for a word's four
//   outputs at once (they must share a pixel and a group): each input quad is loaded and
//   summed once for the four;
// - `DEPTHWISE_QUAD`: depthwise with multiplier 1 over channel quads; weights are packed
//   tap-major, so one input word and one weight word give a tap of all four channels.
// Integer sums wrap alike in any order, so every path gives the same bytes.

const SCALAR: u32 = 0u;
const SCALAR_WORD: u32 = 1u;
const DOT4: u32 = 2u;
const DEPTHWISE_QUAD: u32 = 3u;
/// One of the four paths above.
override PATH: u32 = SCALAR;

/// Input row/column of a window tap, or -1 in the padding.
fn tap(o: u32, k: u32, pad: u32, size: u32) -> i32 {
    let pos = i32(o * params.stride + k) - i32(pad);
    return select(pos, -1, pos < 0 || pos >= i32(size));
}

fn dot(x: u32, w: u32) -> i32 {
    if params.signed != 0u {
        return dot4I8Packed(x, w);
    }
    return bitcast<i32>(dot4U8Packed(x, w));
}

/// `SCALAR`: Σ(x−xz)(w−wz) plus the bias, for output element `idx`.
fn accumulate(idx: u32) -> i32 {
    let o = idx % params.out_c;
    let at = pixel_coords(idx / params.out_c);
    let first_in = (o / params.out_per_group) * params.in_per_group;
    let record = params.channels + 5u * o;
    let w_zp = bitcast<i32>(weights[record + 4u]);
    let taps = params.kernel_h * params.kernel_w;
    var acc = bitcast<i32>(weights[record]);
    for (var t = 0u; t < taps; t++) {
        let p = tap_pixel(at, t);
        if p < 0 {
            continue;
        }
        let first = u32(p) * params.in_c + first_in;
        let first_w = (o * taps + t) * params.in_per_group;
        if params.in_c % 4u == 0u && params.in_per_group % 4u == 0u {
            // Whole quads starting on words (a 1x1 conv to 1001 logits): four terms per
            // dot4, Σ(x−xz)(w−wz) expanded per quad.
            let xz = params.input_zp;
            for (var q = 0u; q < params.in_per_group / 4u; q++) {
                let x = input[first / 4u + q];
                let w = weights[first_w / 4u + q];
                acc += dot(x, w) - w_zp * dot(x, 0x01010101u) - xz * dot(w, 0x01010101u)
                    + 4 * xz * w_zp;
            }
            continue;
        }
        for (var i = 0u; i < params.in_per_group; i++) {
            let x = input_value(first + i, params.signed) - params.input_zp;
            acc += x * (weight_value(first_w + i, params.signed) - w_zp);
        }
    }
    return acc;
}

/// Output pixel `pixel` (batch-major) as (image, row, column).
fn pixel_coords(pixel: u32) -> vec3<u32> {
    let ox = pixel % params.out_w;
    let oy = (pixel / params.out_w) % params.out_h;
    return vec3(pixel / (params.out_w * params.out_h), oy, ox);
}

/// Input pixel (batch-major) under tap `t` of the output pixel at `at`, or -1 in the padding.
fn tap_pixel(at: vec3<u32>, t: u32) -> i32 {
    let iy = tap(at.y, t / params.kernel_w, params.pad_top, params.in_h);
    let ix = tap(at.z, t % params.kernel_w, params.pad_left, params.in_w);
    if iy < 0 || ix < 0 {
        return -1;
    }
    return i32((at.x * params.in_h + u32(iy)) * params.in_w + u32(ix));
}

/// `DOT4`: Σ(x−xz)(w−wz) plus the bias for the four outputs of word `word`.
fn accumulate_word(word: u32) -> vec4<i32> {
    let o = (word * 4u) % params.out_c;
    let at = pixel_coords(word * 4u / params.out_c);
    let first_in = (o / params.out_per_group) * params.in_per_group;
    let taps = params.kernel_h * params.kernel_w;
    let quads = params.in_per_group / 4u;
    let padding = (bitcast<u32>(params.input_zp) & 0xffu) * 0x01010101u;
    // Each output channel's weights: taps x quads words, one channel after another.
    let stride = taps * quads;
    var acc = record4(o, 1u);
    var sum_x = 0;
    for (var t = 0u; t < taps; t++) {
        let p = tap_pixel(at, t);
        let inside = p >= 0;
        let pixel_word = u32(max(p, 0)) * (params.in_c / 4u) + first_in / 4u;
        let weight_word = (o * taps + t) * quads;
        for (var q = 0u; q < quads; q++) {
            let x = select(padding, input[pixel_word + q], inside);
            let w = weight_word + q;
            acc += vec4(
                dot(x, weights[w]),
                dot(x, weights[w + stride]),
                dot(x, weights[w + 2u * stride]),
                dot(x, weights[w + 3u * stride]),
            );
            sum_x += dot(x, 0x01010101u);
        }
    }
    return acc - record4(o, 4u) * sum_x;
}

/// `SCALAR_WORD`: Σ(x−xz)(w−wz) plus the bias for the four outputs of word `word`.
fn accumulate_word_scalar(word: u32) -> vec4<i32> {
    let o = (word * 4u) % params.out_c;
    let at = pixel_coords(word * 4u / params.out_c);
    let first_in = (o / params.out_per_group) * params.in_per_group;
    let taps = params.kernel_h * params.kernel_w;
    let w_zp = record4(o, 4u);
    var acc = record4(o, 0u);
    for (var t = 0u; t < taps; t++) {
        let p = tap_pixel(at, t);
        if p < 0 {
            continue;
        }
        let first = u32(p) * params.in_c + first_in;
        // Word `(o / 4 · taps + t) · in_per_group + i`: input `i` of tap `t` for the four.
        let first_w = ((o / 4u) * taps + t) * params.in_per_group;
        // No input quads here: inputs in whole quads take `DOT4` (`ConvPath::of`).
        for (var i = 0u; i < params.in_per_group; i++) {
            let x = input_value(first + i, params.signed) - params.input_zp;
            acc += x * (unpack_word(weights[first_w + i], params.signed) - w_zp);
        }
    }
    return acc;
}

/// `DEPTHWISE_QUAD`: Σ(x−xz)(w−wz) plus the bias for the four channels of word `word`;
/// weights are words `t * out_c / 4 + c / 4` (tap-major). Padding taps are skipped.
fn accumulate_depthwise(word: u32) -> vec4<i32> {
    let c0 = (word * 4u) % params.out_c;
    let at = pixel_coords(word * 4u / params.out_c);
    let c4s = params.out_c / 4u;
    let w_zp = record4(c0, 4u);
    var acc = record4(c0, 0u);
    for (var t = 0u; t < params.kernel_h * params.kernel_w; t++) {
        let p = tap_pixel(at, t);
        if p < 0 {
            continue;
        }
        let pixel_word = u32(p) * c4s;
        let x = unpack_word(input[pixel_word + c0 / 4u], params.signed) - params.input_zp;
        let w = unpack_word(weights[t * c4s + c0 / 4u], params.signed) - w_zp;
        acc += x * w;
    }
    return acc;
}

@compute @workgroup_size(64)
fn conv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = linear_index(gid, nwg);
    if word * 4u >= params.total {
        return;
    }
    // The quad paths compute the word's four sums together, the scalar one lane by lane.
    var sums = vec4<i32>(0);
    if PATH == SCALAR_WORD {
        sums = accumulate_word_scalar(word);
    } else if PATH == DOT4 {
        sums = accumulate_word(word);
    } else if PATH == DEPTHWISE_QUAD {
        sums = accumulate_depthwise(word);
    } else {
        for (var lane = 0u; lane < 4u; lane++) {
            if word * 4u + lane < params.total {
                sums[lane] = accumulate(word * 4u + lane);
            }
        }
    }
    store_word(word, sums);
}

/// Pixels per thread of `conv_pointwise`.
const TILE_PIXELS: u32 = 4u;

// `conv_pointwise`: 1x1 stride-1 unpadded ungrouped convolutions with input and output
// channels in whole quads, the `DOT4` sums for one output channel quad of TILE_PIXELS
// consecutive pixels per thread, so each weight word is loaded once for all of them.
@compute @workgroup_size(64)
fn conv_pointwise(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let c4s = params.out_c / 4u;
    let pixels = params.total / params.out_c;
    let thread = linear_index(gid, nwg);
    let c4 = thread % c4s;
    let p0 = (thread / c4s) * TILE_PIXELS;
    if p0 >= pixels {
        return;
    }
    let quads = params.in_c / 4u;
    // Pixels past the last repeat it (computed, never stored), so loads stay in bounds.
    let last = min(p0 + TILE_PIXELS, pixels) - 1u;
    var acc: array<vec4<i32>, TILE_PIXELS>;
    var sum_x: array<i32, TILE_PIXELS>;
    let w = c4 * 4u * quads;
    for (var q = 0u; q < quads; q++) {
        let w0 = weights[w + q];
        let w1 = weights[w + quads + q];
        let w2 = weights[w + 2u * quads + q];
        let w3 = weights[w + 3u * quads + q];
        for (var r = 0u; r < TILE_PIXELS; r++) {
            let x = input[min(p0 + r, last) * quads + q];
            acc[r] += vec4(dot(x, w0), dot(x, w1), dot(x, w2), dot(x, w3));
            sum_x[r] += dot(x, 0x01010101u);
        }
    }
    let folded_bias = record4(c4 * 4u, 1u);
    let w_zp = record4(c4 * 4u, 4u);
    for (var r = 0u; r < TILE_PIXELS; r++) {
        if p0 + r < pixels {
            store_word((p0 + r) * c4s + c4, acc[r] + folded_bias - w_zp * sum_x[r]);
        }
    }
}

/// Word `w` of each lane's channel record, for channels `o`.
fn lane_records(o: vec4<u32>, w: u32) -> vec4<i32> {
    let r = vec4(params.channels + w) + 5u * o;
    return bitcast<vec4<i32>>(vec4(weights[r.x], weights[r.y], weights[r.z], weights[r.w]));
}

/// Requantizes and stores output word `word`; lanes past the tensor's end stay 0.
fn store_word(word: u32, sums: vec4<i32>) {
    let idx = vec4(word * 4u) + vec4(0u, 1u, 2u, 3u);
    var multiplier: vec4<i32>;
    var shift: vec4<i32>;
    if params.out_c % 4u == 0u {
        // The word's four lanes are four consecutive channels.
        let o = (word * 4u) % params.out_c;
        multiplier = record4(o, 2u);
        shift = record4(o, 3u);
    } else {
        multiplier = lane_records(idx % params.out_c, 2u);
        shift = lane_records(idx % params.out_c, 3u);
    }
    let values = requantize_word(word, sums, multiplier, shift);
    output[word] = pack4(select(vec4(0), values, idx < vec4(params.total)));
}
