//! Mapping of element-wise, activation and layout operators: ADD, MUL, CONCATENATION,
//! SOFTMAX, activations, PAD, RESHAPE/SQUEEZE and the (de)quantization markers.

use super::schema::{ActivationFunctionType, Options};
use super::tensors;
use super::walk::{Call, Value, Walker};
use crate::error::Result;
use crate::graph::{Activation, Conv2d, IntForm, Integer, Op, Padding, Shape};

impl Walker<'_, '_> {
    /// Sum of two activations of the same shape, or an activation plus a constant.
    pub(super) fn add(&mut self, call: &Call) -> Result<()> {
        let fused = match call.op.options {
            Options::Add { fused } => fused,
            _ => ActivationFunctionType::NONE,
        };
        let (a, b) = (self.arg(call, 0)?, self.arg(call, 1)?);
        let id = match (self.is_constant(a), self.is_constant(b)) {
            (false, false) => {
                let (a, b) = (self.value(call, a)?, self.value(call, b)?);
                self.emit(call, Op::Add, &[a.id, b.id])?
            }
            (false, true) => self.affine(call, a, None, Some(b))?,
            (true, false) => self.affine(call, b, None, Some(a))?,
            (true, true) => return Err(self.op_fail(call, "both operands are constants")),
        };
        self.finish(call, id, fused, None)
    }

    /// Channel scaling by a 1×1×C activation (squeeze-excite), or by a constant.
    pub(super) fn mul(&mut self, call: &Call) -> Result<()> {
        let fused = match call.op.options {
            Options::Mul { fused } => fused,
            _ => ActivationFunctionType::NONE,
        };
        let (a, b) = (self.arg(call, 0)?, self.arg(call, 1)?);
        let id = match (self.is_constant(a), self.is_constant(b)) {
            (false, false) => {
                let (a, b) = (self.value(call, a)?, self.value(call, b)?);
                let (sa, sb) = (self.shape(a.id), self.shape(b.id));
                let is_scale = |s: Shape, of: Shape| s == Shape::new(1, 1, of.c);
                let (x, scale) = match (is_scale(sb, sa), is_scale(sa, sb)) {
                    (true, _) => (a.id, b.id),
                    (_, true) => (b.id, a.id),
                    _ => {
                        return Err(self.op_fail(
                            call,
                            format!("element-wise product of {sa} and {sb} tensors is not supported; only scaling by a 1x1xC tensor is"),
                        ))
                    }
                };
                self.emit(call, Op::MulChannel, &[x, scale])?
            }
            (false, true) => self.affine(call, a, Some(b), None)?,
            (true, false) => self.affine(call, b, Some(a), None)?,
            (true, true) => return Err(self.op_fail(call, "both operands are constants")),
        };
        self.finish(call, id, fused, None)
    }

    /// `x * scale + shift` with per-channel (or scalar) constants, as a 1×1 depthwise
    /// convolution: the IR has no constant operand, and this keeps the op exact.
    fn affine(
        &mut self,
        call: &Call,
        x: usize,
        scale: Option<usize>,
        shift: Option<usize>,
    ) -> Result<crate::graph::TensorId> {
        let x = self.value(call, x)?;
        let channels = self.shape(x.id).c;
        let weights = match scale {
            Some(t) => self.per_channel(call, t, channels)?,
            None => vec![1.0; channels],
        };
        let bias = shift
            .map(|t| self.per_channel(call, t, channels))
            .transpose()?;
        let integer = match (scale, shift) {
            (Some(t), None) => self
                .int_constant(call, t, channels)?
                .map(IntForm::MulConstant),
            (None, Some(t)) => self
                .int_constant(call, t, channels)?
                .map(IntForm::AddConstant),
            _ => None,
        };
        let conv = Conv2d {
            out_channels: channels,
            kernel_h: 1,
            kernel_w: 1,
            stride: 1,
            padding: Padding::default(),
            groups: channels,
            weights,
            bias,
        };
        let id = self.emit(call, Op::Conv2d(conv), &[x.id])?;
        self.attach(id, integer)?;
        Ok(id)
    }

    /// A constant broadcast over channels: a scalar, or C values along the last axis only.
    fn per_channel(&self, call: &Call, tensor: usize, channels: usize) -> Result<Vec<f32>> {
        let values = self.constant(call, tensor)?;
        let shape = &self.info(tensor).shape;
        let leading_ones = shape.iter().rev().skip(1).all(|&d| d == 1);
        match values.len() {
            1 => Ok(vec![values[0]; channels]),
            n if n == channels && leading_ones => Ok(values),
            _ => Err(self.op_fail(
                call,
                format!("constant of shape {shape:?} does not broadcast over {channels} channels"),
            )),
        }
    }

    pub(super) fn concat(&mut self, call: &Call) -> Result<()> {
        let Options::Concatenation {
            axis: stated,
            fused,
        } = call.op.options
        else {
            return Err(self.op_fail(call, "ConcatenationOptions are missing"));
        };
        let rank = self.info(call.output).shape.len() as i32;
        let axis = if stated < 0 { stated + rank } else { stated };
        if axis != rank - 1 {
            return Err(self.op_fail(
                call,
                format!(
                    "concatenation along axis {stated} of {rank} (only channels are supported)"
                ),
            ));
        }
        let inputs = (0..call.op.inputs.len())
            .map(|k| self.value(call, self.arg(call, k)?))
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<_> = inputs.iter().map(|v| v.id).collect();
        // The concatenation holds exactly its inputs' values: their ranges' union bounds it.
        let known = inputs
            .iter()
            .map(|v| v.range)
            .reduce(|a, b| Some(union(a?, b?)))
            .flatten();
        let id = self.emit(call, Op::Concat, &ids)?;
        self.finish(call, id, fused, known)
    }

