// Depthwise convolution: any kernel size, stride, per-side padding and depth multiplier.
// One thread per output element; weights repacked to [kh][kw][out_c] so neighbouring
// threads (neighbouring channels) read neighbouring weights.

struct Params {
    ep: Epilogue,
    win: Window,
}

@group(0) @binding(0) var<uniform> params: Params;
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
