// Depthwise convolution: any kernel size, stride, per-side padding and depth multiplier.
// One thread per output element; weights repacked to [kh][kw][out_c] so neighbouring
// threads (neighbouring channels) read neighbouring weights. Weights stay f32 at every
// storage precision (see `Weights::DataF32`).

struct Params {
    ep: Epilogue,
    win: Window,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;

@compute @workgroup_size(WG)
fn depthwise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let win = params.win;
    let idx = linear_index(gid, nwg);
    if idx >= win.total {
        return;
    }
    let at = window_coords(win, idx);
    let oc = at.w;
    let ic = oc / win.groups;
    let image = at.x * win.in_h;
    var acc = bias[oc];
    for (var ky = 0u; ky < win.kernel_h; ky++) {
        let iy = tap(at.y, ky, win.stride, win.pad_top, win.in_h);
        if iy < 0 {
            continue;
        }
        for (var kx = 0u; kx < win.kernel_w; kx++) {
            let ix = tap(at.z, kx, win.stride, win.pad_left, win.in_w);
            if ix < 0 {
                continue;
            }
            let x = f32(input[((image + u32(iy)) * win.in_w + u32(ix)) * win.in_c + ic]);
            acc += x * weights[(ky * win.kernel_w + kx) * win.out_c + oc];
        }
    }
    store(params.ep, idx, acc);
}

// vec4 views for `depthwise_rows`, which each thread runs on 4 consecutive channels when
// the channel count is a multiple of 4 and the depth multiplier is 1: a quarter of the
// load instructions, which is what costs most on CPU adapters.
@group(0) @binding(1) var<storage, read> input4: array<Quad>;
@group(0) @binding(2) var<storage, read> weights4: array<vec4<f32>>;

// `depthwise_rows`: each thread computes TX neighbouring output pixels along x for 4
// channels, so the input columns their windows share are loaded once, and each row of
// weights once per TX pixels. Kernel size, stride and TX are override constants: with
// constant loop bounds the compiler unrolls the taps and keeps the row in registers.
// Needs multiplier 1 and channels a multiple of 4.
//
// TX is 4 at stride 1 and 2 at stride 2 (chosen in `kernels/depthwise.rs`): a stride-2
// thread with 4 pixels would load 9 columns per row, and every unrolled load costs
// lavapipe shader-compile time at first dispatch; 2 pixels load 5 columns for 2 pixels.

override KH: u32 = 3u;
override KW: u32 = 3u;
override STRIDE: u32 = 1u;
/// Output pixels per thread along x, at most MAX_TX.
override TX: u32 = 4u;
const MAX_TX: u32 = 4u;
/// Longest kernel row a thread caches (7x7 kernels).
const MAX_K: u32 = 7u;

@compute @workgroup_size(WG)
fn depthwise_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let win = params.win;
    let idx = linear_index(gid, nwg);
    if idx >= win.total {
        return;
    }
    let c4s = win.out_c / 4u;
    let c4 = idx % c4s;
    let tile = idx / c4s;
    let tiles_x = (win.out_w + TX - 1u) / TX;
    let ox0 = (tile % tiles_x) * TX;
    let rest = tile / tiles_x;
    let oy = rest % win.out_h;
    let n = rest / win.out_h;
    let c0 = c4 * 4u;
    let b = vec4(bias[c0], bias[c0 + 1u], bias[c0 + 2u], bias[c0 + 3u]);
    var acc = array<vec4<f32>, MAX_TX>(b, b, b, b);
    let x0 = i32(ox0 * STRIDE) - i32(win.pad_left);
    let span = (TX - 1u) * STRIDE + KW;
    for (var ky = 0u; ky < KH; ky++) {
        let iy = i32(oy * STRIDE + ky) - i32(win.pad_top);
        if iy < 0 || iy >= i32(win.in_h) {
            continue;
        }
        var w: array<vec4<f32>, MAX_K>;
        for (var kx = 0u; kx < KW; kx++) {
            w[kx] = weights4[(ky * KW + kx) * c4s + c4];
        }
        let row = (n * win.in_h + u32(iy)) * win.in_w;
        for (var j = 0u; j < span; j++) {
            let ix = x0 + i32(j);
            if ix < 0 || ix >= i32(win.in_w) {
                continue;
            }
            let x = unquad(input4[(row + u32(ix)) * c4s + c4]);
            for (var t = 0u; t < TX; t++) {
                let kx = j - t * STRIDE;
                if j >= t * STRIDE && kx < KW {
                    acc[t] += x * w[kx];
                }
            }
        }
    }
    // One store site in a loop with a run-time trip count, so it is not unrolled (each
    // inlined epilogue costs compile time); selects pick the accumulator without spilling.
    let out_row = (n * win.out_h + oy) * win.out_w;
    let count = min(TX, win.out_w - ox0);
    for (var t = 0u; t < count; t++) {
        var v = acc[0];
        v = select(v, acc[1], t == 1u);
        v = select(v, acc[2], t == 2u);
        v = select(v, acc[3], t == 3u);
        store4(params.ep, (out_row + ox0 + t) * c4s + c4, v);
    }
}

