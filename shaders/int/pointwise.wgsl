// Integer 1x1 convolution (stride 1, no padding, ungrouped, channels in whole quads),
// register-tiled for CPU adapters: the `cpu-adapter` family's kernel (GPUs take
// conv.wgsl's `conv_pointwise`, on packed dot products). Composed after conv_store.wgsl.
//
// Each thread computes TILE_PIXELS pixels x 4 output channels. Two things cost most on
// lavapipe: a storage load, which loops over the SIMD lanes whatever its width, so input
// and weights are read 16 values (a vec4<u32>) at a time; and integer multiplication, so
// the products run as exact f32 multiply-adds (conv_store.wgsl's `centred`), CHUNK_GROUPS
// x 16 = 256 input channels per f32 sum before it moves to i32.
//
// Weights: per output channel, its input channels padded with its zero point (which adds
// 0) to whole groups of 16, four to a word; then the channel records. A pixel's input row
// starts on a vec4 when `ALIGNED` (in_c a multiple of 16); otherwise its words are read
// one by one, and a last group's words past the row meet the padding.

// The same bindings as int/common.wgsl's `input` and `weights`, typed for vec4 loads; no
// entry point uses both forms.
@group(0) @binding(1) var<storage, read> input_quads: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> weight_quads: array<vec4<u32>>;

/// Pixels per thread.
const TILE_PIXELS: u32 = 8u;
/// Groups of 16 input channels summed in f32 before moving to i32.
const CHUNK_GROUPS: u32 = 16u;

/// 1 when every input row starts on a vec4 (in_c a multiple of 16).
override ALIGNED: u32 = 1u;

/// Input words `i .. i + 4`.
fn input_group(i: u32) -> vec4<u32> {
    if ALIGNED != 0u {
        return input_quads[i / 4u];
    }
    return vec4(input_word(i), input_word(i + 1u), input_word(i + 2u), input_word(i + 3u));
}

fn input_word(i: u32) -> u32 {
    return input_quads[i / 4u][i % 4u];
}

fn weight_word(i: u32) -> u32 {
    return weight_quads[i / 4u][i % 4u];
}

/// Word `w` of the records of the four channels from `o`: conv_store.wgsl's `record4`,
/// read through the vec4 view (an entry point binds one view of a buffer, not both).
fn records(o: u32, w: u32) -> vec4<i32> {
    let r = params.channels + 5u * o + w;
    return bitcast<vec4<i32>>(
        vec4(weight_word(r), weight_word(r + 5u), weight_word(r + 10u), weight_word(r + 15u)),
    );
}

@compute @workgroup_size(64)
fn pointwise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c4s = params.out_c / 4u;
    let pixels = params.total / params.out_c;
    let thread = linear_index(gid, nwg);
    let c4 = thread % c4s;
    let p0 = (thread / c4s) * TILE_PIXELS;
    if p0 >= pixels {
        return;
    }
    let words = params.in_c / 4u;
    let groups = (words + 3u) / 4u;
    let flip = sign_flip();
    let x_zp = vec4(f32(params.input_zp + zp_offset()));
    let w_zp = vec4<f32>(records(c4 * 4u, 4u) + zp_offset());
    // Pixels past the last re-read it; their sums are not stored.
    let last = pixels - 1u;
    let r0 = p0 * words;
    let r1 = min(p0 + 1u, last) * words;
    let r2 = min(p0 + 2u, last) * words;
    let r3 = min(p0 + 3u, last) * words;
    let r4 = min(p0 + 4u, last) * words;
    let r5 = min(p0 + 5u, last) * words;
    let r6 = min(p0 + 6u, last) * words;
    let r7 = min(p0 + 7u, last) * words;
    // Weight vec4s of the thread's four channels: one per group, channel after channel.
    let w = c4 * 4u * groups;
    var a0 = vec4<i32>();
    var a1 = vec4<i32>();
    var a2 = vec4<i32>();
    var a3 = vec4<i32>();
    var a4 = vec4<i32>();
    var a5 = vec4<i32>();
    var a6 = vec4<i32>();
    var a7 = vec4<i32>();
    var g = 0u;
    while g < groups {
        let end = min(g + CHUNK_GROUPS, groups);
        var f0 = vec4<f32>();
        var f1 = vec4<f32>();
        var f2 = vec4<f32>();
        var f3 = vec4<f32>();
        var f4 = vec4<f32>();
        var f5 = vec4<f32>();
        var f6 = vec4<f32>();
        var f7 = vec4<f32>();
        for (; g < end; g++) {
            let w0 = weight_quads[w + g];
            let w1 = weight_quads[w + groups + g];
            let w2 = weight_quads[w + 2u * groups + g];
            let w3 = weight_quads[w + 3u * groups + g];
            let x0 = input_group(r0 + 4u * g);
            let x1 = input_group(r1 + 4u * g);
            let x2 = input_group(r2 + 4u * g);
            let x3 = input_group(r3 + 4u * g);
            let x4 = input_group(r4 + 4u * g);
            let x5 = input_group(r5 + 4u * g);
            let x6 = input_group(r6 + 4u * g);
            let x7 = input_group(r7 + 4u * g);
            // Word k of each: four input channels; `x * m` gives the four output channels.
            for (var k = 0u; k < 4u; k++) {
                let m = mat4x4<f32>(
                    centred(w0[k], flip, vec4(w_zp.x)),
                    centred(w1[k], flip, vec4(w_zp.y)),
                    centred(w2[k], flip, vec4(w_zp.z)),
                    centred(w3[k], flip, vec4(w_zp.w)),
                );
                f0 += centred(x0[k], flip, x_zp) * m;
                f1 += centred(x1[k], flip, x_zp) * m;
                f2 += centred(x2[k], flip, x_zp) * m;
                f3 += centred(x3[k], flip, x_zp) * m;
                f4 += centred(x4[k], flip, x_zp) * m;
                f5 += centred(x5[k], flip, x_zp) * m;
                f6 += centred(x6[k], flip, x_zp) * m;
                f7 += centred(x7[k], flip, x_zp) * m;
            }
        }
        a0 += vec4<i32>(f0);
        a1 += vec4<i32>(f1);
        a2 += vec4<i32>(f2);
        a3 += vec4<i32>(f3);
        a4 += vec4<i32>(f4);
        a5 += vec4<i32>(f5);
        a6 += vec4<i32>(f6);
        a7 += vec4<i32>(f7);
    }
    let bias = records(c4 * 4u, 0u);
    let multiplier = records(c4 * 4u, 2u);
    let shift = records(c4 * 4u, 3u);
    // One store site in a loop, the accumulator picked with selects (as in the float
    // pointwise.wgsl).
    for (var r = 0u; r < min(TILE_PIXELS, pixels - p0); r++) {
        var acc = a0;
        acc = select(acc, a1, r == 1u);
        acc = select(acc, a2, r == 2u);
        acc = select(acc, a3, r == 3u);
        acc = select(acc, a4, r == 4u);
        acc = select(acc, a5, r == 5u);
        acc = select(acc, a6, r == 6u);
        acc = select(acc, a7, r == 7u);
        let word = (p0 + r) * c4s + c4;
        output[word] = pack4(requantize_word(word, acc + bias, multiplier, shift));
    }
}
