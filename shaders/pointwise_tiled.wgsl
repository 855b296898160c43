// 1x1 convolution for GPUs (the `gpu` kernel family) as a workgroup-tiled GEMM. Each
// workgroup computes a TILE_M x TILE_N tile of the output (pixels x output channels),
// walking the input channels TILE_K at a time:
// the threads first copy that slice of the input rows and of the weights into workgroup
// memory (one vec4 each, coalesced), then every thread accumulates its own 4 pixels x 4
// output channels from it. Weights are packed [in_c][out_c] (a row of output channels per
// input channel, read as vec4s); out_c is a multiple of 4, in_c of 4.
//
// The tiles hold `Arith` values (f16 at f16 storage): each TILE_K step sums its products
// in that type, and the steps' sums are added up in f32.
//
// With DEPTHWISE (a depthwise-separable step) the input is a depthwise convolution's
// input, and the GEMM computes each depthwise output quad as it loads the input tile
// (`depthwise_quad`): that tensor is never stored, at the cost of computing it once per
// TILE_N output channels.
//
// Two entry points: `pointwise_tiled` (64 threads, each walking all of K), and
// `pointwise_tiled_split` for layers with few tiles (small maps at small batches, where
// a handful of workgroups would each walk up to 960 input channels alone): 256 threads,
// four slices of 64 that share the tile loads, each taking one of a step's four channel
// quads, summed across slices at the end.

/// Pixels and output channels per workgroup tile, input channels per step.
const TILE_M: u32 = 32u;
const TILE_N: u32 = 32u;
const TILE_K: u32 = 16u;
/// vec4s per tile row: output channel quads, input channel quads.
const TILE_N4: u32 = TILE_N / 4u;
const TILE_K4: u32 = TILE_K / 4u;
/// vec4s per tile: TILE_M x TILE_K4 input quads, TILE_K x TILE_N4 weight quads.
const TILE_VEC4S: u32 = 128u;
/// K slices of `pointwise_tiled_split` (one per channel quad of a step), and its threads.
const SPLIT: u32 = TILE_K4;
const WG_SPLIT: u32 = SPLIT * WG;
// The entries' tile loads are written out for these: two vec4s of each tile per thread of
// `pointwise_tiled`, one of either tile per thread of `pointwise_tiled_split`.
const_assert TILE_M * TILE_K4 == TILE_VEC4S && TILE_K * TILE_N4 == TILE_VEC4S;
const_assert TILE_VEC4S == 2u * WG && 2u * TILE_VEC4S == WG_SPLIT;

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
    /// DEPTHWISE only: the depthwise convolution's epilogue and window (its output is the
    /// GEMM's input, `pixels` x `in_c4` quads).
    dw_ep: Epilogue,
    dw: Window,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Quad>;
@group(0) @binding(2) var<storage, read> weights: array<Quad>;
/// The bias binding as quads (`bias` of common.wgsl, which an entry point cannot read as
/// well): with DEPTHWISE the GEMM's bias is followed by the depthwise bias and its
/// tap-major weights ([KH][KW][in_c], f32 at every precision).
@group(0) @binding(3) var<storage, read> bias_quads: array<vec4<f32>>;

/// A depthwise convolution before the GEMM, its kernel size and stride (override
/// constants, so that its tap loops unroll).
override DEPTHWISE: bool = false;
override KH: u32 = 3u;
override KW: u32 = 3u;
override STRIDE: u32 = 1u;

/// The tile's input: TILE_M pixels x TILE_K4 channel quads.
var<workgroup> x_tile: array<vec4<Arith>, TILE_VEC4S>;
/// The tile's weights: TILE_K input channels x TILE_N4 output channel quads.
var<workgroup> w_tile: array<vec4<Arith>, TILE_VEC4S>;
/// `pointwise_tiled_split`: slices 1..3's sums for one of the 4 pixel rows, for slice 0.
var<workgroup> slice_sums: array<vec4<f32>, (SPLIT - 1u) * WG>;

/// Where a workgroup's tile starts: first pixel, first output channel quad.
struct TileOrigin {
    m0: u32,
    n4: u32,
}

