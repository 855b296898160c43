//! General grouped convolution (`shaders/conv.wgsl`): the stem and any conv that fits
//! no faster kernel. Weights stay in the graph's OHWI layout.

use super::{
    bias_or_zeros, to_u32, Launch, StepIo, Weights, WindowParams, WindowSpec, WindowUniform,
};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile, UNIFORM_WEIGHTS_BYTES};
use crate::graph::Conv2d;
use crate::plan::KernelFamily;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "conv",
    source: include_str!("../../../shaders/conv.wgsl"),
    entry_points: &["conv", "conv4", "conv4_split"],
};

pub(crate) fn launch(io: &StepIo, conv: &Conv2d, family: KernelFamily) -> Result<Launch> {
    check_conv(io, conv)?;
    let mut params = WindowParams {
        ep: io.epilogue,
        win: WindowUniform::new(io, WindowSpec::of_conv(conv, conv.groups))?,
    };
    // Where the output channels are whole vec4s and the weights fit the uniform buffer:
    // one thread per output pixel and all its channels (CPU adapters), or per pixel and
    // channel quad (GPUs).
    let fits_uniform = (conv.weights.len() * size_of::<f32>()) as u64 <= UNIFORM_WEIGHTS_BYTES;
    let (entry, threads, weights) =
        if conv.groups == 1 && io.output.c.is_multiple_of(4) && fits_uniform {
            let pixels = io.output_len() / io.output.c;
            let (entry, threads) = match family {
                KernelFamily::CpuAdapter => ("conv4", pixels),
                KernelFamily::Gpu => ("conv4_split", io.output_len() / 4),
            };
            (entry, threads, Weights::Uniform(pack_weights_by_tap(conv)))
        } else {
            let weights = Weights::Data(conv.weights.clone());
            ("conv", io.output_len(), weights)
        };
    params.win.total = to_u32(threads, "conv threads")?;
    Ok(Launch {
        shader: &SHADER,
        entry,
        constants: Vec::new(),
        params: bytemuck::bytes_of(&params).to_vec(),
        weights,
        bias: Some(bias_or_zeros(&conv.bias, io.output.c)),
        grid: Grid::Threads(threads as u64),
    })
}

/// Rejects convolutions whose weights or groups disagree with the step's shapes, which
/// would otherwise read out of bounds on the GPU.
pub(crate) fn check_conv(io: &StepIo, conv: &Conv2d) -> Result<()> {
    let (cin, cout) = (io.input.c, io.output.c);
    let groups = conv.groups;
    if groups == 0 || cin % groups != 0 || cout % groups != 0 || conv.out_channels != cout {
        return Err(io.invalid(format!(
            "groups {groups} do not fit {cin} -> {cout} channels"
        )));
    }
    let expected = cout * conv.kernel_h * conv.kernel_w * (cin / groups);
    if conv.weights.len() != expected {
        return Err(io.invalid(format!(
            "{} weights, expected {expected}",
            conv.weights.len()
        )));
    }
    if conv.bias.as_ref().is_some_and(|b| b.len() != cout) {
        return Err(io.invalid(format!("bias length differs from {cout} channels")));
    }
    Ok(())
}

/// OHWI `[out][kh][kw][in]` → `[kh][kw][in][out]`, so `conv4` reads 4 output channels of
/// one tap and input channel as a vec4.
fn pack_weights_by_tap(conv: &Conv2d) -> Vec<f32> {
    let out = conv.out_channels;
    let per_filter = conv.weights.len() / out.max(1);
    let mut packed = vec![0.0; conv.weights.len()];
    for (o, filter) in conv.weights.chunks_exact(per_filter).enumerate() {
        for (t, &w) in filter.iter().enumerate() {
            packed[t * out + o] = w;
        }
    }
    packed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Padding;

    /// Weight (o, ky, kx, i) of a 2x3 kernel lands at `((ky * 3 + kx) * in + i) * out + o`.
    #[test]
    fn tap_major_weights_follow_the_conv4_layout() {
        let (out, kh, kw, cin) = (8, 2, 3, 3);
        let conv = Conv2d {
            out_channels: out,
            kernel_h: kh,
            kernel_w: kw,
            stride: 1,
            padding: Padding::default(),
            groups: 1,
            weights: (0..out * kh * kw * cin).map(|v| v as f32).collect(),
            bias: None,
        };
        let packed = pack_weights_by_tap(&conv);
        assert_eq!(packed.len(), conv.weights.len());
        for o in 0..out {
            for t in 0..kh * kw {
                for i in 0..cin {
                    let original = conv.weights[(o * kh * kw + t) * cin + i];
                    assert_eq!(
                        packed[(t * cin + i) * out + o],
                        original,
                        "o {o} t {t} i {i}"
                    );
                }
            }
        }
    }
}
