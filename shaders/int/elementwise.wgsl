// Integer element-wise kernels, one thread per output word: requantization, ADD (TFLite's
// 20-bit left-shift scheme), MUL, HARD_SWISH (TFLite's 16-bit fixed point, in common.wgsl), table lookups
// (LOGISTIC), clamps and concatenation parts. A second tensor operand (ADD's other input, MUL's 1×1×C scale)
// is bound as `weights`; a constant operand (one value or one per channel) or a table is
// stored in `weights` as one value per word.

struct Params {
    total: u32,
    channels: u32,
    /// Values per image (MUL's scale is per image and channel).
    image: u32,
    /// Number of constant values: 1 (broadcast) or `channels`.
    constants: u32,
    signed: u32,
    signed_b: u32,
    out_signed: u32,
    /// The smallest input value (where a lookup table starts).
    lowest: i32,
    zp: i32,
    zp_b: i32,
    output_zp: i32,
    multiplier: i32,
    shift: i32,
    multiplier_b: i32,
    shift_b: i32,
    output_multiplier: i32,
    output_shift: i32,
    clamp_lo: i32,
    clamp_hi: i32,
    /// A concatenation part: its first output channel and how many it writes.
    part_offset: u32,
    part_channels: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    /// HARD_SWISH's parameters (`OP` 5).
    hard_swish: HardSwish,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read_write> output: array<u32>;

fn constant(idx: u32) -> i32 {
    let k = select(idx % params.channels, 0u, params.constants == 1u);
    return bitcast<i32>(weights[k]);
}

fn add(a: i32, b: i32) -> i32 {
    let m = vec4<i32>(params.multiplier, params.shift, params.multiplier_b, params.shift_b);
    let out = vec2<i32>(params.output_multiplier, params.output_shift);
    return add_quantized(a, b, vec2<i32>(params.zp, params.zp_b), m, out, params.output_zp);
}

fn mul(a: i32, b: i32) -> i32 {
    return mbqm((a - params.zp) * (b - params.zp_b), params.multiplier, params.shift) + params.output_zp;
}

/// Which operation the pipeline applies (`Op` in src/gpu/kernels/int/elementwise.rs).
override OP: u32 = 7u;

@compute @workgroup_size(64)
fn elementwise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
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
        let a = input_value(idx, params.signed);
        var v: i32;
        switch OP {
            case 0u: { v = mbqm(a - params.zp, params.multiplier, params.shift) + params.output_zp; }
            case 1u: { v = add(a, weight_value(idx, params.signed_b)); }
            case 2u: { v = add(a, constant(idx)); }
            case 3u: {
                let scale = (idx / params.image) * params.channels + idx % params.channels;
                v = mul(a, weight_value(scale, params.signed_b));
            }
            case 4u: { v = mul(a, constant(idx)); }
            case 5u: { v = hard_swish(a, params.hard_swish); }
            case 6u: { v = bitcast<i32>(weights[u32(a - params.lowest)]); }
            default: { v = a; }
        }
        values[lane] = clamp(saturate(v, params.out_signed), params.clamp_lo, params.clamp_hi);
    }
    output[word] = pack4(values);
}

/// One input's channels of a concatenation, through its table (in `weights`, from the
/// type's minimum up): every word of the output is rewritten with this part's bytes, the
/// other parts' bytes kept (the parts run one after another).
@compute @workgroup_size(64)
fn concat_part(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = linear_index(gid, nwg);
    if word * 4u >= params.total {
        return;
    }
    var packed = output[word];
    for (var lane = 0u; lane < 4u; lane++) {
        let idx = word * 4u + lane;
        let c = idx % params.channels;
        if idx >= params.total || c < params.part_offset || c >= params.part_offset + params.part_channels {
            continue;
        }
        let source = (idx / params.channels) * params.part_channels + c - params.part_offset;
        let v = bitcast<i32>(weights[u32(input_value(source, params.signed) - params.lowest)]);
        let shift = 8u * lane;
        packed = (packed & ~(0xffu << shift)) | ((bitcast<u32>(v) & 0xffu) << shift);
    }
    output[word] = packed;
}
