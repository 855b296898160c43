// Prepended by the runtime to every kernel file (WGSL has no include). Holds what all
// kernels share: the binding convention, the fused epilogue and the dispatch indexing.
//
// Bindings: 0 params (uniform), 1 input, 2 weights, 3 bias, 4 residual, 5 output, 6 small
// weights in a uniform buffer (the stem). Params, input and weights are declared per
// kernel, so a kernel can read them as scalars or vec4. Unused bindings are bound to a
// small dummy buffer.
//
// Storage precision: activations and weights are stored as `Elem` and `Quad` (f32, or f16
// with `--precision f16`), defined by the precision file the runtime puts before this one;
// kernels convert on load and store and do all arithmetic, bias and uniforms in f32 (the
// `gpu` family's GEMM multiplies in the precision file's `Arith`).

/// Threads per workgroup of every one-thread-per-item kernel.
const WG: u32 = 64u;

/// The fused epilogue, three stages of clamp(act(x), lo, hi):
/// v = pre1(pre0(v + bias)); if has_residual { v += residual }; v = post(v).
/// Everything is a uniform except ACTIVATIONS, an override constant that is false when
/// every stage's activation is the identity (all of V1 and V2: ReLU6 is a clamp): those
/// pipelines then compile without the activation switch at every store, which took most
/// of lavapipe's shader compile time (it compiles on first dispatch). Specialising on the
/// activation kinds themselves made lavapipe 35% slower on V3, so it is not done.
override ACTIVATIONS: bool = true;

struct Epilogue {
    pre0: Stage,
    pre1: Stage,
    post: Stage,
    has_residual: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

/// One epilogue stage: clamp(act(x), lo, hi), `act` an `ActKind` code; `alpha` and `beta`
/// are the hard sigmoid's.
struct Stage {
    act: u32,
    lo: f32,
    hi: f32,
    alpha: f32,
    beta: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> output: array<Elem>;
// vec4 views of the same bindings, for kernels whose channel counts are multiples of 4:
// on CPU adapters every storage access costs the same per lane whatever its width.
@group(0) @binding(4) var<storage, read> residual4: array<Quad>;
@group(0) @binding(5) var<storage, read_write> output4: array<Quad>;

fn activate(x: f32, s: Stage) -> f32 {
    switch s.act {
        case 1u: { return x * clamp(x + 3.0, 0.0, 6.0) / 6.0; }
        case 2u: { return clamp(s.alpha * x + s.beta, 0.0, 1.0); }
        case 3u: { return 1.0 / (1.0 + exp(-x)); }
        default: { return x; }
    }
}

fn apply_stage(x: f32, s: Stage) -> f32 {
    if ACTIVATIONS {
        return clamp(activate(x, s), s.lo, s.hi);
    }
    return clamp(x, s.lo, s.hi);
}

/// Applies the epilogue to `v` (bias already added) and stores it at output[idx].
fn store(ep: Epilogue, idx: u32, v: f32) {
    var x = apply_stage(apply_stage(v, ep.pre0), ep.pre1);
    if ep.has_residual != 0u {
        x += f32(residual[idx]);
    }
    output[idx] = Elem(apply_stage(x, ep.post));
}

fn activate4(x: vec4<f32>, s: Stage) -> vec4<f32> {
    switch s.act {
        case 1u: { return x * clamp(x + 3.0, vec4(0.0), vec4(6.0)) / 6.0; }
        case 2u: { return clamp(s.alpha * x + s.beta, vec4(0.0), vec4(1.0)); }
        case 3u: { return 1.0 / (1.0 + exp(-x)); }
        default: { return x; }
    }
}

fn apply_stage4(x: vec4<f32>, s: Stage) -> vec4<f32> {
    if ACTIVATIONS {
        return clamp(activate4(x, s), vec4(s.lo), vec4(s.hi));
    }
    return clamp(x, vec4(s.lo), vec4(s.hi));
}

/// `store` for 4 consecutive elements: output4[idx4] = epilogue(v).
fn store4(ep: Epilogue, idx4: u32, v: vec4<f32>) {
    var x = apply_stage4(apply_stage4(v, ep.pre0), ep.pre1);
    if ep.has_residual != 0u {
        x += unquad(residual4[idx4]);
    }
    output4[idx4] = quad(apply_stage4(x, ep.post));
}

/// Linear thread index of a dispatch that the runtime split into 2-D to stay within the
/// per-dimension workgroup limit.
fn linear_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

/// Sliding-window geometry shared by conv, depthwise and avg_pool.
struct Window {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    out_c: u32,
    kernel_h: u32,
    kernel_w: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    /// conv: groups; depthwise: depth multiplier; avg_pool: unused.
    groups: u32,
    total: u32,
    pad0: u32,
    pad1: u32,
}

/// Output coordinates (n, oy, ox, oc) of NHWC element `idx`.
fn window_coords(win: Window, idx: u32) -> vec4<u32> {
    let oc = idx % win.out_c;
    let pixel = idx / win.out_c;
    let ox = pixel % win.out_w;
    let rest = pixel / win.out_w;
    return vec4<u32>(rest / win.out_h, rest % win.out_h, ox, oc);
}

/// Input row/column of a window tap, or -1 when it falls in the padding.
fn tap(o: u32, k: u32, stride: u32, pad: u32, size: u32) -> i32 {
    let pos = i32(o * stride + k) - i32(pad);
    if pos < 0 || pos >= i32(size) {
        return -1;
    }
    return pos;
}