    pub(super) fn softmax(&mut self, call: &Call) -> Result<()> {
        let beta = match call.op.options {
            Options::Softmax { beta } => beta,
            _ => 1.0,
        };
        if (beta - 1.0).abs() > 1e-6 {
            return Err(self.op_fail(
                call,
                format!("softmax with beta {beta} is not supported (only beta = 1)"),
            ));
        }
        let x = self.value(call, self.arg(call, 0)?)?;
        let id = self.emit(call, Op::Softmax, &[x.id])?;
        self.finish(call, id, ActivationFunctionType::NONE, None)
    }

    /// A standalone activation function, followed by its output range clamp.
    pub(super) fn activation(&mut self, call: &Call, activation: Activation) -> Result<()> {
        let x = self.value(call, self.arg(call, 0)?)?;
        let id = self.emit(call, Op::Activation(activation), &[x.id])?;
        self.finish(call, id, ActivationFunctionType::NONE, None)
    }

    /// A standalone ReLU-family op: the same clamp a fused activation would give.
    pub(super) fn relu(&mut self, call: &Call, kind: ActivationFunctionType) -> Result<()> {
        let x = self.value(call, self.arg(call, 0)?)?;
        self.finish(call, x.id, kind, x.range)
    }

    /// PAD is remembered on the value and folded into the convolution that reads it.
    pub(super) fn pad(&mut self, call: &Call) -> Result<()> {
        let x = self.padded_value(call, self.arg(call, 0)?)?;
        let paddings = tensors::int_values(self.info(self.arg(call, 1)?))
            .map_err(|e| self.op_fail(call, e))?;
        if paddings.len() != 8 || paddings[..2] != [0, 0] || paddings[6..] != [0, 0] {
            return Err(self.op_fail(
                call,
                format!(
                    "paddings {paddings:?}: only spatial padding of an NHWC tensor is supported"
                ),
            ));
        }
        // Checked sums: the paddings come straight from the file.
        let grow = |base: usize, i: usize| {
            usize::try_from(paddings[i])
                .ok()
                .and_then(|extra| base.checked_add(extra))
                .ok_or_else(|| self.op_fail(call, format!("invalid padding {}", paddings[i])))
        };
        let pad = Padding {
            top: grow(x.pad.top, 2)?,
            bottom: grow(x.pad.bottom, 3)?,
            left: grow(x.pad.left, 4)?,
            right: grow(x.pad.right, 5)?,
        };
        let shape = self.shape(x.id);
        let extent =
            |size: usize, before: usize, after: usize| size.checked_add(before)?.checked_add(after);
        let (Some(h), Some(w)) = (
            extent(shape.h, pad.top, pad.bottom),
            extent(shape.w, pad.left, pad.right),
        ) else {
            return Err(self.op_fail(call, "padding too large"));
        };
        self.check_shape(call, Shape::new(h, w, shape.c))?;
        let range = x.range.map(|(lo, hi)| (lo.min(0.0), hi.max(0.0)));
        self.values[call.output] = Some(Value {
            id: x.id,
            range,
            pad,
        });
        Ok(())
    }

    /// RESHAPE/SQUEEZE that keep the NHWC memory order: identity or flatten.
    pub(super) fn reshape(&mut self, call: &Call) -> Result<()> {
        let x = self.value(call, self.arg(call, 0)?)?;
        let from = self.shape(x.id);
        let to =
            tensors::activation_shape(self.info(call.output)).map_err(|e| self.op_fail(call, e))?;
        let id = if to == from {
            x.id
        } else if to == Shape::new(1, 1, from.len()) {
            self.emit(call, Op::Flatten, &[x.id])?
        } else {
            return Err(self.op_fail(
                call,
                format!("reshaping {from} to {to} is not supported (only flattening)"),
            ));
        };
        self.finish(call, id, ActivationFunctionType::NONE, x.range)
    }

    /// Identity on real values; the new type's range still applies.
    /// A float model input's QUANTIZE is where integer execution starts: the input is
    /// stored on its grid, which the host quantizes to exactly as TFLite's QUANTIZE does.
    pub(super) fn quantize(&mut self, call: &Call) -> Result<()> {
        let x = self.value(call, self.arg(call, 0)?)?;
        let input = self.graph.input();
        if x.id == input && self.graph.node(input).integer.is_none() {
            let grid = tensors::grid(self.info(call.output)).map_err(|e| self.op_fail(call, e))?;
            if let Some(output) = grid {
                let integer = Integer { output, form: None };
                self.graph.set_integer(input, integer)?;
            }
        }
        self.finish(call, x.id, ActivationFunctionType::NONE, x.range)
    }

    /// Identity on activations; on a constant (float16 or int8 weights) it is computed now.
    pub(super) fn dequantize(&mut self, call: &Call) -> Result<()> {
        let input = self.arg(call, 0)?;
        if self.is_constant(input) {
            let values = self.constant(call, input)?;
            self.folded.insert(call.output, values);
            return Ok(());
        }
        self.quantize(call)
    }
}

fn union(a: tensors::Range, b: tensors::Range) -> tensors::Range {
    (a.0.min(b.0), a.1.max(b.1))
}
