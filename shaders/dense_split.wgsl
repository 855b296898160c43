// Fully connected layer for GPUs (the `gpu` kernel family): one workgroup per image and
// OUTPUTS consecutive output features. Its threads split the input features (thread t
// takes t, t + WG, ...: neighbouring threads read neighbouring weights of an [out][in]
// row), then add up their partial sums in workgroup memory. Far more workgroups than one
// thread per output, whose serial walk over all inputs dominates a batch-1 classifier.

/// Output features per workgroup.
const OUTPUTS: u32 = 4u;

struct Params {
    ep: Epilogue,
    in_features: u32,
    out_features: u32,
    /// Workgroups per image: ceil(out_features / OUTPUTS).
    out_groups: u32,
    /// Workgroups in all: batch x out_groups.
    groups: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> weights: array<Elem>;

/// Every thread's partial sums, OUTPUTS per thread.
var<workgroup> partial: array<vec4<f32>, WG>;

/// Weight of input `i` for output `o`; zero past the last output.
fn weight(o: u32, i: u32) -> f32 {
    if o < params.out_features {
        return f32(weights[o * params.in_features + i]);
    }
    return 0.0;
}

@compute @workgroup_size(WG)
fn dense_split(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // From the workgroup id only, so the barriers below stay in uniform control flow.
    let group = wid.x + wid.y * nwg.x;
    if group >= params.groups {
        return;
    }
    let image = group / params.out_groups;
    let o0 = (group % params.out_groups) * OUTPUTS;
    let row = image * params.in_features;
    var acc = vec4<f32>();
    for (var i = lid; i < params.in_features; i += WG) {
        let x = f32(input[row + i]);
        acc += x * vec4(weight(o0, i), weight(o0 + 1u, i), weight(o0 + 2u, i), weight(o0 + 3u, i));
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if lid < stride {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    let o = o0 + lid;
    if lid < OUTPUTS && o < params.out_features {
        store(params.ep, image * params.out_features + o, partial[0][lid] + bias[o]);
    }
}
