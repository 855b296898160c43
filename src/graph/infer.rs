//! Shape inference and validation for every operator.

use super::ops::{Conv2d, Op, Padding};
use super::Shape;

/// The output shape of `op` applied to inputs of `shapes`, or why it is invalid.
pub(super) fn output_shape(op: &Op, shapes: &[Shape]) -> Result<Shape, String> {
    let arity = match op {
        Op::Input => 0,
        Op::Add | Op::MulChannel => 2,
        Op::Concat => shapes.len().max(1),
        _ => 1,
    };
    if shapes.len() != arity {
        return Err(format!(
            "{} takes {arity} input(s), got {}",
            op.kind(),
            shapes.len()
        ));
    }
    match op {
        Op::Input => Err("Input can only be the first node".into()),
        Op::Conv2d(conv) => conv_shape(conv, shapes[0]),
        Op::BatchNorm(bn) => {
            let c = shapes[0].c;
            let lens = [bn.gamma.len(), bn.beta.len(), bn.mean.len(), bn.var.len()];
            if lens.iter().any(|&l| l != c) {
                return Err(format!(
                    "BatchNorm parameters {lens:?} do not match {c} channels"
                ));
            }
            Ok(shapes[0])
        }
        Op::Activation(_) | Op::Dropout | Op::Quantize | Op::Softmax => Ok(shapes[0]),
        Op::Add => {
            if shapes[0] != shapes[1] {
                return Err(format!(
                    "Add of different shapes {} and {}",
                    shapes[0], shapes[1]
                ));
            }
            Ok(shapes[0])
        }
        Op::MulChannel => {
            let (x, s) = (shapes[0], shapes[1]);
            if s != Shape::new(1, 1, x.c) {
                return Err(format!("MulChannel scale must be 1x1x{}, got {s}", x.c));
            }
            Ok(x)
        }
        Op::GlobalAvgPool => Ok(Shape::new(1, 1, shapes[0].c)),
        Op::AvgPool(pool) => {
            let (h, w) = window_out(
                shapes[0],
                pool.kernel,
                pool.kernel,
                pool.stride,
                pool.padding,
            )?;
            Ok(Shape::new(h, w, shapes[0].c))
        }
        Op::Dense(dense) => {
            let x = shapes[0];
            if x.h != 1 || x.w != 1 {
                return Err(format!(
                    "Dense needs a 1x1xC input (flatten first), got {x}"
                ));
            }
            if dense.out_features.checked_mul(x.c) != Some(dense.weights.len())
                || dense.weights.is_empty()
            {
                return Err(format!(
                    "Dense weights have {} values, expected {}x{}",
                    dense.weights.len(),
                    dense.out_features,
                    x.c
                ));
            }
            check_bias(&dense.bias, dense.out_features)?;
            Ok(Shape::new(1, 1, dense.out_features))
        }
        Op::Flatten => Ok(Shape::new(1, 1, shapes[0].len())),
        Op::Concat => {
            let first = shapes[0];
            if let Some(bad) = shapes.iter().find(|s| s.h != first.h || s.w != first.w) {
                return Err(format!(
                    "Concat of different spatial sizes {first} and {bad}"
                ));
            }
            let c = shapes
                .iter()
                .try_fold(0usize, |sum, s| sum.checked_add(s.c))
                .ok_or("Concat has too many channels")?;
            Ok(Shape::new(first.h, first.w, c))
        }
    }
}

fn conv_shape(conv: &Conv2d, x: Shape) -> Result<Shape, String> {
    let groups = conv.groups;
    if groups == 0 || !x.c.is_multiple_of(groups) || !conv.out_channels.is_multiple_of(groups) {
        return Err(format!(
            "groups={groups} must divide input channels {} and output channels {}",
            x.c, conv.out_channels
        ));
    }
    let expected = [conv.kernel_h, conv.kernel_w, x.c / groups]
        .iter()
        .try_fold(conv.out_channels, |n, &d| n.checked_mul(d));
    if expected != Some(conv.weights.len()) || conv.weights.is_empty() {
        return Err(format!(
            "weights have {} values, expected {}x{}x{}x{} = {}",
            conv.weights.len(),
            conv.out_channels,
            conv.kernel_h,
            conv.kernel_w,
            x.c / groups,
            expected.map_or("too many".into(), |n| n.to_string())
        ));
    }
    check_bias(&conv.bias, conv.out_channels)?;
    let (h, w) = window_out(x, conv.kernel_h, conv.kernel_w, conv.stride, conv.padding)?;
    Ok(Shape::new(h, w, conv.out_channels))
}

fn check_bias(bias: &Option<Vec<f32>>, n: usize) -> Result<(), String> {
    match bias {
        Some(b) if b.len() != n => Err(format!("bias has {} values, expected {n}", b.len())),
        _ => Ok(()),
    }
}

/// The largest window side (convolution or pooling) a graph may have: MobileNets use at
/// most 7 (a 224 input's final pool), and a side bounds the padding, hence the loops over
/// padded windows.
const MAX_WINDOW: usize = 4096;

/// Output size of a sliding window; rejects windows larger than the padded input.
fn window_out(
    x: Shape,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: Padding,
) -> Result<(usize, usize), String> {
    if stride == 0 || kh == 0 || kw == 0 {
        return Err("kernel size and stride must be at least 1".into());
    }
    if kh.max(kw) > MAX_WINDOW {
        return Err(format!(
            "a {kh}x{kw} window is larger than the {MAX_WINDOW} per side this runtime takes"
        ));
    }
    let padded = |side: usize, a: usize, b: usize| side.checked_add(a)?.checked_add(b);
    let (Some(padded_h), Some(padded_w)) = (
        padded(x.h, pad.top, pad.bottom),
        padded(x.w, pad.left, pad.right),
    ) else {
        return Err(format!("padding {pad:?} is too large"));
    };
    if padded_h < kh || padded_w < kw {
        return Err(format!(
            "{kh}x{kw} window does not fit the padded {padded_h}x{padded_w} input"
        ));
    }
    if pad.top >= kh || pad.bottom >= kh || pad.left >= kw || pad.right >= kw {
        return Err(format!(
            "padding {pad:?} is not smaller than the {kh}x{kw} window"
        ));
    }
    Ok(((padded_h - kh) / stride + 1, (padded_w - kw) / stride + 1))
}
