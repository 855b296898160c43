// Average pooling. Global: one thread per (image, channel), mean over H x W.
// Windowed: one thread per output element, padding excluded from the mean.

struct Params {
    ep: Epilogue,
    win: Window,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;

@compute @workgroup_size(WG)
fn global_avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let win = params.win;
    let idx = linear_index(gid, nwg);
    if idx >= win.total {
        return;
    }
    let c = idx % win.in_c;
    let n = idx / win.in_c;
    let area = win.in_h * win.in_w;
    var sum = 0.0;
    for (var p = 0u; p < area; p++) {
        sum += f32(input[(n * area + p) * win.in_c + c]);
    }
    store(params.ep, idx, sum / f32(area));
}

@compute @workgroup_size(WG)
fn avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let win = params.win;
    let idx = linear_index(gid, nwg);
    if idx >= win.total {
        return;
    }
    let at = window_coords(win, idx);
    var sum = 0.0;
    var count = 0u;
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
            sum += f32(input[((at.x * win.in_h + u32(iy)) * win.in_w + u32(ix)) * win.in_c + at.w]);
            count++;
        }
    }
    store(params.ep, idx, sum / f32(max(count, 1u)));
}
