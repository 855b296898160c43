// 1x1 convolution for GPUs (the `gpu` kernel family) as a workgroup-tiled GEMM. Each
// workgroup computes a TILE_M x TILE_N tile of the output (pixels x output channels),
// walking the input channels TILE_K at a time:
// the threads first copy that slice of the input rows and of the weights into workgroup
// memory (one vec4 each, coalesced), then every thread accumulates its own 4 pixels x 4
// output channels from it. Weights are packed [in_c][out_c] (a row of output channels per
// input channel, read as vec4s); out_c is a multiple of 4, in_c of 4.
//
// The tiles hold `Arith` values (f16 at f16 storage): each TILE_K step sums its 16
// products in that type, and the step's sums are added up across steps in f32.

/// Pixels and output channels per workgroup tile, input channels per step.
const TILE_M: u32 = 32u;
const TILE_N: u32 = 32u;
const TILE_K: u32 = 16u;
/// vec4s per tile row: output channel quads, input channel quads.
const TILE_N4: u32 = TILE_N / 4u;
const TILE_K4: u32 = TILE_K / 4u;

struct Params {
    ep: Epilogue,
    pixels: u32,
    in_c4: u32,
    out_c4: u32,
    /// Workgroup tiles along the output channels.
    tiles_n: u32,
    /// Workgroup tiles in all.
    tiles: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Quad>;
@group(0) @binding(2) var<storage, read> weights: array<Quad>;

/// The tile's input: TILE_M pixels x TILE_K4 channel quads.
var<workgroup> x_tile: array<vec4<Arith>, 128>;
/// The tile's weights: TILE_K input channels x TILE_N4 output channel quads.
var<workgroup> w_tile: array<vec4<Arith>, 128>;

@compute @workgroup_size(WG)
fn pointwise_tiled(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Derived from the workgroup id only, so the early return and the barriers below
    // stay in uniform control flow.
    let tile = wid.x + wid.y * nwg.x;
    if tile >= params.tiles {
        return;
    }
    let m0 = (tile / params.tiles_n) * TILE_M;
    let n4 = (tile % params.tiles_n) * TILE_N4;
    // This thread's 4 pixels (rows ty, ty + 8, ...) and output channel quad tx.
    let tx = lid % TILE_N4;
    let ty = lid / TILE_N4;
    var acc0 = vec4<f32>();
    var acc1 = vec4<f32>();
    var acc2 = vec4<f32>();
    var acc3 = vec4<f32>();
    for (var k4 = 0u; k4 < params.in_c4; k4 += TILE_K4) {
        // 64 threads copy 128 input vec4s and 128 weight vec4s; zeros past the edges.
        for (var i = lid; i < 128u; i += WG) {
            let pixel = m0 + i / TILE_K4;
            let kq = k4 + i % TILE_K4;
            var x = vec4<Arith>();
            if pixel < params.pixels && kq < params.in_c4 {
                x = unquad_arith(input[pixel * params.in_c4 + kq]);
            }
            x_tile[i] = x;
            let k = k4 * 4u + i / TILE_N4;
            let nq = n4 + i % TILE_N4;
            var w = vec4<Arith>();
            if k < params.in_c4 * 4u && nq < params.out_c4 {
                w = unquad_arith(weights[k * params.out_c4 + nq]);
            }
            w_tile[i] = w;
        }
        workgroupBarrier();
        var part0 = vec4<Arith>();
        var part1 = vec4<Arith>();
        var part2 = vec4<Arith>();
        var part3 = vec4<Arith>();
        for (var kq = 0u; kq < TILE_K4; kq++) {
            let w0 = w_tile[(kq * 4u) * TILE_N4 + tx];
            let w1 = w_tile[(kq * 4u + 1u) * TILE_N4 + tx];
            let w2 = w_tile[(kq * 4u + 2u) * TILE_N4 + tx];
            let w3 = w_tile[(kq * 4u + 3u) * TILE_N4 + tx];
            let w = mat4x4<Arith>(w0, w1, w2, w3);
            part0 += w * x_tile[ty * TILE_K4 + kq];
            part1 += w * x_tile[(ty + 8u) * TILE_K4 + kq];
            part2 += w * x_tile[(ty + 16u) * TILE_K4 + kq];
            part3 += w * x_tile[(ty + 24u) * TILE_K4 + kq];
        }
        acc0 += vec4<f32>(part0);
        acc1 += vec4<f32>(part1);
        acc2 += vec4<f32>(part2);
        acc3 += vec4<f32>(part3);
        workgroupBarrier();
    }
    let nq = n4 + tx;
    if nq >= params.out_c4 {
        return;
    }
    let b = bias4(nq * 4u);
    store_tiled(m0 + ty, nq, acc0 + b);
    store_tiled(m0 + ty + 8u, nq, acc1 + b);
    store_tiled(m0 + ty + 16u, nq, acc2 + b);
    store_tiled(m0 + ty + 24u, nq, acc3 + b);
}

/// Stores output channel quad `nq` of `pixel`, when the pixel exists.
fn store_tiled(pixel: u32, nq: u32, v: vec4<f32>) {
    if pixel < params.pixels {
        store4(params.ep, pixel * params.out_c4 + nq, v);
    }
}

fn bias4(c0: u32) -> vec4<f32> {
    return vec4(bias[c0], bias[c0 + 1u], bias[c0 + 2u], bias[c0 + 3u]);
}
