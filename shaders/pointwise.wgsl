// 1x1 convolution as a GEMM: [pixels x in_c] x [in_c x out_c].
// Register-tiled: each thread computes 4 pixels x 4 output channels. Weights are
// repacked to [in_c][out_c4] vec4s, zero-padded to a multiple of 4 output channels, so
// every weight load is one vec4 whatever out_c is.

struct Params {
    ep: Epilogue,
    pixels: u32,
    in_c: u32,
    out_c: u32,
    out_c4: u32,
    total: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;

/// Pixels per thread.
const TILE_P: u32 = 4u;

@compute @workgroup_size(WG)
fn pointwise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = linear_index(gid, nwg);
    if idx >= params.total {
        return;
    }
    let c4 = idx % params.out_c4;
    let p0 = (idx / params.out_c4) * TILE_P;
    let last = params.pixels - 1u;
    // Rows past the end re-read the last pixel; their results are not stored.
    let row0 = min(p0, last) * params.in_c;
    let row1 = min(p0 + 1u, last) * params.in_c;
    let row2 = min(p0 + 2u, last) * params.in_c;
    let row3 = min(p0 + 3u, last) * params.in_c;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k = 0u; k < params.in_c; k++) {
        let w = weights[k * params.out_c4 + c4];
        acc0 += input[row0 + k] * w;
        acc1 += input[row1 + k] * w;
        acc2 += input[row2 + k] * w;
        acc3 += input[row3 + k] * w;
    }
    store_tile(p0, c4 * 4u, acc0);
    store_tile(p0 + 1u, c4 * 4u, acc1);
    store_tile(p0 + 2u, c4 * 4u, acc2);
    store_tile(p0 + 3u, c4 * 4u, acc3);
}

/// Stores the in-range part of one pixel's 4 output channels.
fn store_tile(pixel: u32, c0: u32, acc: vec4<f32>) {
    if pixel >= params.pixels {
        return;
    }
    let count = min(4u, params.out_c - c0);
    for (var j = 0u; j < count; j++) {
        store(params.ep, pixel * params.out_c + c0 + j, acc[j] + bias[c0 + j]);
    }
}