// `depthwise_tiled`, for GPUs (the `gpu` kernel family): a workgroup computes a TH x TW
// tile of output pixels for TILE_Q channel quads. Its threads first copy the input window
// the tile reads, ((TH-1)*STRIDE+KH) x ((TW-1)*STRIDE+KW) pixels x TILE_Q quads, into
// workgroup memory (neighbouring threads reading neighbouring quads of a pixel), where
// neighbouring outputs share it: at stride 1 a 3x3 tap reads each input 9 times, from
// there instead of from memory. Then each thread accumulates TH*TW/16 pixels of one quad,
// loading each weight once. Needs multiplier 1 and channels a multiple of 4; the tile
// size is chosen in `kernels/depthwise.rs` so the window fits TILE_VEC4S.
//
// The window is held as `Arith`, f16 at f16 storage (like the GEMM's tiles): half the
// workgroup memory, so twice the workgroups per core, and exact, since it holds stored
// values. The taps multiply and sum in f32 with the f32 weights, which carry most of
// depthwise's accuracy at f16 (`Weights::DataF32`).

override TH: u32 = 8u;
override TW: u32 = 8u;
/// Channel quads per workgroup: WG / TILE_Q threads share a quad.
const TILE_Q: u32 = 4u;
/// Input window vec4s in workgroup memory: 16 KiB at f32, the size every WebGPU device has.
const TILE_VEC4S: u32 = 1024u;
/// Output pixels per thread, TH * TW / (WG / TILE_Q), at most this.
const MAX_PIX: u32 = 4u;

var<workgroup> x_tile: array<vec4<Arith>, TILE_VEC4S>;

@compute @workgroup_size(WG)
fn depthwise_tiled(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let win = params.win;
    // From the workgroup id only, so the barrier below stays in uniform control flow.
    let tile = wid.x + wid.y * nwg.x;
    if tile >= win.total {
        return;
    }
    let c4s = win.out_c / 4u;
    let groups = (c4s + TILE_Q - 1u) / TILE_Q;
    let tiles_x = (win.out_w + TW - 1u) / TW;
    let tiles_y = (win.out_h + TH - 1u) / TH;
    let q0 = (tile % groups) * TILE_Q;
    var rest = tile / groups;
    let ox0 = (rest % tiles_x) * TW;
    rest /= tiles_x;
    let oy0 = (rest % tiles_y) * TH;
    let n = rest / tiles_y;

    let cols = (TW - 1u) * STRIDE + KW;
    let window = ((TH - 1u) * STRIDE + KH) * cols * TILE_Q;
    let iy0 = i32(oy0 * STRIDE) - i32(win.pad_top);
    let ix0 = i32(ox0 * STRIDE) - i32(win.pad_left);
    for (var i = lid; i < window; i += WG) {
        let q = q0 + i % TILE_Q;
        let at = i / TILE_Q;
        let iy = iy0 + i32(at / cols);
        let ix = ix0 + i32(at % cols);
        var x = vec4<Arith>();
        if iy >= 0 && iy < i32(win.in_h) && ix >= 0 && ix < i32(win.in_w) && q < c4s {
            x = unquad_arith(input4[((n * win.in_h + u32(iy)) * win.in_w + u32(ix)) * c4s + q]);
        }
        x_tile[i] = x;
    }
    workgroupBarrier();

    let q = lid % TILE_Q;
    let c4 = q0 + q;
    if c4 >= c4s {
        return;
    }
    let first = lid / TILE_Q;
    let step = WG / TILE_Q;
    let pix = TH * TW / step;
    let c0 = c4 * 4u;
    let b = vec4(bias[c0], bias[c0 + 1u], bias[c0 + 2u], bias[c0 + 3u]);
    var acc = array<vec4<f32>, MAX_PIX>(b, b, b, b);
    for (var ky = 0u; ky < KH; ky++) {
        for (var kx = 0u; kx < KW; kx++) {
            let w = weights4[(ky * KW + kx) * c4s + c4];
            for (var j = 0u; j < pix; j++) {
                let p = first + j * step;
                let at = ((p / TW) * STRIDE + ky) * cols + (p % TW) * STRIDE + kx;
                acc[j] += vec4<f32>(x_tile[at * TILE_Q + q]) * w;
            }
        }
    }
    for (var j = 0u; j < pix; j++) {
        let p = first + j * step;
        let oy = oy0 + p / TW;
        let ox = ox0 + p % TW;
        if oy < win.out_h && ox < win.out_w {
            store4(params.ep, ((n * win.out_h + oy) * win.out_w + ox) * c4s + c4, acc[j]);
        }
    }
}
