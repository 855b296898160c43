// Softmax over channels: one workgroup per row (image x pixel). The workgroup reduces
// the row's max and the sum of exponentials in workgroup memory.

struct Params {
    ep: Epilogue,
    rows: u32,
    len: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;

const SOFTMAX_WG: u32 = 256u;

var<workgroup> partial: array<f32, SOFTMAX_WG>;

/// Tree reduction of `partial` (max when `take_max`, else sum); result in partial[0].
fn reduce(lid: u32, take_max: bool) {
    for (var width = SOFTMAX_WG / 2u; width > 0u; width /= 2u) {
        workgroupBarrier();
        if lid < width {
            let other = partial[lid + width];
            if take_max {
                partial[lid] = max(partial[lid], other);
            } else {
                partial[lid] += other;
            }
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(SOFTMAX_WG)
fn softmax(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Uniform across the workgroup, so the early return keeps barriers uniform.
    let row = wid.x + wid.y * nwg.x;
    if row >= params.rows {
        return;
    }
    let base = row * params.len;
    var local_max = -3.4028235e38;
    for (var i = lid; i < params.len; i += SOFTMAX_WG) {
        local_max = max(local_max, f32(input[base + i]));
    }
    partial[lid] = local_max;
    reduce(lid, true);
    let row_max = partial[0];
    workgroupBarrier();
    var local_sum = 0.0;
    for (var i = lid; i < params.len; i += SOFTMAX_WG) {
        local_sum += exp(f32(input[base + i]) - row_max);
    }
    partial[lid] = local_sum;
    reduce(lid, false);
    let inv_sum = 1.0 / partial[0];
    for (var i = lid; i < params.len; i += SOFTMAX_WG) {
        store(params.ep, base + i, exp(f32(input[base + i]) - row_max) * inv_sum);
    }
}
