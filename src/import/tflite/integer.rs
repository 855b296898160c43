//! The integer operands of quantized files: a weighted op's 8-bit filter and int32 bias, and
//! the 8-bit constant of an element-wise op, kept as stored for integer execution. Where a
//! file stores them otherwise (float, float16, hybrid), the op simply has no integer form.

use super::schema::TensorType;
use super::tensors;
use super::tensors::{element_count, TensorInfo};
use super::walk::{Call, Walker};
use crate::error::Result;
use crate::graph::{IntConstant, IntForm, IntType, IntWeights};

impl Walker<'_, '_> {
    /// The filter (input #1) and bias (input #2) as integers. `axis` is the filter's
    /// output-channel axis, which per-channel scales must follow; `to_ir_layout` reorders the
    /// values as the float weights were.
    pub(super) fn int_weights(
        &self,
        call: &Call,
        axis: usize,
        out_channels: usize,
        to_ir_layout: impl Fn(&[i32]) -> Vec<i32>,
    ) -> Result<Option<IntForm>> {
        let fail = |e| self.op_fail(call, e);
        let filter = self.info(self.arg(call, 1)?);
        let (Some((values, dtype)), Some(quant)) =
            (int8_values(filter).map_err(fail)?, &filter.quant)
        else {
            return Ok(None);
        };
        let channels = quant.scale.len();
        if channels != 1 && (channels != out_channels || quant.dim != axis) {
            return Err(self.op_fail(
                call,
                format!(
                    "filter has {channels} scales along dimension {}; expected one, or {out_channels} along dimension {axis}",
                    quant.dim
                ),
            ));
        }
        let zero_points = quant
            .zero_point
            .iter()
            .map(|&zp| i32::try_from(zp).ok().filter(|&z| dtype.saturate(z) == z))
            .collect::<Option<Vec<i32>>>()
            .ok_or_else(|| self.op_fail(call, "filter zero point out of range"))?;
        let bias = match self.optional_arg(call, 2) {
            None => None,
            Some(t) => match self.int32_bias(call, t, out_channels)? {
                Some(bias) => Some(bias),
                None => return Ok(None),
            },
        };
        Ok(Some(IntForm::Weights(IntWeights {
            values: to_ir_layout(&values),
            dtype,
            scales: quant.scale.clone(),
            zero_points,
            bias,
        })))
    }

    /// An int32 bias of one value per channel, `None` when it is stored as another type.
    fn int32_bias(&self, call: &Call, tensor: usize, channels: usize) -> Result<Option<Vec<i32>>> {
        let info = self.info(tensor);
        if info.dtype != TensorType::INT32 {
            return Ok(None);
        }
        let values = tensors::int_values(info).map_err(|e| self.op_fail(call, e))?;
        if values.len() != channels {
            return Err(self.op_fail(
                call,
                format!("bias has {} values for {channels} channels", values.len()),
            ));
        }
        // int_values widened int32s, so they narrow back losslessly.
        Ok(Some(values.into_iter().map(|v| v as i32).collect()))
    }

    /// An 8-bit constant operand broadcast over `channels` (a scalar or one per channel),
    /// `None` when the constant is not stored as 8-bit integers.
    pub(super) fn int_constant(
        &self,
        call: &Call,
        tensor: usize,
        channels: usize,
    ) -> Result<Option<IntConstant>> {
        if self.folded.contains_key(&tensor) {
            return Ok(None);
        }
        let fail = |e| self.op_fail(call, e);
        let info = self.info(tensor);
        let (Some((values, _)), Some(quant)) = (
            int8_values(info).map_err(fail)?,
            tensors::grid(info).map_err(fail)?,
        ) else {
            return Ok(None);
        };
        if values.len() != 1 && values.len() != channels {
            return Err(self.op_fail(
                call,
                format!(
                    "constant of {} values does not broadcast over {channels} channels",
                    values.len()
                ),
            ));
        }
        Ok(Some(IntConstant { values, quant }))
    }
}

pub(super) fn int_type(dtype: TensorType) -> Option<IntType> {
    match dtype {
        TensorType::UINT8 => Some(IntType::U8),
        TensorType::INT8 => Some(IntType::I8),
        _ => None,
    }
}

/// The stored values of an 8-bit constant with its type, `None` for other types.
pub(super) fn int8_values(info: &TensorInfo) -> Result<Option<(Vec<i32>, IntType)>, String> {
    let Some(dtype) = int_type(info.dtype) else {
        return Ok(None);
    };
    let name = &info.name;
    let data = info
        .data
        .ok_or_else(|| format!("tensor `{name}` should be a constant but has no data"))?;
    let count = element_count(&info.shape)?;
    if data.len() < count {
        return Err(format!(
            "buffer of `{name}` has {} bytes, expected {count}",
            data.len()
        ));
    }
    let values = data[..count].iter().map(|&b| dtype.decode(b)).collect();
    Ok(Some((values, dtype)))
}
