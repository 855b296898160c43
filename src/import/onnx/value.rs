//! What an ONNX tensor is while importing: a constant, or an activation living in an IR
//! tensor (per-image NHWC) together with the ONNX layout that maps one onto the other.

use super::tensor::Tensor;
use crate::graph::{Padding, Shape, TensorId};
use crate::model::{DType, Quantization};

/// How an ONNX activation `[N, dims…]` lies over its per-image NHWC IR tensor.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Layout {
    /// `[N, C, H, W]`: ONNX's own layout for images.
    Nchw,
    /// `[N, H, W, C]`: a tf2onnx input before its transpose.
    Nhwc,
    /// Any other shape `dims` over a 1×1×F IR tensor. Without `from`, ONNX's element order
    /// is the IR's; with it, the tensor is an NCHW map of IR shape `from` flattened, so ONNX
    /// element `c·H·W + h·W + w` is IR element `(h·W + w)·C + c`.
    Flat {
        dims: Vec<usize>,
        from: Option<Shape>,
    },
}

/// An activation: an IR tensor plus how ONNX sees it.
#[derive(Clone, Debug)]
pub(super) struct Act {
    pub id: TensorId,
    pub layout: Layout,
    /// Set between a QuantizeLinear and its DequantizeLinear: ONNX holds the integers
    /// `round(x / scale) + zero_point` where the IR holds the (clamped) real values `x`.
    pub quant: Option<(Quantization, DType)>,
    /// Zero padding of a Pad not yet folded into the convolution that reads it.
    pub pad: Padding,
}

impl Act {
    pub fn new(id: TensorId, layout: Layout) -> Act {
        Act {
            id,
            layout,
            quant: None,
            pad: Padding::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub(super) enum Value {
    Const(Tensor),
    Act(Act),
}

/// The ONNX dims (without the batch) of an activation of IR shape `shape`.
pub(super) fn dims_of(layout: &Layout, shape: Shape) -> Vec<usize> {
    match layout {
        Layout::Nchw => vec![shape.c, shape.h, shape.w],
        Layout::Nhwc => vec![shape.h, shape.w, shape.c],
        Layout::Flat { dims, .. } => dims.clone(),
    }
}

/// The simplest layout for ONNX dims `dims` over a 1×1×F IR tensor in IR order:
/// `[F, 1, 1]` is NCHW, `[1, 1, F]` NHWC, anything else flat.
pub(super) fn vector_layout(dims: Vec<usize>) -> Layout {
    match dims[..] {
        [_, 1, 1] => Layout::Nchw,
        [1, 1, _] => Layout::Nhwc,
        _ => Layout::Flat { dims, from: None },
    }
}

/// True when the IR tensor's memory order equals ONNX's element order (a vector, or a
/// spatial map in NHWC).
pub(super) fn same_order(layout: &Layout, shape: Shape) -> bool {
    match layout {
        Layout::Nhwc => true,
        Layout::Nchw => shape.h * shape.w == 1 || shape.c == 1,
        Layout::Flat { from, .. } => from.is_none_or(|s| s.h * s.w == 1 || s.c == 1),
    }
}

/// The new layout after a transpose by `perm` (batch axis excluded and fixed), when it
/// needs no data movement: NCHW ↔ NHWC, or moving unit axes of a vector.
pub(super) fn transposed(layout: &Layout, shape: Shape, perm: &[usize]) -> Option<Layout> {
    match (layout, perm) {
        (_, [0, 1, 2]) | (_, [0, 1]) | (_, [0]) => Some(layout.clone()),
        (Layout::Nchw, [1, 2, 0]) => Some(Layout::Nhwc),
        (Layout::Nhwc, [2, 0, 1]) => Some(Layout::Nchw),
        _ if same_order(layout, shape) && shape.h * shape.w == 1 => {
            let dims = dims_of(layout, shape);
            let moved: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
            let non_unit = |order: &mut dyn Iterator<Item = usize>| -> Vec<usize> {
                order.filter(|&a| dims[a] != 1).collect()
            };
            let keeps_order = non_unit(&mut perm.iter().copied()) == non_unit(&mut (0..dims.len()));
            keeps_order.then(|| vector_layout(moved))
        }
        _ => None,
    }
}
