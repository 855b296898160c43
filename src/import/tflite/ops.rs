//! Operator dispatch, and the mapping of the weighted and windowed operators: convolutions,
//! depthwise convolutions, fully connected layers and average pooling.

use super::schema::{
    ActivationFunctionType, BuiltinOperator, ConvOptions, Options, Padding as PaddingMode,
    WeightsFormat,
};
use super::walk::{Call, Value, Walker};
use crate::error::{Error, Result};
use crate::graph::{Activation, AvgPool, Conv2d, Dense, IntForm, Op, Padding};

/// Stride, dilation and padding mode of a windowed op, as the file states them.
struct WindowOptions {
    stride: (i32, i32),
    dilation: (i32, i32),
    padding: PaddingMode,
}

impl WindowOptions {
    fn of(conv: &ConvOptions) -> Self {
        WindowOptions {
            stride: (conv.stride_h, conv.stride_w),
            dilation: (conv.dilation_h, conv.dilation_w),
            padding: conv.padding,
        }
    }
}

impl Walker<'_, '_> {
    /// Maps one operator onto IR nodes.
    pub fn operator(&mut self, call: &Call) -> Result<()> {
        use ActivationFunctionType as F;
        use BuiltinOperator as B;
        match call.code {
            B::CONV_2D => self.conv2d(call),
            B::DEPTHWISE_CONV_2D => self.depthwise(call),
            B::FULLY_CONNECTED => self.fully_connected(call),
            B::AVERAGE_POOL_2D => self.average_pool(call),
            B::MEAN => self.mean(call),
            B::ADD => self.add(call),
            B::MUL => self.mul(call),
            B::CONCATENATION => self.concat(call),
            B::SOFTMAX => self.softmax(call),
            B::HARD_SWISH => self.activation(call, Activation::HardSwish),
            B::LOGISTIC => self.activation(call, Activation::Sigmoid),
            B::RELU => self.relu(call, F::RELU),
            B::RELU6 => self.relu(call, F::RELU6),
            B::RELU_N1_TO_1 => self.relu(call, F::RELU_N1_TO_1),
            B::PAD => self.pad(call),
            B::RESHAPE | B::SQUEEZE => self.reshape(call),
            B::QUANTIZE => self.quantize(call),
            B::DEQUANTIZE => self.dequantize(call),
            _ => Err(Error::UnsupportedOp {
                path: self.path.to_path_buf(),
                op: call.op_name.clone(),
                index: call.index,
            }),
        }
    }

    fn conv2d(&mut self, call: &Call) -> Result<()> {
        let Options::Conv2D(opts) = &call.op.options else {
            return Err(self.op_fail(call, "Conv2DOptions are missing"));
        };
        let window = WindowOptions::of(opts);
        let x = self.padded_value(call, self.arg(call, 0)?)?;
        let filter = self.arg(call, 1)?;
        let [out_channels, kernel_h, kernel_w, per_group] = self.filter_shape(call, filter)?;
        let in_channels = self.shape(x.id).c;
        if per_group == 0 || !in_channels.is_multiple_of(per_group) {
            return Err(self.op_fail(
                call,
                format!("filter depth {per_group} does not divide {in_channels} input channels"),
            ));
        }
        let (stride, padding) = self.stride_and_padding(call, x, kernel_h, kernel_w, &window)?;
        let conv = Conv2d {
            out_channels,
            kernel_h,
            kernel_w,
            stride,
            padding,
            groups: in_channels / per_group,
            weights: self.constant(call, filter)?,
            bias: self.bias(call, out_channels)?,
        };
        let integer = self.int_weights(call, 0, out_channels, <[i32]>::to_vec)?;
        let id = self.emit(call, Op::Conv2d(conv), &[x.id])?;
        self.attach(id, integer)?;
        self.finish(call, id, opts.fused, None)
    }

