// Depthwise convolution: any kernel size, stride, per-side padding and depth multiplier.
// One thread per output element; weights repacked to [kh][kw][out_c] so neighbouring
// threads (neighbouring channels) read neighbouring weights.

struct Params {
    ep: Epilogue,
    win: Window,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
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
            let x = input[((image + u32(iy)) * win.in_w + u32(ix)) * win.in_c + ic];
            acc += x * weights[(ky * win.kernel_w + kx) * win.out_c + oc];
        }
    }
    store(params.ep, idx, acc);
}

// vec4 views for `depthwise4`, which each thread runs on 4 consecutive channels when the
// channel count is a multiple of 4 and the depth multiplier is 1: a quarter of the load
// instructions, which is what costs most on CPU adapters.
@group(0) @binding(1) var<storage, read> input4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weights4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn depthwise4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let win = params.win;
    let idx = linear_index(gid, nwg);
    if idx >= win.total {
        return;
    }
    let c4s = win.out_c / 4u;
    let c4 = idx % c4s;
    let pixel = idx / c4s;
    let ox = pixel % win.out_w;
    let rest = pixel / win.out_w;
    let oy = rest % win.out_h;
    let image = (rest / win.out_h) * win.in_h;
    let c0 = c4 * 4u;
    var acc = vec4(bias[c0], bias[c0 + 1u], bias[c0 + 2u], bias[c0 + 3u]);
    for (var ky = 0u; ky < win.kernel_h; ky++) {
        let iy = tap(oy, ky, win.stride, win.pad_top, win.in_h);
        if iy < 0 {
            continue;
        }
        for (var kx = 0u; kx < win.kernel_w; kx++) {
            let ix = tap(ox, kx, win.stride, win.pad_left, win.in_w);
            if ix < 0 {
                continue;
            }
            let x = input4[((image + u32(iy)) * win.in_w + u32(ix)) * c4s + c4];
            acc += x * weights4[(ky * win.kernel_w + kx) * c4s + c4];
        }
    }
    store4(params.ep, idx, acc);
}
