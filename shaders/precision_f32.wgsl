// Storage types at f32 precision, prepended to every kernel file (precision_f16.wgsl is
// the f16 twin). Kernels load and store through these and compute in f32.

/// One stored value.
alias Elem = f32;
/// Four consecutive stored values (channels), as vec4 kernels load and store them.
alias Quad = vec4<f32>;

fn unquad(q: Quad) -> vec4<f32> {
    return q;
}

fn quad(v: vec4<f32>) -> Quad {
    return v;
}

/// The arithmetic of the `gpu` family's GEMM tiles (f16 in the f16 twin).
alias Arith = f32;

fn unquad_arith(q: Quad) -> vec4<Arith> {
    return q;
}
