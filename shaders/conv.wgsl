// General grouped convolution (the stem, and any conv no faster kernel covers).
// One thread per output element; weights in OHWI order as in the graph.

struct Params {
    ep: Epilogue,
    win: Window,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> weights: array<Elem>;

@compute @workgroup_size(WG)
fn conv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let win = params.win;
    let idx = linear_index(gid, nwg);
    if idx >= win.total {
        return;
    }
    let at = window_coords(win, idx);
    let oc = at.w;
    let cin_group = win.in_c / win.groups;
    let first_ic = (oc / (win.out_c / win.groups)) * cin_group;
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
            let in_base = ((image + u32(iy)) * win.in_w + u32(ix)) * win.in_c + first_ic;
            let w_base = ((oc * win.kernel_h + ky) * win.kernel_w + kx) * cin_group;
            for (var ic = 0u; ic < cin_group; ic++) {
                acc += f32(input[in_base + ic]) * f32(weights[w_base + ic]);
            }
        }
    }
    store(params.ep, idx, acc);
}

// `conv4`: ungrouped convs with out_c a multiple of 4 and at most 4096 weights (the stem).
// One thread per output pixel computing all its channels, four at a time. Weights are
// repacked to [kh][kw][in_c][out_c / 4] vec4s in a uniform buffer (f32 holding the values
// of the plan's precision). Their addresses depend only on loop counters, the same in every
// thread: GPUs serve them from the constant cache, and lavapipe loads a uniform value at a
// uniform address once and broadcasts it, where a storage-buffer load would be one load
// per SIMD lane (3.3x faster on V2's stem).
@group(0) @binding(6) var<uniform> weights_uniform: array<vec4<f32>, 1024>;

@compute @workgroup_size(WG)
fn conv4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let pixel = linear_index(gid, nwg);
    if pixel >= params.win.total {
        return;
    }
    let c4s = params.win.out_c / 4u;
    for (var c4 = 0u; c4 < c4s; c4++) {
        store4(params.ep, pixel * c4s + c4, conv4_quad(pixel, c4));
    }
}

// `conv4_split` (the `gpu` family): the same work split across out_c / 4 times the threads, one per
// output pixel and channel quad, for GPUs that a thread per pixel leaves mostly idle at
// batch 1 (196 workgroups for V2's stem). The quad is the slow index, so a SIMD group's
// threads still read the same uniform weights. `win.total` counts pixels x quads.
@compute @workgroup_size(WG)
fn conv4_split(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let idx = linear_index(gid, nwg);
    if idx >= params.win.total {
        return;
    }
    let c4s = params.win.out_c / 4u;
    let pixels = params.win.total / c4s;
    let pixel = idx % pixels;
    let c4 = idx / pixels;
    store4(params.ep, pixel * c4s + c4, conv4_quad(pixel, c4));
}

/// Output channels 4 * c4 .. 4 * c4 + 3 of output pixel `pixel` (batch-major).
fn conv4_quad(pixel: u32, c4: u32) -> vec4<f32> {
    let win = params.win;
    let ox = pixel % win.out_w;
    let rest = pixel / win.out_w;
    let oy = rest % win.out_h;
    let image = (rest / win.out_h) * win.in_h;
    let c4s = win.out_c / 4u;
    let c0 = c4 * 4u;
    var acc = vec4(bias[c0], bias[c0 + 1u], bias[c0 + 2u], bias[c0 + 3u]);
    for (var ky = 0u; ky < win.kernel_h; ky++) {
        let iy = tap(oy, ky, win.stride, win.pad_top, win.in_h);
        for (var kx = 0u; kx < win.kernel_w; kx++) {
            let ix = tap(ox, kx, win.stride, win.pad_left, win.in_w);
            // Padding taps still step through the (uniform) weights, reading input 0.
            let inside = iy >= 0 && ix >= 0;
            let in_base = ((image + u32(max(iy, 0))) * win.in_w + u32(max(ix, 0))) * win.in_c;
            let w_base = (ky * win.kernel_w + kx) * win.in_c * c4s + c4;
            for (var ic = 0u; ic < win.in_c; ic++) {
                let x = select(0.0, f32(input[in_base + ic]), inside);
                acc += x * weights_uniform[w_base + ic * c4s];
            }
        }
    }
    return acc;
}
