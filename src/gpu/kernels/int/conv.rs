//! Integer convolution (`shaders/int/conv.wgsl` after `conv_store.wgsl`): weights packed
//! four to a word in the IR's OHWI order (tap-major for the depthwise quad path, four
//! channels' values interleaved for the word-of-outputs path), then five words per output
//! channel (bias, bias with the dot path's zero-point terms, multiplier, shift, weight zero
//! point). The launch also routes the `cpu-adapter` family's pointwise and depthwise layers
//! to `pointwise.rs` and `depthwise.rs`.

use bytemuck::{Pod, Zeroable};

use super::super::{to_u32, Launch, StepIo, Weights};
use super::{check_centred_range, depthwise, pointwise, signed};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::IntWeights;
use crate::plan::{IntKernel, KernelFamily};
use crate::quant::lower::ConvGeometry;
use crate::quant::params::Requant;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "int_conv",
    source: concat!(
        include_str!("../../../../shaders/int/conv_store.wgsl"),
        include_str!("../../../../shaders/int/conv.wgsl"),
    ),
    entry_points: &["conv", "conv_pointwise"],
};

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
    hs_zp: i32,
    hs_out_m: i32,
    hs_out_s: i32,
    hs_relu_m: i32,
    hs_relu_s: i32,
    hs_out_zp: i32,
    hs_lo: i32,
    hs_hi: i32,
    pad: [u32; 1],
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
    hs_zp,
    hs_out_m,
    hs_out_s,
    hs_relu_m,
    hs_relu_s,
    hs_out_zp,
    hs_lo,
    hs_hi,
    pad
});

pub(crate) fn launch(
    io: &StepIo,
    kernel: &IntKernel,
    conv: &ConvGeometry,
    weights: &IntWeights,
    requant: &Requant,
    family: KernelFamily,
) -> Result<Launch> {
    if kernel.inputs[0] != kernel.output || weights.dtype != kernel.output {
        return Err(io.invalid("input, weights and output must share one integer type"));
    }
    let (i, o) = (io.input, io.output);
    let in_per_group = i.c / conv.groups;
    let out_per_group = conv.out_channels / conv.groups;
    let path = ConvPath::of(conv, i.c, in_per_group, out_per_group);
    // Pointwise layers take `conv_pointwise`: an output quad of 4 pixels per thread; on CPU
    // adapters pointwise.wgsl, and depthwise layers depthwise.wgsl.
    let pointwise = path == ConvPath::Dot4
        && (conv.kernel_h, conv.kernel_w, conv.stride, conv.groups) == (1, 1, 1, 1)
        && (conv.padding.top, conv.padding.left) == (0, 0)
        && (i.h, i.w) == (o.h, o.w);
    let params = conv_params(io, kernel, conv, requant, in_per_group)?;
    let cpu_adapter = family == KernelFamily::CpuAdapter;
    let rows_depthwise = path == ConvPath::DepthwiseQuad && depthwise::fits(conv);
    // The f32 kernels' premise: every centred value within ±255.
    if cpu_adapter && (pointwise || rows_depthwise) {
        check_centred_range(io, weights.dtype, requant)?;
    }
    if cpu_adapter && pointwise {
        return pointwise::launch(io, weights, requant, params);
    }
    let mut words = match path {
        ConvPath::DepthwiseQuad => pack_bytes(&tap_major(&weights.values, o.c)),
        ConvPath::ScalarWord => pack_bytes(&quad_interleaved(&weights.values, o.c)),
        _ => pack_bytes(&weights.values),
    };
    let channels = to_u32(words.len(), "weights")?;
    words.extend(channel_records(conv.out_channels, weights, requant));
    if cpu_adapter && rows_depthwise {
        return depthwise::launch(io, conv, words, params.bytes(channels));
    }
    let (entry, threads) = if pointwise {
        let pixels = io.batch * o.h * o.w;
        (
            "conv_pointwise",
            pixels.div_ceil(POINTWISE_PIXELS) * (o.c / 4),
        )
    } else {
        ("conv", io.output_len().div_ceil(4))
    };
    Ok(Launch {
        shader: &SHADER,
        entry,
        constants: vec![("PATH", path as u32)],
        params: params.bytes(channels),
        weights: Weights::Words(words),
        bias: None,
        grid: Grid::Threads(threads as u64),
    })
}

impl ConvParams {
    /// The uniform's bytes, its packed weights taking `channels` words.
    pub(super) fn bytes(self, channels: u32) -> Vec<u8> {
        bytemuck::bytes_of(&ConvParams { channels, ..self }).to_vec()
    }
}