/// This workgroup's tile, or none past the last one. From the workgroup id only, so the
/// callers' early return and barriers stay in uniform control flow.
fn tile_origin(wid: vec3<u32>, nwg: vec3<u32>) -> TileOrigin {
    let tile = wid.x + wid.y * nwg.x;
    let m0 = (tile / params.tiles_n) * TILE_M;
    return TileOrigin(m0, (tile % params.tiles_n) * TILE_N4);
}

fn tile_exists(wid: vec3<u32>, nwg: vec3<u32>) -> bool {
    return wid.x + wid.y * nwg.x < params.tiles;
}

/// Where one row of the input tile reads from: its GEMM row, and with DEPTHWISE the window
/// of its depthwise output pixel. Worked out once per thread, so that a GPU does not repeat
/// the window's divisions at every K step (lavapipe, which saves a thread's live values at
/// each barrier, is faster recomputing them, but it runs the cpu-adapter family).
struct XRow {
    pixel: u32,
    /// DEPTHWISE: the input row and column of the window's top-left tap (negative in the
    /// padding), and that tap's pixel index in the input (counting padding pixels as if
    /// they were there: used only for taps inside the input).
    iy0: i32,
    ix0: i32,
    origin: i32,
}

/// The source of input-tile vec4 `i`'s row.
fn x_row(t: TileOrigin, i: u32) -> XRow {
    let pixel = t.m0 + i / TILE_K4;
    var row = XRow(pixel, 0, 0, 0);
    if DEPTHWISE {
        let win = params.dw;
        let ox = pixel % win.out_w;
        let rest = pixel / win.out_w;
        let image = rest / win.out_h;
        row.iy0 = i32((rest % win.out_h) * STRIDE) - i32(win.pad_top);
        row.ix0 = i32(ox * STRIDE) - i32(win.pad_left);
        row.origin = i32(image * win.in_h * win.in_w) + row.iy0 * i32(win.in_w) + row.ix0;
    }
    return row;
}

/// Copies vec4 `i` (of row `row`) of the step at channel quad `k4` into the input tile;
/// zero past the edges.
fn load_x(row: XRow, k4: u32, i: u32) {
    let kq = k4 + i % TILE_K4;
    var x = vec4<Arith>();
    if row.pixel < params.pixels && kq < params.in_c4 {
        if DEPTHWISE {
            x = vec4<Arith>(depthwise_quad(row, kq));
        } else {
            x = unquad_arith(input[row.pixel * params.in_c4 + kq]);
        }
    }
    x_tile[i] = x;
}

/// Channel quad `kq` of the depthwise output of `row`: the taps of its window over the
/// step's input, bias and epilogue, in f32 (stored f16 only when the tile is).
fn depthwise_quad(row: XRow, kq: u32) -> vec4<f32> {
    let win = params.dw;
    let c4s = params.in_c4;
    let weights_at = params.out_c4 + c4s;
    var acc = bias_quads[params.out_c4 + kq];
    for (var ky = 0u; ky < KH; ky++) {
        let iy = row.iy0 + i32(ky);
        if iy < 0 || iy >= i32(win.in_h) {
            continue;
        }
        for (var kx = 0u; kx < KW; kx++) {
            let ix = row.ix0 + i32(kx);
            if ix < 0 || ix >= i32(win.in_w) {
                continue;
            }
            let at = u32(row.origin + i32(ky * win.in_w + kx));
            acc += unquad(input[at * c4s + kq]) * bias_quads[weights_at + (ky * KW + kx) * c4s + kq];
        }
    }
    let ep = params.dw_ep;
    return apply_stage4(apply_stage4(apply_stage4(acc, ep.pre0), ep.pre1), ep.post);
}

/// Copies vec4 `i` of the step at channel quad `k4` into the weight tile; zero past the edges.
fn load_w(t: TileOrigin, k4: u32, i: u32) {
    let k = k4 * 4u + i / TILE_N4;
    let nq = t.n4 + i % TILE_N4;
    var w = vec4<Arith>();
    if k < params.in_c4 * 4u && nq < params.out_c4 {
        w = unquad_arith(weights[k * params.out_c4 + nq]);
    }
    w_tile[i] = w;
}

