// General grouped convolution (the stem, and any conv no faster kernel covers).
// One thread per output element; weights in OHWI order as in the graph.

struct Params {
    ep: Epilogue,
    win: Window,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;

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
                acc += input[in_base + ic] * weights[w_base + ic];
            }
        }
    }
    store(params.ep, idx, acc);
}
