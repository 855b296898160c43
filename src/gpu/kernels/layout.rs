//! Rust's uniform structs against their WGSL twins: every field at the same byte offset
//! with the same scalar type under the same name, every byte accounted for, and the
//! constants both sides share equal. naga parses the composed shaders, so reordering,
//! renaming or retyping a field on one side fails here instead of feeding a kernel garbage.
//! Structs opt in with [`layout!`] next to their definition (field privacy).

use std::collections::BTreeMap;
use std::mem::size_of;

use crate::gpu::pipeline::ShaderFile;
use crate::Precision;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scalar {
    U32,
    I32,
    F32,
}

/// Scalar fields by path (`ep.pre0.act`): (byte offset, type).
pub(crate) type Leaves = BTreeMap<String, (usize, Scalar)>;

/// A type's scalar fields; arrays are numbered like WGSL's spelled-out members (`pad0`).
pub(crate) trait Layout {
    fn leaves(path: &str, base: usize, out: &mut Leaves);
}

impl Layout for u32 {
    fn leaves(path: &str, base: usize, out: &mut Leaves) {
        out.insert(path.into(), (base, Scalar::U32));
    }
}

impl Layout for i32 {
    fn leaves(path: &str, base: usize, out: &mut Leaves) {
        out.insert(path.into(), (base, Scalar::I32));
    }
}

impl Layout for f32 {
    fn leaves(path: &str, base: usize, out: &mut Leaves) {
        out.insert(path.into(), (base, Scalar::F32));
    }
}

impl<T: Layout, const N: usize> Layout for [T; N] {
    fn leaves(path: &str, base: usize, out: &mut Leaves) {
        for i in 0..N {
            T::leaves(&format!("{path}{i}"), base + i * size_of::<T>(), out);
        }
    }
}

/// The leaves of field `name` at `offset` of a struct, its type taken from `_field`.
pub(crate) fn field<S, F: Layout>(
    _field: fn(&S) -> &F,
    name: &str,
    offset: usize,
    (path, base, out): (&str, usize, &mut Leaves),
) {
    let path = if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    };
    F::leaves(&path, base + offset, out);
}

/// Implements [`Layout`] for a `#[repr(C)]` struct from its field names, in any order.
macro_rules! layout {
    ($ty:ty { $($name:ident),* $(,)? }) => {
        impl $crate::gpu::kernels::layout::Layout for $ty {
            fn leaves(path: &str, base: usize, out: &mut $crate::gpu::kernels::layout::Leaves) {
                $(
                    $crate::gpu::kernels::layout::field(
                        |s: &$ty| &s.$name,
                        stringify!($name),
                        std::mem::offset_of!($ty, $name),
                        (path, base, &mut *out),
                    );
                )*
            }
        }
    };
}
pub(crate) use layout;

/// Padding words (`pad`, `pad0`, `pad1`...), not fields such as `pad_top`.
fn is_pad(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.strip_prefix("pad")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
}

fn wgsl_leaves(
    module: &naga::Module,
    ty: naga::Handle<naga::Type>,
    path: &str,
    base: usize,
    out: &mut Leaves,
) {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let kind = |s: &naga::Scalar| match (s.kind, s.width) {
        (naga::ScalarKind::Uint, 4) => Scalar::U32,
        (naga::ScalarKind::Sint, 4) => Scalar::I32,
        (naga::ScalarKind::Float, 4) => Scalar::F32,
        other => panic!("{path}: unexpected uniform scalar {other:?}"),
    };
    match &module.types[ty].inner {
        naga::TypeInner::Scalar(s) => {
            out.insert(path.into(), (base, kind(s)));
        }
        // Components numbered like a Rust array's elements (`mean0`..`mean3`).
        naga::TypeInner::Vector { size, scalar } => {
            for i in 0..*size as usize {
                out.insert(format!("{path}{i}"), (base + 4 * i, kind(scalar)));
            }
        }
        naga::TypeInner::Struct { members, .. } => {
            for m in members {
                let name = m.name.as_deref().unwrap_or("?");
                wgsl_leaves(module, m.ty, &join(name), base + m.offset as usize, out);
            }
        }
        other => panic!("{path}: unexpected uniform member {other:?}"),
    }
}

/// Asserts that `T` matches the uniform at binding 0 of `module` (shader `name`): every
/// field at the same offset with the same scalar type, and the same total size.
pub(crate) fn assert_uniform_matches<T: Layout>(module: &naga::Module, name: &str) {
    let (_, params) = module
        .global_variables
        .iter()
        .find(|(_, g)| {
            g.binding
                .as_ref()
                .is_some_and(|b| b.group == 0 && b.binding == 0)
        })
        .expect("a uniform at binding 0");
    let mut wgsl = Leaves::new();
    wgsl_leaves(module, params.ty, "", 0, &mut wgsl);
    let mut rust = Leaves::new();
    T::leaves("", 0, &mut rust);
    assert_eq!(
        rust.len() * 4,
        size_of::<T>(),
        "{name}: a Rust field is not listed"
    );
    let span = module.types[params.ty].inner.size(module.to_ctx()) as usize;
    assert_eq!(span, size_of::<T>(), "{name}: struct sizes differ");
    rust.retain(|path, _| !is_pad(path));
    wgsl.retain(|path, _| !is_pad(path));
    assert_eq!(rust, wgsl, "{name}: Rust and WGSL Params differ");
}

