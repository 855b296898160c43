//! Integer convolution (`shaders/int/conv.wgsl` after `conv_store.wgsl`): weights packed
//! four to a word in the IR's OHWI order (tap-major for the depthwise quad path, four
//! channels' values interleaved for the word-of-outputs path), then five words per output
//! channel (bias, bias with the dot path's zero-point terms, multiplier, shift, weight zero
//! point; `conv_store.rs`). The launch also routes the `cpu-adapter` family's pointwise and
//! depthwise layers to `pointwise.rs` and `depthwise.rs`.

use super::super::{to_u32, Launch, StepIo, Weights};
use super::conv_store::{channel_records, conv_params};
use super::{check_centred_range, depthwise, pointwise};
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
