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
    // Only the input pixels under the window (a huge window over a small padded map costs
    // what its pixels cost, not kernel² steps).
    let rows = covered(at.y * win.stride, win.kernel_h, win.pad_top, win.in_h);
    let cols = covered(at.z * win.stride, win.kernel_w, win.pad_left, win.in_w);
    var sum = 0.0;
    for (var iy = rows.x; iy < rows.y; iy++) {
        for (var ix = cols.x; ix < cols.y; ix++) {
            sum += f32(input[((at.x * win.in_h + iy) * win.in_w + ix) * win.in_c + at.w]);
        }
    }
    let count = (rows.y - rows.x) * (cols.y - cols.x);
    store(params.ep, idx, sum / f32(max(count, 1u)));
}

/// Input rows (or columns) [x, y) under a window that starts at `start` in padded
/// coordinates.
fn covered(start: u32, kernel: u32, pad: u32, size: u32) -> vec2<u32> {
    let first = max(start, pad) - pad;
    let end = min(max(start + kernel, pad) - pad, size);
    return vec2<u32>(first, max(end, first));
}