    /// TFLite depthwise filters are `[1, kh, kw, cin·m]` with output channel `c·m + j` reading
    /// input channel `c`: transposed to OHWI `[cin·m][kh][kw][1]` with one group per channel.
    fn depthwise(&mut self, call: &Call) -> Result<()> {
        let Options::DepthwiseConv2D(opts) = &call.op.options else {
            return Err(self.op_fail(call, "DepthwiseConv2DOptions are missing"));
        };
        let window = WindowOptions::of(opts);
        let x = self.padded_value(call, self.arg(call, 0)?)?;
        let filter = self.arg(call, 1)?;
        let [one, kernel_h, kernel_w, out_channels] = self.filter_shape(call, filter)?;
        let in_channels = self.shape(x.id).c;
        if one != 1 || !out_channels.is_multiple_of(in_channels) {
            return Err(self.op_fail(
                call,
                format!(
                    "filter shape {:?} does not fit {in_channels} input channels",
                    self.info(filter).shape
                ),
            ));
        }
        let taps = kernel_h * kernel_w;
        let weights = hwo_to_ohwi(&self.constant(call, filter)?, taps, out_channels);
        let integer = self.int_weights(call, 3, out_channels, |hwo| {
            hwo_to_ohwi(hwo, taps, out_channels)
        })?;
        let (stride, padding) = self.stride_and_padding(call, x, kernel_h, kernel_w, &window)?;
        let conv = Conv2d {
            out_channels,
            kernel_h,
            kernel_w,
            stride,
            padding,
            groups: in_channels,
            weights,
            bias: self.bias(call, out_channels)?,
        };
        let id = self.emit(call, Op::Conv2d(conv), &[x.id])?;
        self.attach(id, integer)?;
        self.finish(call, id, opts.fused, None)
    }

    /// Weights `[out][in]`; an input that is not already 1×1×C is flattened first (NHWC
    /// order, as TFLite reads it).
    fn fully_connected(&mut self, call: &Call) -> Result<()> {
        let fused = match &call.op.options {
            Options::FullyConnected(o) if o.weights_format != WeightsFormat::DEFAULT => {
                let format = o.weights_format.name().unwrap_or("unknown");
                return Err(self.op_fail(
                    call,
                    format!("weight format {format} is not supported (only DEFAULT)"),
                ));
            }
            Options::FullyConnected(o) => o.fused,
            _ => ActivationFunctionType::NONE,
        };
        let x = self.value(call, self.arg(call, 0)?)?;
        let filter = self.arg(call, 1)?;
        let (out_features, in_features) = match self.info(filter).shape[..] {
            [o, i] => (o, i),
            ref other => {
                return Err(self.op_fail(
                    call,
                    format!("weights have shape {other:?}, expected [out, in]"),
                ))
            }
        };
        let shape = self.shape(x.id);
        if shape.len() != in_features {
            return Err(self.op_fail(
                call,
                format!("input {shape} does not hold one row of {in_features} features (batched rows are not supported)"),
            ));
        }
        let mut input = x.id;
        if shape.h * shape.w != 1 {
            let name = format!("{}/flatten", self.info(call.output).name);
            input = self
                .graph
                .add(name, Op::Flatten, &[input])
                .map_err(|e| self.op_fail(call, e))?;
            if let Some(integer) = self.graph.node(x.id).integer.clone() {
                self.graph.set_integer(input, integer)?;
            }
        }
        let dense = Dense {
            out_features,
            weights: self.constant(call, filter)?,
            bias: self.bias(call, out_features)?,
        };
        let integer = self.int_weights(call, 0, out_features, <[i32]>::to_vec)?;
        let id = self.emit(call, Op::Dense(dense), &[input])?;
        self.attach(id, integer)?;
        self.finish(call, id, fused, None)
    }

    /// Average pooling; a window covering the whole unpadded input becomes a global pool.
    fn average_pool(&mut self, call: &Call) -> Result<()> {
        let Options::Pool2D(opts) = &call.op.options else {
            return Err(self.op_fail(call, "Pool2DOptions are missing"));
        };
        let x = self.padded_value(call, self.arg(call, 0)?)?;
        if x.pad != Padding::default() {
            return Err(self.op_fail(
                call,
                "a PAD before AVERAGE_POOL_2D cannot be folded: TFLite would average the padded zeros",
            ));
        }
        let (filter_h, filter_w) = (opts.filter_height, opts.filter_width);
        let kernel = usize::try_from(filter_h)
            .ok()
            .filter(|_| filter_h == filter_w)
            .ok_or_else(|| {
                self.op_fail(
                    call,
                    format!(
                        "a {filter_h}x{filter_w} window is not supported (square windows only)"
                    ),
                )
            })?;
        let window = WindowOptions {
            stride: (opts.stride_h, opts.stride_w),
            dilation: (1, 1),
            padding: opts.padding,
        };
        let (stride, padding) = self.stride_and_padding(call, x, kernel, kernel, &window)?;
        let pool = AvgPool {
            kernel,
            stride,
            padding,
        };
        let id = self.emit(call, pool.op_for(self.shape(x.id)), &[x.id])?;
        // A mean stays within its inputs' range, so an equal output range needs no clamp.
        self.finish(call, id, opts.fused, x.range)
    }

