// Storage types at f16 precision, prepended to every kernel file (precision_f32.wgsl is
// the f32 twin). Kernels load and store through these and compute in f32, except the
// `gpu` family's GEMM, which multiplies in `Arith`.
enable f16;

/// One stored value.
alias Elem = f16;
/// Four consecutive stored values (channels) packed in two u32 words: the same bytes as
/// vec4<f16>, but two 32-bit loads instead of four 16-bit ones, which is what CPU
/// adapters (lavapipe) pay for; on GPUs the unpacking is a couple of ALU instructions.
alias Quad = vec2<u32>;

fn unquad(q: Quad) -> vec4<f32> {
    return vec4(unpack2x16float(q.x), unpack2x16float(q.y));
}

fn quad(v: vec4<f32>) -> Quad {
    return vec2(pack2x16float(v.xy), pack2x16float(v.zw));
}

/// The arithmetic of the `gpu` family's GEMM tiles, and the type its depthwise tiles hold:
/// f16 where storage is f16 (so the adapter has SHADER_F16). Half the workgroup memory and
/// registers per value and twice the multiply rate on GPUs with packed f16; the GEMM
/// carries its sums in f32 between short f16 runs (verify allows 5e-2 for it, against
/// 3e-2 for f16 storage alone).
alias Arith = f16;

fn unquad_arith(q: Quad) -> vec4<Arith> {
    return vec4<f16>(unquad(q));
}
