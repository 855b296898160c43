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
pub(super) enum Scalar {
    U32,
    F32,
}

/// Scalar fields by path (`ep.pre0.act`): (byte offset, type).
pub(super) type Leaves = BTreeMap<String, (usize, Scalar)>;

/// A type's scalar fields; arrays are numbered like WGSL's spelled-out members (`pad0`).
pub(super) trait Layout {
    fn leaves(path: &str, base: usize, out: &mut Leaves);
}

impl Layout for u32 {
    fn leaves(path: &str, base: usize, out: &mut Leaves) {
        out.insert(path.into(), (base, Scalar::U32));
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
pub(super) fn field<S, F: Layout>(
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
pub(super) use layout;

mod tests {
    use super::*;
    use crate::gpu::kernels::*;

    /// Padding words (`pad`, `pad0`, `pad1`...), not fields such as `pad_top`.
    fn is_pad(path: &str) -> bool {
        let last = path.rsplit('.').next().unwrap_or(path);
        last.strip_prefix("pad")
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
    }

    fn parse(file: &ShaderFile) -> naga::Module {
        naga::front::wgsl::parse_str(&file.compose(Precision::F32))
            .unwrap_or_else(|e| panic!("{}: {e}", file.name))
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
        match &module.types[ty].inner {
            naga::TypeInner::Scalar(s) => {
                let kind = match (s.kind, s.width) {
                    (naga::ScalarKind::Uint, 4) => Scalar::U32,
                    (naga::ScalarKind::Float, 4) => Scalar::F32,
                    other => panic!("{path}: unexpected uniform scalar {other:?}"),
                };
                out.insert(path.into(), (base, kind));
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

    /// `T` against the uniform at binding 0 of `file`.
    fn check<T: Layout>(file: &ShaderFile) {
        let module = parse(file);
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
        wgsl_leaves(&module, params.ty, "", 0, &mut wgsl);
        let mut rust = Leaves::new();
        T::leaves("", 0, &mut rust);
        assert_eq!(
            rust.len() * 4,
            size_of::<T>(),
            "{}: a Rust field is not listed",
            file.name
        );
        let span = module.types[params.ty].inner.size(module.to_ctx()) as usize;
        assert_eq!(span, size_of::<T>(), "{}: struct sizes differ", file.name);
        rust.retain(|path, _| !is_pad(path));
        wgsl.retain(|path, _| !is_pad(path));
        assert_eq!(rust, wgsl, "{}: Rust and WGSL Params differ", file.name);
    }

    fn constant(file: &ShaderFile, name: &str) -> usize {
        let module = parse(file);
        let (_, c) = module
            .constants
            .iter()
            .find(|(_, c)| c.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{}: no constant {name}", file.name));
        match module.global_expressions[c.init] {
            naga::Expression::Literal(naga::Literal::U32(v)) => v as usize,
            ref other => panic!("{}: {name} is {other:?}", file.name),
        }
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
    }

    #[test]
    fn shared_constants_match() {
        let pairs: [(&ShaderFile, &str, usize); 7] = [
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
            (&pointwise::TILED_SHADER, "TILE_M", pointwise::TILE_M),
            (&pointwise::TILED_SHADER, "TILE_N", pointwise::TILE_N),
            (&pointwise::SHADER, "PX", pointwise::PIXELS_PER_THREAD),
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
