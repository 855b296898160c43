// Integer depthwise convolution with multiplier 1 over channel quads, for CPU adapters:
// the `cpu-adapter` family's kernel (GPUs take conv.wgsl's `DEPTHWISE_QUAD` path), shaped
// like the float `depthwise_rows`. Composed after conv_store.wgsl.
//
// Each thread computes TX neighbouring output pixels along x for one channel quad, so the
// input words their windows share are loaded once, and each row of weights once per TX
// pixels. The taps multiply as exact f32 (conv_store.wgsl's `centred`; the launch keeps
// KH x KW within 256 taps). Taps in the padding are skipped, as TFLite skips them. Kernel
// size, stride and TX are override constants, so the taps unroll.
//
// Weights: tap-major words (word `t · out_c / 4 + c / 4` holds tap `t` of channels `c ..
// c + 4`), then the channel records.

override KH: u32 = 3u;
override KW: u32 = 3u;
override STRIDE: u32 = 1u;
/// Output pixels per thread along x, at most MAX_TX.
override TX: u32 = 4u;
const MAX_TX: u32 = 4u;
/// Longest kernel row a thread caches.
const MAX_K: u32 = 7u;

@compute @workgroup_size(64)
fn depthwise_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c4s = params.out_c / 4u;
    let tiles_x = (params.out_w + TX - 1u) / TX;
    let idx = linear_index(gid, nwg);
    if idx >= params.batch * params.out_h * tiles_x * c4s {
        return;
    }
    let c4 = idx % c4s;
    let tile = idx / c4s;
    let ox0 = (tile % tiles_x) * TX;
    let rest = tile / tiles_x;
    let oy = rest % params.out_h;
    let n = rest / params.out_h;
    let flip = sign_flip();
    let x_zp = vec4(f32(params.input_zp + zp_offset()));
    let w_zp = vec4<f32>(record4(c4 * 4u, 4u) + zp_offset());
    var acc = array<vec4<f32>, MAX_TX>();
    let x0 = i32(ox0 * STRIDE) - i32(params.pad_left);
    let span = (TX - 1u) * STRIDE + KW;
    for (var ky = 0u; ky < KH; ky++) {
        let iy = i32(oy * STRIDE + ky) - i32(params.pad_top);
        if iy < 0 || iy >= i32(params.in_h) {
            continue;
        }
        var w: array<vec4<f32>, MAX_K>;
        for (var kx = 0u; kx < KW; kx++) {
            w[kx] = centred(weights[(ky * KW + kx) * c4s + c4], flip, w_zp);
        }
        let row = (n * params.in_h + u32(iy)) * params.in_w;
        for (var j = 0u; j < span; j++) {
            let ix = x0 + i32(j);
            if ix < 0 || ix >= i32(params.in_w) {
                continue;
            }
            let x = centred(input[(row + u32(ix)) * c4s + c4], flip, x_zp);
            for (var t = 0u; t < TX; t++) {
                let kx = j - t * STRIDE;
                if j >= t * STRIDE && kx < KW {
                    acc[t] += x * w[kx];
                }
            }
        }
    }
    let bias = record4(c4 * 4u, 0u);
    let multiplier = record4(c4 * 4u, 2u);
    let shift = record4(c4 * 4u, 3u);
    // One store site in a loop, the accumulator picked with selects (as in the float
    // depthwise.wgsl).
    let out_row = (n * params.out_h + oy) * params.out_w;
    for (var t = 0u; t < min(TX, params.out_w - ox0); t++) {
        var sums = acc[0];
        sums = select(sums, acc[1], t == 1u);
        sums = select(sums, acc[2], t == 2u);
        sums = select(sums, acc[3], t == 3u);
        let word = (out_row + ox0 + t) * c4s + c4;
        output[word] = pack4(requantize_word(word, vec4<i32>(sums) + bias, multiplier, shift));
    }
}
