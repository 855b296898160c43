// Squeeze-excite in one dispatch: one workgroup per image averages the H x W map into C
// values, applies the first 1x1 convolution (C -> HIDDEN) and the second (HIDDEN -> C),
// each with its epilogue, and stores the C scales that mul_channel applies next. Each
// stage needs all of the previous stage's values, which the workgroup keeps in its memory.

/// Widest input and hidden layer (plan::squeeze::MAX_CHANNELS, MAX_HIDDEN).
const MAX_CHANNELS: u32 = 1024u;
const MAX_HIDDEN: u32 = 256u;

struct Params {
    pool_ep: Epilogue,
    reduce_ep: Epilogue,
    ep: Epilogue,
    batch: u32,
    channels: u32,
    hidden: u32,
    /// H x W of the input map.
    area: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
/// The reduce weights [C][HIDDEN], then the expand weights [HIDDEN][C] (input-major, so
/// neighbouring threads read neighbouring weights); the bias binding holds the reduce
/// biases, then the expand biases.
@group(0) @binding(2) var<storage, read> weights: array<Elem>;

var<workgroup> pooled: array<f32, MAX_CHANNELS>;
var<workgroup> hidden: array<f32, MAX_HIDDEN>;

/// An epilogue without residual, applied to a value kept in workgroup memory.
fn epilogue(ep: Epilogue, v: f32) -> f32 {
    return apply_stage(apply_stage(apply_stage(v, ep.pre0), ep.pre1), ep.post);
}

@compute @workgroup_size(WG)
fn squeeze_excite(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = wid.x + wid.y * nwg.x;
    if n >= params.batch {
        return; // a whole workgroup past the batch (uniform: no barrier is skipped by half)
    }
    let channels = params.channels;
    let map = n * params.area * channels;
    for (var c = lid; c < channels; c += WG) {
        var sum = 0.0;
        for (var p = 0u; p < params.area; p++) {
            sum += f32(input[map + p * channels + c]);
        }
        pooled[c] = epilogue(params.pool_ep, sum / f32(params.area));
    }
    workgroupBarrier();
    for (var j = lid; j < params.hidden; j += WG) {
        var acc = bias[j];
        for (var c = 0u; c < channels; c++) {
            acc += f32(weights[c * params.hidden + j]) * pooled[c];
        }
        hidden[j] = epilogue(params.reduce_ep, acc);
    }
    workgroupBarrier();
    let expand = params.hidden * channels;
    for (var c = lid; c < channels; c += WG) {
        var acc = bias[params.hidden + c];
        for (var j = 0u; j < params.hidden; j++) {
            acc += f32(weights[expand + j * channels + c]) * hidden[j];
        }
        store(params.ep, n * channels + c, acc);
    }
}
