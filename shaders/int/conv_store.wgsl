// Composed before the integer convolution files (conv.wgsl, pointwise.wgsl,
// depthwise.wgsl): their `Params`, and the store of an output word: requantization, clamp
// and a fused residual.
//
// Weights: the packed values (each file's layout), then from word `channels`, five words
// per output channel `o` (words `channels + 5·o ..`): bias, the bias with the dot-product
// path's zero-point terms folded in, multiplier, shift, weight zero point.
// A residual ADD that alone reads the convolution may be fused: it runs on the stored
// (requantized, clamped) value, exactly as the separate ADD would.

struct Params {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    out_c: u32,
    kernel_h: u32,
    kernel_w: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    in_per_group: u32,
    out_per_group: u32,
    total: u32,
    channels: u32,
    input_zp: i32,
    output_zp: i32,
    clamp_lo: i32,
    clamp_hi: i32,
    /// 1 for int8 values, 0 for uint8 (input, weights and output share the type).
    signed: u32,
    /// A fused residual ADD: 1 when present; whether the convolution is its first input;
    /// its zero points, multipliers and shifts (as `add_quantized` takes them) and clamp.
    has_residual: u32,
    conv_first: u32,
    add_zp_a: i32,
    add_zp_b: i32,
    add_m_a: i32,
    add_s_a: i32,
    add_m_b: i32,
    add_s_b: i32,
    add_m_out: i32,
    add_s_out: i32,
    add_out_zp: i32,
    add_lo: i32,
    add_hi: i32,
    /// A fused HARD_SWISH (applied before a residual): 1 when present; the clamp after it;
    /// its parameters (on a 16-byte boundary, as a uniform's struct member must be).
    has_hard_swish: u32,
    hs_lo: i32,
    hs_hi: i32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    hard_swish: HardSwish,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read> residual: array<u32>;
@group(0) @binding(5) var<storage, read_write> output: array<u32>;

/// The four 8-bit values of `word`, sign-extended when `signed` is 1.
fn unpack_word(word: u32, signed: u32) -> vec4<i32> {
    if signed != 0u {
        return unpack4xI8(word);
    }
    return bitcast<vec4<i32>>(unpack4xU8(word));
}

/// Word `w` of a channel record, for the four channels from `o`.
fn record4(o: u32, w: u32) -> vec4<i32> {
    let r = params.channels + 5u * o + w;
    return bitcast<vec4<i32>>(vec4(weights[r], weights[r + 5u], weights[r + 10u], weights[r + 15u]));
}

// The f32 kernels (pointwise.wgsl, depthwise.wgsl) multiply centred values as f32, which
// is exact: each lies within ±255, so up to 256 products sum to less than 2^24 in
// magnitude and every partial sum is an integer.

/// The four values of `word` less `zp`, as f32. int8 bytes read as uint8 once their sign
/// bits are flipped (`flip`), with 128 added to their zero point: one unpack for both.
fn centred(word: u32, flip: u32, zp: vec4<f32>) -> vec4<f32> {
    let bytes = (vec4(word ^ flip) >> vec4(0u, 8u, 16u, 24u)) & vec4(0xffu);
    return vec4<f32>(bitcast<vec4<i32>>(bytes)) - zp;
}

/// `centred`'s `flip` for the params' type.
fn sign_flip() -> u32 {
    return select(0u, 0x80808080u, params.signed != 0u);
}

/// What `centred`'s zero points add to the params' zero points.
fn zp_offset() -> i32 {
    return select(0, 128, params.signed != 0u);
}

/// The four sums of output word `word` requantized with each lane's channel `multiplier`
/// and `shift`, clamped, through the fused HARD_SWISH and added to the fused residual's
/// word if there are.
fn requantize_word(word: u32, sums: vec4<i32>, multiplier: vec4<i32>, shift: vec4<i32>) -> vec4<i32> {
    let v = mbqm4(sums, multiplier, shift) + params.output_zp;
    var stored = clamp(saturate4(v, params.signed), vec4(params.clamp_lo), vec4(params.clamp_hi));
    if params.has_hard_swish != 0u {
        let h = params.hard_swish;
        let swished = vec4(
            hard_swish(stored.x, h),
            hard_swish(stored.y, h),
            hard_swish(stored.z, h),
            hard_swish(stored.w, h),
        );
        stored = clamp(saturate4(swished, params.signed), vec4(params.hs_lo), vec4(params.hs_hi));
    }
    if params.has_residual == 0u {
        return stored;
    }
    let other = unpack_word(residual[word], params.signed);
    let a = select(other, stored, params.conv_first != 0u);
    let b = select(stored, other, params.conv_first != 0u);
    let m = vec4<i32>(params.add_m_a, params.add_s_a, params.add_m_b, params.add_s_b);
    let zp = vec2<i32>(params.add_zp_a, params.add_zp_b);
    let out = vec2<i32>(params.add_m_out, params.add_s_out);
    let sum = add_quantized4(a, b, zp, m, out, params.add_out_zp);
    return clamp(saturate4(sum, params.signed), vec4(params.add_lo), vec4(params.add_hi));
}
