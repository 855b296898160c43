//! The uniform of the integer convolution kernels (`Params` in
//! `shaders/int/conv_store.wgsl`, composed before each of them) and their channel records.

use bytemuck::{Pod, Zeroable};

use super::super::{to_u32, StepIo};
use super::{signed, HardSwishUniform};
use crate::error::Result;
use crate::graph::IntWeights;
use crate::plan::IntKernel;
use crate::quant::lower::ConvGeometry;
use crate::quant::params::Requant;

/// WGSL `Params` of shaders/int/conv_store.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct ConvParams {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    out_c: u32,
    kernel_h: u32,
    kernel_w: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    in_per_group: u32,
    out_per_group: u32,
    total: u32,
    /// Words of packed weights, before the channel records.
    channels: u32,
    input_zp: i32,
    output_zp: i32,
    clamp_lo: i32,
    clamp_hi: i32,
    signed: u32,
    has_residual: u32,
    conv_first: u32,
    add_zp_a: i32,
    add_zp_b: i32,
    add_m_a: i32,
    add_s_a: i32,
    add_m_b: i32,
    add_s_b: i32,
    add_m_out: i32,
    add_s_out: i32,
    add_out_zp: i32,
    add_lo: i32,
    add_hi: i32,
    has_hard_swish: u32,
    hs_lo: i32,
    hs_hi: i32,
    pad: [u32; 3],
    hard_swish: HardSwishUniform,
}

#[cfg(test)]
super::super::layout::layout!(ConvParams {
    batch,
    in_h,
    in_w,
    in_c,
    out_h,
    out_w,
    out_c,
    kernel_h,
    kernel_w,
    stride,
    pad_top,
    pad_left,
    in_per_group,
    out_per_group,
    total,
    channels,
    input_zp,
    output_zp,
    clamp_lo,
    clamp_hi,
    signed,
    has_residual,
    conv_first,
    add_zp_a,
    add_zp_b,
    add_m_a,
    add_s_a,
    add_m_b,
    add_s_b,
    add_m_out,
    add_s_out,
    add_out_zp,
    add_lo,
    add_hi,
    has_hard_swish,
    hs_lo,
    hs_hi,
    pad,
    hard_swish,
});

impl ConvParams {
    /// The uniform's bytes, its packed weights taking `channels` words.
    pub(super) fn bytes(self, channels: u32) -> Vec<u8> {
        bytemuck::bytes_of(&ConvParams { channels, ..self }).to_vec()
    }
}

/// The uniform of every integer convolution but `channels`, which depends on the packing.
pub(super) fn conv_params(
    io: &StepIo,
    kernel: &IntKernel,
    conv: &ConvGeometry,
    requant: &Requant,
    in_per_group: usize,
) -> Result<ConvParams> {
    let (i, o) = (io.input, io.output);
    let u = |v: usize, what: &str| to_u32(v, what);
    let params = ConvParams {
        batch: u(io.batch, "batch")?,
        in_h: u(i.h, "input height")?,
        in_w: u(i.w, "input width")?,
        in_c: u(i.c, "input channels")?,
        out_h: u(o.h, "output height")?,
        out_w: u(o.w, "output width")?,
        out_c: u(o.c, "output channels")?,
        kernel_h: u(conv.kernel_h, "kernel height")?,
        kernel_w: u(conv.kernel_w, "kernel width")?,
        stride: u(conv.stride, "stride")?,
        pad_top: u(conv.padding.top, "padding")?,
        pad_left: u(conv.padding.left, "padding")?,
        in_per_group: u(in_per_group, "input channels per group")?,
        out_per_group: u(conv.out_channels / conv.groups, "output channels per group")?,
        total: u(io.output_len(), "output size")?,
        input_zp: requant.input_zero_point,
        output_zp: requant.output.zero_point,
        clamp_lo: kernel.clamp.0,
        clamp_hi: kernel.clamp.1,
        signed: signed(kernel.output),
        // No fused HARD_SWISH or residual ADD unless set below.
        ..ConvParams::zeroed()
    };
    let params = match &kernel.hard_swish {
        Some(fused) => ConvParams {
            has_hard_swish: 1,
            hs_lo: fused.clamp.0,
            hs_hi: fused.clamp.1,
            hard_swish: (&fused.hard_swish).into(),
            ..params
        },
        None => params,
    };
    Ok(match &kernel.residual {
        Some(r) => {
            let a = &r.add;
            ConvParams {
                has_residual: 1,
                conv_first: u32::from(r.conv_first),
                add_zp_a: a.zero_points[0],
                add_zp_b: a.zero_points[1],
                add_m_a: a.multipliers[0].multiplier,
                add_s_a: a.multipliers[0].shift,
                add_m_b: a.multipliers[1].multiplier,
                add_s_b: a.multipliers[1].shift,
                add_m_out: a.output_multiplier.multiplier,
                add_s_out: a.output_multiplier.shift,
                add_out_zp: a.output.zero_point,
                add_lo: r.clamp.0,
                add_hi: r.clamp.1,
                ..params
            }
        }
        None => params,
    })
}

/// Per output channel: bias, the bias with the dot path's zero-point terms folded in
/// (`N·xz·wz − xz·Σw`), multiplier, shift and weight zero point.
pub(super) fn channel_records(out_channels: usize, w: &IntWeights, requant: &Requant) -> Vec<u32> {
    let taps = w.values.len() / out_channels;
    let xz = requant.input_zero_point;
    (0..out_channels)
        .flat_map(|o| {
            let bias = w.bias(o);
            let wz = requant.weight_zero_points[o];
            let sum_w = w.values[o * taps..(o + 1) * taps]
                .iter()
                .fold(0i32, |s, &v| s.wrapping_add(v));
            let folded = bias
                .wrapping_add((taps as i32).wrapping_mul(xz).wrapping_mul(wz))
                .wrapping_sub(xz.wrapping_mul(sum_w));
            let m = requant.multipliers[o];
            [bias, folded, m.multiplier, m.shift, wz].map(|v| v as u32)
        })
        .collect()
}
