// Texture → model input on the GPU, byte for byte like the CPU path (src/preprocess.rs):
// centred square crop, Pillow's bilinear resize in 22-bit fixed point (horizontal pass
// rounded to 8 bits, then vertical pass), then (pixel - mean) / std into NHWC floats.
// Values are stored as `Elem`: the runtime prepends the model's storage precision, as
// for the kernels. The resampling taps are computed on the CPU by the same code as the CPU path.
//
// `taps` holds two tables of (first, count, weights_start) triples, horizontal (out_w
// entries) then vertical (out_h entries), followed by the fixed-point weights.

struct Params {
    crop_left: u32,
    crop_top: u32,
    side: u32,
    /// u32 words per row of `source_words` (texture copied to a buffer).
    source_stride: u32,
    out_w: u32,
    out_h: u32,
    /// Index of the first value written in `output` (image index × image size).
    output_offset: u32,
    /// Bit 0: the texture is sRGB (loads return linear values); bit 1: texel bytes are
    /// B, G, R, A in `source_words`.
    flags: u32,
    mean: vec4<f32>,
    stdev: vec4<f32>,
}

const WG: u32 = 64u;
const PRECISION_BITS: u32 = 22u;
const HALF: i32 = 1 << (PRECISION_BITS - 1u);
const FLAG_SRGB: u32 = 1u;
const FLAG_BGRA: u32 = 2u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> taps: array<i32>;
@group(0) @binding(2) var source: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> source_words: array<u32>;
/// The horizontally resized crop, one packed RGB pixel per word: side rows × out_w.
@group(0) @binding(4) var<storage, read_write> rows: array<u32>;
@group(0) @binding(5) var<storage, read_write> output: array<Elem>;

fn linear_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

/// (first, count, weights_start) of output position `position` in the table at `table`.
fn tap(table: u32, position: u32) -> vec3<u32> {
    let at = (table + position) * 3u;
    return vec3<u32>(u32(taps[at]), u32(taps[at + 1u]), u32(taps[at + 2u]));
}

/// Pillow's rounding of a fixed-point sum to a byte (`clip8`).
fn clip8(sum: vec3<i32>) -> vec3<u32> {
    return vec3<u32>(clamp(sum >> vec3<u32>(PRECISION_BITS), vec3<i32>(0), vec3<i32>(255)));
}

fn pack(rgb: vec3<u32>) -> u32 {
    return rgb.r | (rgb.g << 8u) | (rgb.b << 16u);
}

fn unpack(word: u32) -> vec3<u32> {
    return vec3<u32>(word & 255u, (word >> 8u) & 255u, (word >> 16u) & 255u);
}

/// The stored byte of an sRGB value that a load decoded to linear (exact inverse of the
/// decode for all 256 bytes once rounded).
fn encode_srgb(linear: vec3<f32>) -> vec3<f32> {
    let low = linear * 12.92;
    let high = 1.055 * pow(linear, vec3<f32>(1.0 / 2.4)) - 0.055;
    return select(high, low, linear <= vec3<f32>(0.0031308));
}

/// The RGB bytes of crop pixel (x, y) read through the texture binding.
fn texture_pixel(x: u32, y: u32) -> vec3<u32> {
    var rgb = textureLoad(source, vec2<u32>(params.crop_left + x, params.crop_top + y), 0).rgb;
    if (params.flags & FLAG_SRGB) != 0u {
        rgb = encode_srgb(clamp(rgb, vec3<f32>(0.0), vec3<f32>(1.0)));
    }
    return vec3<u32>(round(clamp(rgb, vec3<f32>(0.0), vec3<f32>(1.0)) * 255.0));
}

/// The RGB bytes of crop pixel (x, y) from the copy of the crop in `source_words`.
fn buffer_pixel(x: u32, y: u32) -> vec3<u32> {
    let bytes = unpack(source_words[y * params.source_stride + x]);
    if (params.flags & FLAG_BGRA) != 0u {
        return bytes.bgr;
    }
    return bytes;
}

@compute @workgroup_size(64)
fn horizontal_from_texture(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let index = linear_index(gid, nwg);
    if index >= params.side * params.out_w {
        return;
    }
    let y = index / params.out_w;
    let t = tap(0u, index % params.out_w);
    var sum = vec3<i32>(HALF);
    for (var i = 0u; i < t.y; i++) {
        sum += vec3<i32>(texture_pixel(t.x + i, y)) * taps[t.z + i];
    }
    rows[index] = pack(clip8(sum));
}

@compute @workgroup_size(64)
fn horizontal_from_buffer(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let index = linear_index(gid, nwg);
    if index >= params.side * params.out_w {
        return;
    }
    let y = index / params.out_w;
    let t = tap(0u, index % params.out_w);
    var sum = vec3<i32>(HALF);
    for (var i = 0u; i < t.y; i++) {
        sum += vec3<i32>(buffer_pixel(t.x + i, y)) * taps[t.z + i];
    }
    rows[index] = pack(clip8(sum));
}

@compute @workgroup_size(64)
fn vertical(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let index = linear_index(gid, nwg);
    if index >= params.out_h * params.out_w {
        return;
    }
    let x = index % params.out_w;
    let t = tap(params.out_w, index / params.out_w);
    var sum = vec3<i32>(HALF);
    for (var i = 0u; i < t.y; i++) {
        sum += vec3<i32>(unpack(rows[(t.x + i) * params.out_w + x])) * taps[t.z + i];
    }
    let pixel = vec3<f32>(clip8(sum));
    let normalised = (pixel - params.mean.rgb) / params.stdev.rgb;
    let at = params.output_offset + index * 3u;
    output[at] = Elem(normalised.r);
    output[at + 1u] = Elem(normalised.g);
    output[at + 2u] = Elem(normalised.b);
}