/// Adds the products of the tiles' channel quad `kq` for output quad `tx` and pixel rows
/// ty, ty + 8, ty + 16, ty + 24 to `part`.
fn quad_products(kq: u32, tx: u32, ty: u32, part: ptr<function, array<vec4<Arith>, 4>>) {
    let w = mat4x4<Arith>(
        w_tile[(kq * 4u) * TILE_N4 + tx],
        w_tile[(kq * 4u + 1u) * TILE_N4 + tx],
        w_tile[(kq * 4u + 2u) * TILE_N4 + tx],
        w_tile[(kq * 4u + 3u) * TILE_N4 + tx],
    );
    for (var r = 0u; r < 4u; r++) {
        (*part)[r] += w * x_tile[(ty + 8u * r) * TILE_K4 + kq];
    }
}

@compute @workgroup_size(WG)
fn pointwise_tiled(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    if !tile_exists(wid, nwg) {
        return;
    }
    let t = tile_origin(wid, nwg);
    // This thread's 4 pixels (rows ty, ty + 8, ...) and output channel quad tx.
    let tx = lid % TILE_N4;
    let ty = lid / TILE_N4;
    // 64 threads copy 128 input vec4s and 128 weight vec4s: two each, of two input rows.
    let first = x_row(t, lid);
    let second = x_row(t, lid + WG);
    var acc: array<vec4<f32>, 4>;
    for (var k4 = 0u; k4 < params.in_c4; k4 += TILE_K4) {
        load_x(first, k4, lid);
        load_x(second, k4, lid + WG);
        load_w(t, k4, lid);
        load_w(t, k4, lid + WG);
        workgroupBarrier();
        var part: array<vec4<Arith>, 4>;
        for (var kq = 0u; kq < TILE_K4; kq++) {
            quad_products(kq, tx, ty, &part);
        }
        for (var r = 0u; r < 4u; r++) {
            acc[r] += vec4<f32>(part[r]);
        }
        workgroupBarrier();
    }
    store_tile(t, tx, ty, acc);
}

@compute @workgroup_size(WG_SPLIT)
fn pointwise_tiled_split(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    if !tile_exists(wid, nwg) {
        return;
    }
    let t = tile_origin(wid, nwg);
    // Slice `slice` takes channel quad `slice` of every step; within a slice the threads
    // are laid out as in `pointwise_tiled`.
    let slice = lid / WG;
    let tx = lid % TILE_N4;
    let ty = (lid % WG) / TILE_N4;
    // 256 threads copy the 128 input and 128 weight vec4s: one each.
    let row = x_row(t, lid);
    var acc: array<vec4<f32>, 4>;
    for (var k4 = 0u; k4 < params.in_c4; k4 += TILE_K4) {
        if lid < TILE_VEC4S {
            load_x(row, k4, lid);
        } else {
            load_w(t, k4, lid - TILE_VEC4S);
        }
        workgroupBarrier();
        var part: array<vec4<Arith>, 4>;
        quad_products(slice, tx, ty, &part);
        for (var r = 0u; r < 4u; r++) {
            acc[r] += vec4<f32>(part[r]);
        }
        workgroupBarrier();
    }
    // Slices 1..3 hand their sums to slice 0, one pixel row at a time (the workgroup
    // memory holds one row's worth).
    for (var r = 0u; r < 4u; r++) {
        if slice > 0u {
            slice_sums[(slice - 1u) * WG + lid % WG] = acc[r];
        }
        workgroupBarrier();
        if slice == 0u {
            acc[r] += slice_sums[lid] + slice_sums[WG + lid] + slice_sums[2u * WG + lid];
        }
        workgroupBarrier();
    }
    if slice == 0u {
        store_tile(t, tx, ty, acc);
    }
}

/// Stores output quad `tx` of pixel rows ty, ty + 8, ... with bias and epilogue.
fn store_tile(t: TileOrigin, tx: u32, ty: u32, acc: array<vec4<f32>, 4>) {
    let nq = t.n4 + tx;
    if nq >= params.out_c4 {
        return;
    }
    let b = bias_quads[nq];
    for (var r = 0u; r < 4u; r++) {
        let pixel = t.m0 + ty + 8u * r;
        if pixel < params.pixels {
            store4(params.ep, pixel * params.out_c4 + nq, acc[r] + b);
        }
    }
}
