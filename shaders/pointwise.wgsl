// 1x1 convolution as a GEMM: [pixels x in_c] x [in_c x out_c], in_c and out_c multiples
// of 4 (the runtime sends other 1x1 convs to the general conv kernel).
//
// Register-tiled: each thread computes PX = 8 pixels x 8 output channels and walks the
// input channels four at a time, so every load is a vec4 (or a mat4x4): per step, one
// vec4 per pixel and two weight matrices, reused by all 8 pixels. Large tiles matter
// most on CPU adapters (lavapipe), where each storage-buffer load instruction costs a
// loop over the SIMD lanes while arithmetic runs 8 lanes wide; on GPUs the tile is an
// ordinary register-blocked GEMM.
//
// Weights are repacked to [in_c / 4][out blocks of 8][2] mat4x4, column k holding input
// channel k's weights for 4 output channels, zero padded up to a whole block.

struct Params {
    ep: Epilogue,
    pixels: u32,
    /// Input channels / 4 (vec4s per input pixel).
    in_c4: u32,
    out_c: u32,
    /// Output channel blocks of 8.
    blocks: u32,
    /// Threads: pixel groups x blocks.
    total: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Quad>;
@group(0) @binding(2) var<storage, read> weights: array<Quad>;

// Tiles are written out as separate variables rather than indexed arrays: CPU adapters
// keep dynamically indexed arrays in memory, which costs more than the loads they save.

/// Pixels per thread (the eight a* accumulators below).
const PX: u32 = 8u;

/// Weight matrix `m`: four columns of 4 output channels, one per input channel.
fn weight_matrix(m: u32) -> mat4x4<f32> {
    let q = m * 4u;
    return mat4x4<f32>(
        unquad(weights[q]),
        unquad(weights[q + 1u]),
        unquad(weights[q + 2u]),
        unquad(weights[q + 3u]),
    );
}

/// One input pixel's 4 input channels times a thread's 2 x 4 output channels.
fn tile(w0: mat4x4<f32>, w1: mat4x4<f32>, x: vec4<f32>) -> mat2x4<f32> {
    return mat2x4<f32>(w0 * x, w1 * x);
}

@compute @workgroup_size(WG)
fn pointwise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = linear_index(gid, nwg);
    if idx >= params.total {
        return;
    }
    let block = idx % params.blocks;
    let p0 = (idx / params.blocks) * PX;
    let n = params.in_c4;
    // Rows past the end re-read the last pixel; their results are not stored.
    let last = params.pixels - 1u;
    let r0 = min(p0, last) * n;
    let r1 = min(p0 + 1u, last) * n;
    let r2 = min(p0 + 2u, last) * n;
    let r3 = min(p0 + 3u, last) * n;
    let r4 = min(p0 + 4u, last) * n;
    let r5 = min(p0 + 5u, last) * n;
    let r6 = min(p0 + 6u, last) * n;
    let r7 = min(p0 + 7u, last) * n;
    var a0 = mat2x4<f32>();
    var a1 = mat2x4<f32>();
    var a2 = mat2x4<f32>();
    var a3 = mat2x4<f32>();
    var a4 = mat2x4<f32>();
    var a5 = mat2x4<f32>();
    var a6 = mat2x4<f32>();
    var a7 = mat2x4<f32>();
    for (var k4 = 0u; k4 < n; k4++) {
        let w = (k4 * params.blocks + block) * 2u;
        let w0 = weight_matrix(w);
        let w1 = weight_matrix(w + 1u);
        a0 += tile(w0, w1, unquad(input[r0 + k4]));
        a1 += tile(w0, w1, unquad(input[r1 + k4]));
        a2 += tile(w0, w1, unquad(input[r2 + k4]));
        a3 += tile(w0, w1, unquad(input[r3 + k4]));
        a4 += tile(w0, w1, unquad(input[r4 + k4]));
        a5 += tile(w0, w1, unquad(input[r5 + k4]));
        a6 += tile(w0, w1, unquad(input[r6 + k4]));
        a7 += tile(w0, w1, unquad(input[r7 + k4]));
    }
    // One store site in a loop with a run-time trip count, so it is not unrolled: every
    // inlined epilogue costs shader compile time (lavapipe compiles on first dispatch).
    // The accumulator is picked with selects: indexing an array of them would spill it.
    let c0 = block * 8u;
    // A last block of only 4 channels re-reads its bias; its second half is not stored.
    let b = mat2x4<f32>(bias4(c0), bias4(min(c0 + 4u, params.out_c - 4u)));
    let count = min(PX, params.pixels - p0);
    for (var p = 0u; p < count; p++) {
        var acc = a0;
        acc = pick(acc, a1, p == 1u);
        acc = pick(acc, a2, p == 2u);
        acc = pick(acc, a3, p == 3u);
        acc = pick(acc, a4, p == 4u);
        acc = pick(acc, a5, p == 5u);
        acc = pick(acc, a6, p == 6u);
        acc = pick(acc, a7, p == 7u);
        store_pixel(p0 + p, c0, acc + b);
    }
}

fn pick(a: mat2x4<f32>, b: mat2x4<f32>, take_b: bool) -> mat2x4<f32> {
    return mat2x4(select(a[0], b[0], take_b), select(a[1], b[1], take_b));
}

/// Stores one pixel's 8 output channels from c0 (out_c is a multiple of 4).
fn store_pixel(pixel: u32, c0: u32, acc: mat2x4<f32>) {
    let at = (pixel * params.out_c + c0) / 4u;
    store4(params.ep, at, acc[0]);
    if c0 + 4u < params.out_c {
        store4(params.ep, at + 1u, acc[1]);
    }
}

fn bias4(c0: u32) -> vec4<f32> {
    return vec4(bias[c0], bias[c0 + 1u], bias[c0 + 2u], bias[c0 + 3u]);
}