    /// MEAN over the two spatial axes (keep_dims or not) is a global average pool.
    fn mean(&mut self, call: &Call) -> Result<()> {
        let x = self.value(call, self.arg(call, 0)?)?;
        let axes_tensor = self.arg(call, 1)?;
        let mut axes = super::tensors::int_values(self.info(axes_tensor))
            .map_err(|e| self.op_fail(call, e))?;
        let rank = self.info(self.arg(call, 0)?).shape.len() as i64;
        axes.iter_mut()
            .for_each(|a| *a = if *a < 0 { *a + rank } else { *a });
        axes.sort_unstable();
        if rank != 4 || axes != [1, 2] {
            return Err(self.op_fail(
                call,
                format!(
                    "only the mean over H and W of an NHWC tensor is supported, got axes {axes:?}"
                ),
            ));
        }
        let id = self.emit(call, Op::GlobalAvgPool, &[x.id])?;
        self.attach(id, Some(IntForm::Mean))?;
        self.finish(call, id, ActivationFunctionType::NONE, x.range)
    }

    /// The shape of a rank-4 filter tensor.
    fn filter_shape(&self, call: &Call, filter: usize) -> Result<[usize; 4]> {
        match self.info(filter).shape[..] {
            [a, b, c, d] => Ok([a, b, c, d]),
            ref other => {
                Err(self.op_fail(call, format!("filter has shape {other:?}, expected rank 4")))
            }
        }
    }

    /// The optional bias (input #2), which must have one value per output channel.
    fn bias(&self, call: &Call, channels: usize) -> Result<Option<Vec<f32>>> {
        let Some(tensor) = self.optional_arg(call, 2) else {
            return Ok(None);
        };
        let bias = self.constant(call, tensor)?;
        if bias.len() != channels {
            return Err(self.op_fail(
                call,
                format!("bias has {} values for {channels} channels", bias.len()),
            ));
        }
        Ok(Some(bias))
    }

    /// The IR stride and explicit padding: a pending PAD plus TFLite's SAME padding computed
    /// on the padded size (VALID adds nothing).
    fn stride_and_padding(
        &self,
        call: &Call,
        x: Value,
        kernel_h: usize,
        kernel_w: usize,
        window: &WindowOptions,
    ) -> Result<(usize, Padding)> {
        if window.dilation != (1, 1) {
            return Err(self.op_fail(
                call,
                format!("dilation {:?} is not supported", window.dilation),
            ));
        }
        let (sh, sw) = window.stride;
        let stride = usize::try_from(sh)
            .ok()
            .filter(|&s| s > 0 && sh == sw)
            .ok_or_else(|| {
                self.op_fail(
                    call,
                    format!("stride {sh}x{sw} is not supported (equal positive strides only)"),
                )
            })?;
        let shape = self.shape(x.id);
        let pad = x.pad;
        let (h, w) = (
            shape.h + pad.top + pad.bottom,
            shape.w + pad.left + pad.right,
        );
        let same = match window.padding {
            PaddingMode::SAME => {
                let vertical = Padding::same(h, h, kernel_h, stride);
                let horizontal = Padding::same(w, w, kernel_w, stride);
                Padding {
                    top: vertical.top,
                    bottom: vertical.bottom,
                    left: horizontal.left,
                    right: horizontal.right,
                }
            }
            PaddingMode::VALID => Padding::default(),
            other => return Err(self.op_fail(call, format!("unknown padding mode {}", other.0))),
        };
        let total = Padding {
            top: pad.top + same.top,
            bottom: pad.bottom + same.bottom,
            left: pad.left + same.left,
            right: pad.right + same.right,
        };
        Ok((stride, total))
    }
}

/// TFLite's depthwise layout `[1, kh, kw, out]` (output channel fastest) as the IR's OHWI
/// `[out][kh][kw][1]`.
fn hwo_to_ohwi<T: Copy>(hwo: &[T], taps: usize, out_channels: usize) -> Vec<T> {
    (0..out_channels)
        .flat_map(|o| (0..taps).map(move |t| t * out_channels + o))
        .map(|i| hwo[i])
        .collect()
}
