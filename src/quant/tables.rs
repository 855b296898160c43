//! The ops TFLite's reference kernels compute through a float formula per input value
//! (LOGISTIC, CONCATENATION onto another grid): a table over the input type's values,
//! computed here in f32 exactly as TFLite computes it, so the integer kernels look values up.

use crate::graph::{IntType, TensorQuant};

/// LOGISTIC: TFLite's reference kernel looks each code up in a table computed in f32.
pub fn logistic_table(input: TensorQuant, output: TensorQuant) -> Vec<i32> {
    let (lo, hi) = input.dtype.range();
    let (out_lo, out_hi) = output.dtype.range();
    (lo..=hi)
        .map(|q| {
            let real = input.scale * (q - input.zero_point) as f32;
            let sigmoid = 1.0 / (1.0 + (-real).exp());
            let rescaled = (sigmoid * (1.0 / output.scale)).round();
            ((rescaled + output.zero_point as f32) as i32).clamp(out_lo, out_hi)
        })
        .collect()
}

/// CONCATENATION's mapping of one input's values onto the output grid, as a table from the
/// type's minimum up: the values as they are on an equal grid; else, for uint8, TFLite's
/// `ConcatenationWithScaling` in f32 (`round(q·s + b)`, with `s = in/out`, `b = −zp·s`).
/// TFLite refuses int8 inputs on another grid.
pub fn concat_table(input: TensorQuant, output: TensorQuant) -> Result<Vec<i32>, String> {
    let (lo, hi) = input.dtype.range();
    if input == output {
        return Ok((lo..=hi).collect());
    }
    if input.dtype != IntType::U8 || output.dtype != IntType::U8 {
        return Err("int8 inputs on another grid than the output, which TFLite refuses".into());
    }
    let scale = input.scale * (1.0 / output.scale);
    let bias = -(input.zero_point as f32) * scale;
    Ok((lo..=hi)
        .map(|q| {
            let v = (q as f32 * scale + bias).round();
            output
                .dtype
                .saturate((v as i32).wrapping_add(output.zero_point))
        })
        .collect())
}
