// Fully connected layer: one thread per (image, output feature). Weights repacked to
// [in][out] so neighbouring threads read neighbouring weights.

struct Params {
    ep: Epilogue,
    in_features: u32,
    out_features: u32,
    total: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> weights: array<Elem>;

@compute @workgroup_size(WG)
fn dense(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = linear_index(gid, nwg);
    if idx >= params.total {
        return;
    }
    let o = idx % params.out_features;
    let row = (idx / params.out_features) * params.in_features;
    var acc = bias[o];
    for (var i = 0u; i < params.in_features; i++) {
        acc += f32(input[row + i]) * f32(weights[i * params.out_features + o]);
    }
    store(params.ep, idx, acc);
}