/// The uniform of every integer convolution but `channels`, which depends on the packing.
fn conv_params(
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
        Some(fused) => {
            let h = &fused.hard_swish;
            ConvParams {
                has_hard_swish: 1,
                hs_zp: h.input_zero_point,
                hs_out_m: i32::from(h.output_multiplier),
                hs_out_s: h.output_exponent,
                hs_relu_m: i32::from(h.reluish_multiplier),
                hs_relu_s: h.reluish_exponent,
                hs_out_zp: h.output.zero_point,
                hs_lo: fused.clamp.0,
                hs_hi: fused.clamp.1,
                ..params
            }
        }
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

/// Pixels per thread of `conv_pointwise` (`TILE_PIXELS` in the shader).
pub(crate) const POINTWISE_PIXELS: usize = 4;

/// How the shader runs the inner products (WGSL `PATH`; see `shaders/int/conv.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConvPath {
    /// One output value at a time: any shapes (input quads still four at a time).
    Scalar = 0,
    /// One input value at a time, a word's four outputs at once: output channels per
    /// group in whole quads (the stem).
    ScalarWord = 1,
    /// Packed dot products of channel quads, a word's four outputs at once: input and
    /// output channels per group in whole quads (pointwise layers, most convolutions).
    Dot4 = 2,
    /// Depthwise with multiplier 1 over channel quads, weights tap-major.
    DepthwiseQuad = 3,
}

impl ConvPath {
    fn of(conv: &ConvGeometry, in_c: usize, in_per_group: usize, out_per_group: usize) -> Self {
        let quads = |n: usize| n.is_multiple_of(4);
        if quads(in_c) && quads(in_per_group) && quads(out_per_group) {
            ConvPath::Dot4
        } else if in_per_group == 1 && out_per_group == 1 && quads(conv.out_channels) {
            ConvPath::DepthwiseQuad
        } else if quads(out_per_group) {
            ConvPath::ScalarWord
        } else {
            ConvPath::Scalar
        }
    }
}

/// Depthwise weights `[c][tap]` (OHWI with one input channel) → `[tap][c]`.
fn tap_major(values: &[i32], channels: usize) -> Vec<i32> {
    let taps = values.len() / channels;
    (0..taps)
        .flat_map(|t| (0..channels).map(move |c| values[c * taps + t]))
        .collect()
}

/// Weights `[o][k]` → `[o / 4][k][o % 4]`: once packed, a word holds value `k` of four
/// output channels.
fn quad_interleaved(values: &[i32], channels: usize) -> Vec<i32> {
    let per = values.len() / channels;
    (0..channels / 4)
        .flat_map(|o4| (0..per).flat_map(move |k| (0..4).map(move |lane| (o4 * 4 + lane, k))))
        .map(|(o, k)| values[o * per + k])
        .collect()
}

/// 8-bit values four to a word, value `i` in byte `i % 4` of word `i / 4`.
pub(super) fn pack_bytes(values: &[i32]) -> Vec<u32> {
    values
        .chunks(4)
        .map(|quad| {
            quad.iter()
                .enumerate()
                .fold(0u32, |word, (k, &v)| word | ((v as u32 & 0xff) << (8 * k)))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Padding;

    /// The path of a `k`×`k` convolution of `in_c` → `out_c` channels in `groups` groups.
    fn path(in_c: usize, out_c: usize, groups: usize, k: usize) -> ConvPath {
        let conv = ConvGeometry {
            out_channels: out_c,
            kernel_h: k,
            kernel_w: k,
            stride: 1,
            padding: Padding::default(),
            groups,
        };
        ConvPath::of(&conv, in_c, in_c / groups, out_c / groups)
    }

    #[test]
    fn each_shape_takes_the_widest_path_it_fills() {
        // Pointwise and grouped convolutions over whole quads: packed dot products.
        assert_eq!(path(32, 64, 1, 1), ConvPath::Dot4);
        assert_eq!(path(16, 32, 4, 3), ConvPath::Dot4);
        // Depthwise over channel quads, multiplier 1.
        assert_eq!(path(32, 32, 32, 3), ConvPath::DepthwiseQuad);
        // The stem (3 input channels) and a depthwise multiplier of 4: a word of outputs
        // per input value.
        assert_eq!(path(3, 32, 1, 3), ConvPath::ScalarWord);
        assert_eq!(path(8, 32, 8, 3), ConvPath::ScalarWord);
        // The 1001-way logits conv: input quads, but no whole output word per group.
        assert_eq!(path(1280, 1001, 1, 1), ConvPath::Scalar);
        // Depthwise over 6 channels, multiplier 1: the per-value path.
        assert_eq!(path(6, 6, 6, 3), ConvPath::Scalar);
    }

    /// Value `k` of channels 4..8 lands in word `per + k` (after channels 0..4's `per`).
    #[test]
    fn quad_interleaving_puts_four_channels_values_in_one_word() {
        let (channels, per) = (8, 27);
        let values: Vec<i32> = (0..channels * per).map(|v| v as i32).collect();
        let moved = quad_interleaved(&values, channels);
        assert_eq!(moved.len(), values.len());
        for o in 0..channels {
            for k in 0..per {
                let word = (o / 4) * per + k;
                assert_eq!(moved[word * 4 + o % 4], values[o * per + k], "o {o} k {k}");
            }
        }
    }

    /// Channel `c`'s tap `t` moves from `[c][t]` to `[t][c]`: a tap's channel quad is one
    /// word once packed.
    #[test]
    fn tap_major_puts_each_taps_channels_side_by_side() {
        let (channels, taps) = (8, 9);
        let values: Vec<i32> = (0..channels * taps).map(|v| v as i32).collect();
        let moved = tap_major(&values, channels);
        assert_eq!(moved.len(), values.len());
        for c in 0..channels {
            for t in 0..taps {
                assert_eq!(moved[t * channels + c], values[c * taps + t], "c {c} t {t}");
            }
        }
    }
}
