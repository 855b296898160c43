// Element-wise kernels, one thread per output element:
// copy (standalone activations; with a residual, standalone adds), mul_channel
// (squeeze-excite rescale, the 1x1xC scale bound at the weights binding) and
// concat_part (writes one input into a channel range of the concatenated output).

struct Params {
    ep: Epilogue,
    /// Elements this dispatch writes.
    total: u32,
    /// Channels of the input.
    channels: u32,
    /// concat_part: channels of the output; mul_channel: pixels per image.
    extent: u32,
    /// concat_part: first output channel written.
    offset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> scale: array<Elem>;

@compute @workgroup_size(WG)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = linear_index(gid, nwg);
    if idx >= params.total {
        return;
    }
    store(params.ep, idx, f32(input[idx]));
}

@compute @workgroup_size(WG)
fn mul_channel(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = linear_index(gid, nwg);
    if idx >= params.total {
        return;
    }
    let c = idx % params.channels;
    let image = idx / (params.channels * params.extent);
    store(params.ep, idx, f32(input[idx]) * f32(scale[image * params.channels + c]));
}

@compute @workgroup_size(WG)
fn concat_part(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = linear_index(gid, nwg);
    if idx >= params.total {
        return;
    }
    let c = idx % params.channels;
    let pixel = idx / params.channels;
    store(params.ep, pixel * params.extent + params.offset + c, f32(input[idx]));
}