/// The value of `module`'s `u32` constant `name`.
pub(crate) fn wgsl_constant(module: &naga::Module, name: &str) -> Result<usize, String> {
    let (_, c) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .ok_or_else(|| format!("no constant {name}"))?;
    match module.global_expressions[c.init] {
        naga::Expression::Literal(naga::Literal::U32(v)) => Ok(v as usize),
        ref other => Err(format!("{name} is {other:?}")),
    }
}

mod tests {
    use super::*;
    use crate::gpu::kernels::*;

    fn parse(file: &ShaderFile) -> naga::Module {
        let precision = match file.name.starts_with("int_") {
            true => Precision::Int8,
            false => Precision::F32,
        };
        let source = file.compose(precision);
        let module =
            naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| panic!("{}: {e}", file.name));
        // Validation checks what parsing does not, such as a uniform's alignment rules.
        let flags = naga::valid::ValidationFlags::all();
        naga::valid::Validator::new(flags, naga::valid::Capabilities::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", file.name, e.emit_to_string(&source)));
        module
    }

    /// `T` against the uniform at binding 0 of `file`.
    fn check<T: Layout>(file: &ShaderFile) {
        assert_uniform_matches::<T>(&parse(file), file.name);
    }

    fn constant(file: &ShaderFile, name: &str) -> usize {
        wgsl_constant(&parse(file), name).unwrap_or_else(|e| panic!("{}: {e}", file.name))
    }

    #[test]
    fn uniform_structs_match_their_wgsl_twins() {
        for file in [&conv::SHADER, &depthwise::SHADER, &pool::SHADER] {
            check::<WindowParams>(file);
        }
        check::<dense::DenseParams>(&dense::SHADER);
        check::<dense::SplitParams>(&dense::SPLIT_SHADER);
        check::<pointwise::PointwiseParams>(&pointwise::SHADER);
        check::<pointwise::TiledParams>(&pointwise::TILED_SHADER);
        check::<softmax::SoftmaxParams>(&softmax::SHADER);
        check::<elementwise::ElementwiseParams>(&elementwise::SHADER);
        check::<squeeze_excite::SqueezeExciteParams>(&squeeze_excite::SHADER);
        check::<int::conv_store::ConvParams>(&int::conv::SHADER);
        check::<int::conv_store::ConvParams>(&int::pointwise::SHADER);
        check::<int::conv_store::ConvParams>(&int::depthwise::SHADER);
        check::<int::dense::DenseParams>(&int::dense::SHADER);
        check::<int::pool::PoolParams>(&int::pool::SHADER);
        check::<int::elementwise::ElementwiseParams>(&int::elementwise::SHADER);
        check::<int::softmax::SoftmaxParams>(&int::softmax::SHADER);
    }

    #[test]
    fn shared_constants_match() {
        let pairs: [(&ShaderFile, &str, usize); 13] = [
            (
                &conv::SHADER,
                "WG",
                crate::gpu::pipeline::WORKGROUP_SIZE as usize,
            ),
            (&depthwise::SHADER, "TILE_Q", depthwise::TILE_QUADS),
            (&depthwise::SHADER, "TILE_VEC4S", depthwise::TILE_VEC4S),
            (
                &dense::SPLIT_SHADER,
                "OUTPUTS",
                dense::OUTPUTS_PER_WORKGROUP,
            ),
            (
                &pointwise::TILED_SHADER,
                "TILE_M",
                crate::plan::gemm::TILE_PIXELS,
            ),
            (
                &pointwise::TILED_SHADER,
                "TILE_N",
                crate::plan::gemm::TILE_CHANNELS,
            ),
            (&pointwise::SHADER, "PX", pointwise::PIXELS_PER_THREAD),
            (
                &int::conv::SHADER,
                "TILE_PIXELS",
                int::conv::POINTWISE_PIXELS,
            ),
            (
                &int::pointwise::SHADER,
                "TILE_PIXELS",
                int::pointwise::TILE_PIXELS,
            ),
            (
                &int::pointwise::SHADER,
                "CHUNK_GROUPS",
                int::EXACT_F32_PRODUCTS / 16,
            ),
            (&int::depthwise::SHADER, "MAX_K", depthwise::MAX_ROW_KERNEL),
            (
                &squeeze_excite::SHADER,
                "MAX_CHANNELS",
                crate::plan::SE_MAX_CHANNELS,
            ),
            (
                &squeeze_excite::SHADER,
                "MAX_HIDDEN",
                crate::plan::SE_MAX_HIDDEN,
            ),
        ];
        for (file, name, rust) in pairs {
            assert_eq!(constant(file, name), rust, "{}: {name}", file.name);
        }
    }

    /// The check fails when a field moves: two fields swapped in a hand-made layout.
    #[test]
    fn a_swapped_field_is_caught() {
        #[repr(transparent)]
        struct Swapped(#[allow(dead_code)] elementwise::ElementwiseParams);
        impl Layout for Swapped {
            fn leaves(path: &str, base: usize, out: &mut Leaves) {
                <elementwise::ElementwiseParams as Layout>::leaves(path, base, out);
                let (a, b) = (out["total"], out["channels"]);
                out.insert("total".into(), b);
                out.insert("channels".into(), a);
            }
        }
        let result = std::panic::catch_unwind(|| check::<Swapped>(&elementwise::SHADER));
        assert!(result.is_err());
    }
}
